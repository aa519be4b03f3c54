import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cairn, diffDigests, pseudoRandom, tempDir, treeDigest } from '../helpers.js';
import { makeFixtureTree } from './fixture-tree.js';

const env = { CAIRN_PASSWORD: 'overwrite' };

/** A backed-up tree with three plain files beside the fixture's special cases, restored once. */
async function restoredOnce() {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await makeFixtureTree(src);
  await fs.mkdir(path.join(src, 'plain'));
  for (const [name, seed] of [['same', 1], ['edited', 2], ['touched', 3], ['gone', 4]] as const) {
    await fs.writeFile(path.join(src, 'plain', name), pseudoRandom(20_000, seed));
  }
  const g = ['--repo', path.join(dir, 'repo'), '--cache-dir', path.join(dir, 'cache')];
  const run = async (args: string[], code = 0) => {
    const r = await cairn([...g, ...args], env);
    assert.equal(r.code, code, `cairn ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  await run(['init']);
  await run(['backup', src]);
  const target = path.join(dir, 'out');
  await run(['restore', 'latest', '--target', target]);
  const out = path.join(target, src);
  const at = (name: string) => path.join(out, 'plain', name);
  const ino = async (name: string) => (await fs.lstat(at(name))).ino;
  // Changes since the restore: new content of another size; the same content with a new
  // mtime; a file deleted; files and a directory the snapshot does not have.
  await fs.writeFile(at('edited'), 'edited since');
  const later = new Date(Date.now() + 3600_000);
  await fs.utimes(at('touched'), later, later);
  await fs.rm(at('gone'));
  await fs.writeFile(at('extra'), 'not in the snapshot');
  await fs.mkdir(path.join(out, 'extra-dir', 'deeper'), { recursive: true });
  await fs.writeFile(path.join(out, 'extra-dir', 'deeper', 'f'), 'x');
  // A second name for each file keeps its inode allocated, so a file written again gets
  // another inode number (a freed one would be handed out again at once).
  const held = path.join(dir, 'held');
  await fs.mkdir(held);
  for (const name of ['same', 'edited', 'touched']) await fs.link(at(name), path.join(held, name));
  const inodes = { same: await ino('same'), edited: await ino('edited'), touched: await ino('touched') };
  return { src, out, target, run, at, ino, inodes };
}

const full = { times: true, owners: process.getuid?.() === 0 };

test('--overwrite if-changed rewrites only what differs from the snapshot, and --delete removes what it lacks', async () => {
  const t = await restoredOnce();
  const r = await t.run(['restore', 'latest', '--target', t.target, '--overwrite', 'if-changed', '--delete', '--json']);
  const summary = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((m) => m.message_type === 'summary');
  assert.equal(await t.ino('same'), t.inodes.same, 'an unchanged file is left in place');
  assert.notEqual(await t.ino('edited'), t.inodes.edited);
  assert.notEqual(await t.ino('touched'), t.inodes.touched, 'same size, other mtime: written again');
  assert.ok(summary.files_skipped > 0);
  assert.equal(summary.entries_deleted, 2, 'plain/extra and extra-dir (once, with what it holds)');
  // The target is now the snapshot, byte for byte, with metadata.
  assert.deepEqual(diffDigests(await treeDigest(t.src, full), await treeDigest(t.out, full)), []);
});

test('--overwrite never and if-newer leave existing files; always (the default) replaces them all', async () => {
  const t = await restoredOnce();
  await t.run(['restore', 'latest', '--target', t.target, '--overwrite', 'never']);
  assert.equal(await fs.readFile(t.at('edited'), 'utf8'), 'edited since');
  assert.equal(await t.ino('same'), t.inodes.same);
  assert.deepEqual(await fs.readFile(t.at('gone')), pseudoRandom(20_000, 4), 'a missing file is restored');
  assert.equal(await fs.readFile(t.at('extra'), 'utf8'), 'not in the snapshot', 'nothing is deleted without --delete');

  // if-newer: 'touched' is newer than the snapshot's copy and stays; 'edited', made older, is replaced.
  const old = new Date('2001-01-01T00:00:00Z');
  await fs.utimes(t.at('edited'), old, old);
  await t.run(['restore', 'latest', '--target', t.target, '--overwrite', 'if-newer']);
  assert.deepEqual(await fs.readFile(t.at('edited')), pseudoRandom(20_000, 2));
  assert.equal(await t.ino('touched'), t.inodes.touched);
  assert.equal(await t.ino('same'), t.inodes.same, 'same mtime: not newer');

  await t.run(['restore', 'latest', '--target', t.target]);
  assert.notEqual(await t.ino('same'), t.inodes.same);
  assert.notEqual(await t.ino('touched'), t.inodes.touched);
});

test('--delete refuses include and exclude patterns, and a single file', async () => {
  const t = await restoredOnce();
  const a = await t.run(['restore', 'latest', '--target', t.target, '--delete', '--include', '/x'], 1);
  assert.match(a.stderr, /--delete .* cannot be combined with --include or --exclude/);
  const b = await t.run(['restore', `latest:${t.src}/plain/same`, '--target', path.join(t.target, 'one'), '--delete'], 1);
  assert.match(b.stderr, /--delete .* needs a whole directory/);
  assert.equal(await fs.readFile(t.at('extra'), 'utf8'), 'not in the snapshot');
});
