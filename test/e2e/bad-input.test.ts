import { test } from 'node:test';
import assert from 'node:assert/strict';
import fsSync, { promises as fs } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { cairn, pseudoRandom, repoWithBackup, tempDir } from '../helpers.js';

const env = { CAIRN_PASSWORD: 'pw' };

/** A repository with tiny packs, so each file's blobs sit in packs of their own. */
async function setup() {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await fs.writeFile(path.join(src, 'big.bin'), pseudoRandom(1536 * 1024, 1));
  await fs.writeFile(path.join(src, 'medium.bin'), pseudoRandom(300 * 1024, 2));
  await fs.writeFile(path.join(src, 'small.txt'), 'small\n');
  const { repo, g } = await repoWithBackup(dir, src, env, '4k');
  return { dir, src, repo, g };
}

async function objects(repo: string, type: string): Promise<{ file: string; size: number }[]> {
  const out: { file: string; size: number }[] = [];
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push({ file: p, size: (await fs.stat(p)).size });
    }
  };
  await walk(path.join(repo, type));
  return out;
}

test('a wrong password exits 12 and says what to check', async () => {
  const { g } = await setup();
  const r = await cairn([...g, 'snapshots'], { CAIRN_PASSWORD: 'not it' });
  assert.equal(r.code, 12);
  assert.match(r.stderr, /wrong password/);
});

test('a backup that cannot open its repository stops its walk of the source and exits', { timeout: 120_000 }, async () => {
  const { dir, g } = await setup();
  // The walk starts before the repository opens and runs at most 100,000 entries ahead of
  // the backup. Here it stalls at that lead (a directory of more entries, then another),
  // so if the failed backup left it running, the process would never exit.
  const src = path.join(dir, 'many');
  await fs.mkdir(path.join(src, 'a', 'b'), { recursive: true });
  for (let i = 0; i <= 100_000; i++) fsSync.symlinkSync('b', path.join(src, 'a', `l${i}`));
  const wrong = await cairn([...g, 'backup', src], { CAIRN_PASSWORD: 'not it' }, { timeoutMs: 60_000 });
  assert.equal(wrong.signal, null, 'the backup did not exit');
  assert.equal(wrong.code, 12);
  assert.match(wrong.stderr, /wrong password/);
  const missing = await cairn(['--repo', path.join(dir, 'nothing'), '--cache-dir', dir, 'backup', src], env, { timeoutMs: 60_000 });
  assert.equal(missing.signal, null, 'the backup did not exit');
  assert.equal(missing.code, 10);
});

test('a missing repository exits 10 and suggests init', async () => {
  const dir = await tempDir();
  const r = await cairn(['--repo', path.join(dir, 'nothing'), '--cache-dir', dir, 'snapshots'], env);
  assert.equal(r.code, 10);
  assert.match(r.stderr, /no repository at .*cairn init/);
});

test('a corrupted pack: restore names the damaged file, restores the others, exits non-zero', async () => {
  const { dir, src, repo, g } = await setup();
  // Only big.bin has blobs larger than 400 KiB.
  const big = (await objects(repo, 'data')).filter((o) => o.size > 400 * 1024);
  assert.ok(big.length >= 1);
  for (const o of big) {
    const fh = await fs.open(o.file, 'r+');
    await fh.write(Buffer.from([0x55]), 0, 1, 1000);
    await fh.close();
  }
  const target = path.join(dir, 'out');
  const r = await cairn([...g, 'restore', 'latest', '--target', target], env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot restore .*big\.bin: data\/[0-9a-f]{64} is damaged/);
  assert.deepEqual(await fs.readFile(path.join(target, src, 'medium.bin')), await fs.readFile(path.join(src, 'medium.bin')));
  assert.equal(await fs.readFile(path.join(target, src, 'small.txt'), 'utf8'), 'small\n');
});

test('a truncated pack is named in the error', async () => {
  const { dir, src, repo, g } = await setup();
  const big = (await objects(repo, 'data')).filter((o) => o.size > 400 * 1024);
  for (const o of big) await fs.truncate(o.file, 100);
  const r = await cairn([...g, 'dump', 'latest', path.join(src, 'big.bin')], env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /data\/[0-9a-f]{64} is damaged: truncated/);
  void dir;
});

test('a corrupted index file is named when the cache must read it', async () => {
  const { dir, repo } = await setup();
  const [idx] = await objects(repo, 'index');
  const bytes = await fs.readFile(idx.file);
  bytes[bytes.length - 20] ^= 1;
  await fs.writeFile(idx.file, bytes);
  const r = await cairn(['--repo', repo, '--cache-dir', path.join(dir, 'fresh-cache'), 'ls', 'latest'], env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`index/${path.basename(idx.file)} is damaged: .*Run \`cairn repair index\``));
});

test('a truncated snapshot is named by snapshots and by restore', async () => {
  const { dir, repo, g } = await setup();
  const [snap] = await objects(repo, 'snapshots');
  await fs.truncate(snap.file, 30);
  const id = path.basename(snap.file);
  const list = await cairn([...g, 'snapshots'], env);
  assert.match(list.stderr, new RegExp(`snapshots/${id} is damaged`));
  const r = await cairn([...g, 'restore', id.slice(0, 8), '--target', path.join(dir, 'x')], env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`snapshots/${id} is damaged`));
});

test('running out of disk space during a restore gives a clear error', { skip: process.getuid?.() !== 0 ? 'needs root to mount a small tmpfs' : false }, async () => {
  const { dir, g } = await setup();
  const target = path.join(dir, 'small-disk');
  await fs.mkdir(target);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', target]);
  try {
    const r = await cairn([...g, 'restore', 'latest', '--target', target], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no space left on device while restoring .*free space/);
  } finally {
    execFileSync('umount', [target]);
  }
});
