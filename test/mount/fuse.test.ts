import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execSync, spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { cairn, pseudoRandom, tempDir } from '../helpers.js';
import { makeFixtureTree } from '../e2e/fixture-tree.js';
import { makeDiskImage } from './disk-image.js';
import { requireTool, startCairn } from './long-running.js';

const env = { CAIRN_PASSWORD: 'correct horse' };
const sh = (cmd: string, cwd?: string) => execSync(cmd, { cwd, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 64 << 20 });

function isMounted(mnt: string): boolean {
  return execFileSync('cat', ['/proc/mounts'], { encoding: 'utf8' }).split('\n').some((l) => l.split(' ')[1] === mnt);
}

/**
 * `ls -ln` lines without the block total, and without the entry whose name is not UTF-8
 * (see below). Directory sizes are not backed up (as in restic): they show as 0.
 */
function lsLines(dir: string): string[] {
  return sh(`ls -lnA --time-style=+%s ${JSON.stringify(dir)}`)
    .split('\n')
    .filter((l) => l && !l.startsWith('total') && !l.includes('latin1-'))
    .map((l) => {
      const f = l.split(/ +/);
      if (l.startsWith('d')) f[4] = '0';
      return f.join(' ');
    });
}

test('cairn mount shows every file as it was backed up, refuses writes, and unmounts on SIGTERM', async (t) => {
  assert.equal(process.getuid?.(), 0, 'the FUSE test runs as root (CI does)');
  assert.ok(existsSync('/dev/fuse'), '/dev/fuse is missing: FUSE needs the fuse kernel module');
  requireTool('fusermount3', 'fuse3');
  requireTool('sha256sum', 'coreutils');
  requireTool('cmp', 'diffutils');

  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await makeFixtureTree(src);
  const mnt = path.join(dir, 'mnt');
  await fs.mkdir(mnt);
  const g = ['--repo', path.join(dir, 'repo'), '--cache-dir', path.join(dir, 'cache')];
  assert.equal((await cairn([...g, 'init'], env)).code, 0);
  const b = await cairn([...g, 'backup', '--tag', 'nightly', src], env);
  assert.equal(b.code, 0, b.stderr);
  const img = path.join(dir, 'disk.img');
  await makeDiskImage(img);
  const bi = await cairn([...g, 'backup', '--tag', 'image', '--image', img], env);
  assert.equal(bi.code, 0, bi.stderr);

  const m = await startCairn([...g, 'mount', mnt], env, /mounted at/);
  const ready = performance.now();
  try {
    const snap = path.join(mnt, 'tags', 'nightly', 'latest');
    sh(`ls -l ${snap}/`);
    const firstLs = performance.now() - ready;
    t.diagnostic(`first ls of a snapshot root: ${firstLs.toFixed(0)} ms after the mount was ready`);
    assert.ok(firstLs < 5000, `first ls took ${firstLs} ms`);

    assert.deepEqual(sh(`ls ${mnt}`).split('\n').filter(Boolean), ['hosts', 'ids', 'snapshots', 'tags']);
    assert.equal(sh(`ls ${mnt}/snapshots`).split('\n').filter(Boolean).length, 3, 'two snapshots and latest');
    assert.match(await fs.readlink(path.join(mnt, 'tags', 'nightly', 'latest')), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const inside = path.join(snap, src);

    // Names, modes, owners, sizes, device numbers, times and symlink targets, as ls shows them.
    for (const sub of ['', 'docs', 'docs/deep', 'docs/deep/er']) {
      assert.deepEqual(lsLines(path.join(inside, sub)), lsLines(path.join(src, sub)), `ls -l of ${sub || '/'}`);
    }
    assert.equal(await fs.readlink(path.join(inside, 'dangling')), '/nonexistent/target');
    // Hard links share an inode in the mount as in the source.
    assert.equal((await fs.stat(path.join(inside, 'hardlink'))).ino, (await fs.stat(path.join(inside, 'docs/deep/small.txt'))).ino);
    // fuse-native hands names over as JS strings, so a name that is not UTF-8 shows with U+FFFD.
    assert.equal(await fs.readFile(path.join(inside, 'latin1-\ufffd\ufffd.txt'), 'utf8'), 'non-utf8 name\n');

    const sums = (root: string) => sh(`find . -type f ! -name 'latin1-*' -print0 | sort -z | xargs -0 sha256sum`, root);
    const want = sums(src);
    assert.ok(want.split('\n').length > 8);
    assert.equal(sums(inside), want);
    assert.equal(sh('find . | wc -l', inside), sh('find . | wc -l', src));

    const random = pseudoRandom(3 * 1024 * 1024 + 17, 7);
    const fh = await fs.open(path.join(inside, 'docs/deep/er/random.bin'));
    try {
      for (let i = 0; i < 40; i++) {
        const off = (i * 2_654_435_761) % random.length;
        const len = 1 + ((i * 40_503) % 300_000);
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, off);
        assert.deepEqual(buf.subarray(0, bytesRead), random.subarray(off, off + len), `read ${len} at ${off}`);
      }
    } finally {
      await fh.close();
    }

    // The raw image of an image snapshot, whole and at random offsets.
    const disk = path.join(mnt, 'tags', 'image', 'latest', 'disk.img');
    assert.equal((await fs.stat(disk)).size, (await fs.stat(img)).size);
    assert.equal(spawnSync('cmp', [disk, img]).status, 0, 'cmp disk.img with the original image');
    const original = await fs.readFile(img);
    const dh = await fs.open(disk);
    try {
      for (let i = 0; i < 20; i++) {
        const off = (i * 1_234_567_891) % original.length;
        const buf = Buffer.alloc(65_536);
        const { bytesRead } = await dh.read(buf, 0, buf.length, off);
        assert.deepEqual(buf.subarray(0, bytesRead), original.subarray(off, off + buf.length), `disk.img at ${off}`);
      }
    } finally {
      await dh.close();
    }

    const erofs = (e: NodeJS.ErrnoException) => e.code === 'EROFS';
    await assert.rejects(fs.writeFile(path.join(inside, 'new.txt'), 'x'), erofs);
    await assert.rejects(fs.open(path.join(inside, 'empty'), 'r+'), erofs);
    await assert.rejects(fs.mkdir(path.join(inside, 'newdir')), erofs);
    await assert.rejects(fs.unlink(path.join(inside, 'empty')), erofs);
    await assert.rejects(fs.rename(path.join(inside, 'empty'), path.join(inside, 'moved')), erofs);
    await assert.rejects(fs.chmod(path.join(inside, 'empty'), 0o777), erofs);
    assert.ok(isMounted(mnt));
  } finally {
    const code = await m.stop('SIGTERM');
    assert.equal(code, 0, m.output());
  }
  assert.ok(!isMounted(mnt), `${mnt} is still mounted after SIGTERM`);
  assert.deepEqual(await fs.readdir(mnt), []);
});
