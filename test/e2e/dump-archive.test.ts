import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cairn, cairnStdout, diffDigests, pseudoRandom, tempDir, treeDigest } from '../helpers.js';
import { ext4Image, makeSourceTree } from '../image/fs-images.js';
import { makeFixtureTree } from './fixture-tree.js';

const env = { CAIRN_PASSWORD: 'dump-tar' };
const root = process.getuid?.() === 0;

async function repoOf(dir: string) {
  const g = ['--repo', path.join(dir, 'repo'), '--cache-dir', path.join(dir, 'cache')];
  const init = await cairn([...g, 'init'], env);
  assert.equal(init.code, 0, init.stderr);
  return g;
}

/** Extracts `tar` with GNU tar into a new directory, keeping owners (by number), modes and xattrs. */
async function extract(dir: string, tar: Buffer, name: string): Promise<string> {
  const file = path.join(dir, `${name}.tar`);
  await fs.writeFile(file, tar);
  const out = path.join(dir, name);
  await fs.mkdir(out);
  execFileSync('tar', ['-x', '-p', '--numeric-owner', '--xattrs', '--xattrs-include=*', '-f', file, '-C', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

test('dump of a directory is a tar archive that GNU tar extracts to the same tree: content, modes, owners, times, links, xattrs', async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await makeFixtureTree(src);
  // Beyond ustar's 100-byte fields: a long name, a long path, a long symlink target.
  const longDir = path.join(src, 'a'.repeat(70), 'b'.repeat(70));
  await fs.mkdir(longDir, { recursive: true });
  await fs.writeFile(path.join(longDir, `${'c'.repeat(120)}.bin`), pseudoRandom(70_000, 3));
  await fs.symlink('t'.repeat(150), path.join(src, 'long-target'));
  const g = await repoOf(dir);
  const b = await cairn([...g, 'backup', src], env);
  assert.equal(b.code, 0, b.stderr);

  const tar = await cairnStdout([...g, 'dump', 'latest', src], env);
  assert.equal(tar.length % 512, 0, 'whole blocks');
  const out = await extract(dir, tar, 'out');
  const opts = { times: true, owners: root, xattrs: true };
  assert.deepEqual(diffDigests(await treeDigest(src, opts), await treeDigest(path.join(out, 'src'), opts)), []);
  const ino = async (p: string) => (await fs.stat(path.join(out, 'src', p))).ino;
  assert.equal(await ino('hardlink'), await ino('docs/deep/small.txt'), 'a hard link stays one file');

  // The whole snapshot from /: names from the root down, without the leading slash.
  const all = await cairnStdout([...g, 'dump', 'latest', '/'], env);
  const names = execFileSync('tar', ['-t'], { input: all }).toString().split('\n');
  assert.ok(names.includes(`${src.slice(1)}/docs/deep/small.txt`), names.slice(0, 5).join(' '));

  const missing = await cairn([...g, 'dump', 'latest', path.join(src, 'nowhere')], env);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /is not in the snapshot/);
});

test('dump of a directory inside a disk image snapshot: the files of an ext4 image as a tar archive', async () => {
  const dir = await tempDir();
  const tree = path.join(dir, 'tree');
  await fs.mkdir(tree);
  await makeSourceTree(tree, 0.3, 5);
  const img = path.join(dir, 'disk.img');
  await ext4Image(img, tree, 16 * 1024 * 1024);
  const g = await repoOf(dir);
  const b = await cairn([...g, 'backup', '--image', img], env);
  assert.equal(b.code, 0, b.stderr);
  const out = await extract(dir, await cairnStdout([...g, 'dump', 'latest', '/fs/Users'], env), 'out');
  assert.deepEqual(diffDigests(await treeDigest(path.join(tree, 'Users')), await treeDigest(path.join(out, 'Users'))), []);
});

test('dump --archive zip: unzip checks every CRC and extracts the same files, directories, symlinks and modes', async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await makeFixtureTree(src);
  await fs.writeFile(path.join(src, 'compressible.txt'), 'the same line again\n'.repeat(50_000));
  const g = await repoOf(dir);
  assert.equal((await cairn([...g, 'backup', src], env)).code, 0);
  const zip = await cairnStdout([...g, 'dump', '--archive', 'zip', 'latest', src], env);
  const file = path.join(dir, 'out.zip');
  await fs.writeFile(file, zip);
  assert.match(execFileSync('unzip', ['-t', file]).toString(), /No errors detected/);
  const out = path.join(dir, 'out');
  execFileSync('unzip', ['-q', file, '-d', out]);
  const want = await treeDigest(src, { times: true });
  const got = await treeDigest(path.join(out, 'src'), { times: true });
  // Zip has no FIFOs or device nodes; a hard link comes back as a file of its own. Its
  // names are text: the fixture's name that is not UTF-8 comes back as unzip decodes it.
  for (const [k, v] of want) if (/^(fifo|chardev|blockdev) /.test(v.desc)) want.delete(k);
  const notUtf8 = (k: string) => Buffer.from(k.slice(1), 'base64').toString('latin1').startsWith('latin1-');
  for (const m of [want, got]) for (const k of m.keys()) if (notUtf8(k)) m.delete(k);
  // Zip keeps whole seconds.
  for (const d of [...want.values(), ...got.values()]) if (d.mtimeNs !== undefined) d.mtimeNs -= d.mtimeNs % 1_000_000_000n;
  assert.deepEqual(diffDigests(want, got), []);
  assert.ok(zip.length < 1_000_000 + (await fs.stat(path.join(src, 'docs/deep/er/random.bin'))).size + 2 * 1024 * 1024, `deflated: ${zip.length} bytes`);
});
