import { it, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { statSync } from 'node:fs';
import path from 'node:path';
import { SourceWalk, WalkFailedError } from '../../repo/source-walk.js';
import { backup } from '../../repo/archiver.js';
import { Repository } from '../../repo/repository.js';
import { MemoryBackend } from '../../backends/memory.js';
import { CACHEDIR_TAG_SIGNATURE } from '../../repo/exclude.js';
import { READAHEAD_DIRS } from '../../repo/walk-protocol.js';
import { tempDir } from '../helpers.js';
import { settled } from './hold.js';

const DIRS = 20;
const FILES_PER_DIR = 10;
const LEAD = 15;

it('the walk lists each directory in byte order with stats and link targets, and stays its lead ahead', { timeout: 30_000 }, async () => {
  const src = path.join(await tempDir(), 'src');
  for (let d = 0; d < DIRS; d++) {
    await fs.mkdir(path.join(src, `d${d}`), { recursive: true });
    for (let f = 0; f < FILES_PER_DIR; f++) await fs.writeFile(path.join(src, `d${d}`, `f${f}`), 'x'.repeat(f));
  }
  await fs.mkdir(path.join(src, 'skip'));
  await fs.writeFile(path.join(src, 'skip', 'x'), '');
  await fs.mkdir(path.join(src, 'cache', 'sub'), { recursive: true });
  await fs.writeFile(path.join(src, 'cache', 'CACHEDIR.TAG'), `${CACHEDIR_TAG_SIGNATURE}\n`);
  await fs.writeFile(path.join(src, 'cache', 'junk'), '');
  await fs.symlink('d0', path.join(src, 'link'));

  const walk = new SourceWalk([src], { excludes: ['skip'], excludeCaches: true, oneFileSystem: false }, LEAD);
  try {
    const roots = await walk.roots();
    assert.equal(roots.length, 1);
    assert.equal(roots.entry(0).stat?.ino, (await fs.lstat(src, { bigint: true })).ino);
    // Only the root directory's listing (all its entries) fits in the lead.
    assert.equal(await settled(() => walk.waiting, 200), 1);

    const top = await walk.list(Buffer.from(src));
    const names = Array.from({ length: top.length }, (_, i) => top.entry(i).name.toString());
    const dirs = Array.from({ length: DIRS }, (_, d) => `d${d}`).sort();
    assert.deepEqual(names, ['cache', ...dirs, 'link']);
    const link = top.entry(names.indexOf('link'));
    assert.equal(link.linkTarget?.toString(), 'd0');

    const cache = await walk.list(Buffer.from(path.join(src, 'cache')));
    assert.deepEqual([cache.entry(0).name.toString()], ['CACHEDIR.TAG']);
    assert.equal(cache.length, 1);
    // The walk now waits for the backup to take the directories it listed.
    assert.ok((await settled(() => walk.waiting, 200)) <= 2, `${walk.waiting} listings ahead with a lead of ${LEAD}`);

    for (const d of dirs) {
      const l = await walk.list(Buffer.from(path.join(src, d)));
      assert.equal(l.length, FILES_PER_DIR);
      for (let i = 0; i < l.length; i++) assert.equal(Number(l.entry(i).stat?.size), Number(l.entry(i).name.toString().slice(1)));
    }
    // Everything is taken, so a directory the walk never listed is an error, not a wait.
    await assert.rejects(walk.list(Buffer.from(path.join(src, 'skip'))), /did not list/);
  } finally {
    await walk.stop();
  }
});

it('a directory or an entry the walk cannot read comes with its error', { timeout: 30_000 }, async () => {
  const src = path.join(await tempDir(), 'src');
  await fs.mkdir(src);
  const walk = new SourceWalk([src, path.join(src, 'missing')], { excludes: [], excludeCaches: false, oneFileSystem: false });
  try {
    const roots = await walk.roots();
    assert.equal(roots.entry(0).error, undefined);
    assert.match(String(roots.entry(1).error?.message), /ENOENT/);
    const top = await walk.list(Buffer.from(src));
    assert.equal(top.length, 0);
  } finally {
    await walk.stop();
  }
});

it('a walk that dies fails the backup, rather than leaving directories out', { timeout: 30_000 }, async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(path.join(src, 'sub'), { recursive: true });
  await fs.writeFile(path.join(src, 'sub', 'f'), 'x');
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  const original = SourceWalk.prototype.list;
  // The walk thread "dies" when the backup asks for the subdirectory.
  const list = mock.method(SourceWalk.prototype, 'list', function (this: SourceWalk, d: Buffer) {
    return d.toString().endsWith('/sub') ? Promise.reject(new WalkFailedError('the walk of the source tree stopped early')) : original.call(this, d);
  });
  try {
    await assert.rejects(backup(repo, { paths: [src], parent: null }), WalkFailedError);
  } finally {
    list.mock.restore();
  }
});

/** Whether reading a directory has moved its access time past its modification time. */
function wasRead(dir: string): boolean {
  const st = statSync(dir, { bigint: true });
  return st.atimeNs > st.mtimeNs;
}

/** The tests below see which directories were read by their access times (relatime). */
async function assertReadsMoveAccessTimes(where: string): Promise<void> {
  const probe = path.join(where, 'probe');
  await fs.mkdir(probe);
  await new Promise((r) => setTimeout(r, 50));
  await fs.readdir(probe);
  assert.ok(wasRead(probe), 'this test needs a file system that moves access times on reading (relatime)');
}

it('directories are read ahead of the walk, at most READAHEAD_DIRS of them', { timeout: 60_000 }, async () => {
  const src = path.join(await tempDir(), 'src');
  const DIRS_HERE = READAHEAD_DIRS + 500;
  const names = Array.from({ length: DIRS_HERE }, (_, d) => `d${String(d).padStart(5, '0')}`);
  for (const n of names) await fs.mkdir(path.join(src, n), { recursive: true });
  // Reading a directory moves its access time past its modification time (relatime) once;
  // the clock must move on first.
  await new Promise((r) => setTimeout(r, 50));
  const read = () => names.filter((d) => wasRead(path.join(src, d))).length;
  assert.equal(read(), 0);
  await assertReadsMoveAccessTimes(src);

  // A lead of one entry: the walk lists the roots and src, and waits for the backup, which
  // takes nothing.
  const walk = new SourceWalk([src], { excludes: [], excludeCaches: false, oneFileSystem: false }, 1);
  try {
    await walk.roots();
    const ahead = await settled(read, 300, 1);
    // src's first subdirectory is read by both walks once the list walk takes src.
    assert.ok(ahead >= READAHEAD_DIRS - 10 && ahead <= READAHEAD_DIRS + 10, `${ahead} directories read ahead while the walk listed 1`);
    // As the backup takes listings, the read-ahead moves on with the walk.
    await walk.list(Buffer.from(src));
    for (const n of names.slice(0, 200)) await walk.list(Buffer.from(path.join(src, n)));
    assert.ok((await settled(read, 300)) > ahead, 'the read-ahead went on');
  } finally {
    await walk.stop();
  }
});

it('with --exclude-caches, the read-ahead stays out of a tagged directory, as the walk does', async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  const below = Array.from({ length: 20 }, (_, i) => path.join(src, 'cache', `d${i}`));
  for (const d of below) await fs.mkdir(d, { recursive: true });
  await fs.writeFile(path.join(src, 'cache', 'CACHEDIR.TAG'), `${CACHEDIR_TAG_SIGNATURE}\n`);
  await fs.mkdir(path.join(src, 'kept'));
  await new Promise((r) => setTimeout(r, 50));
  await assertReadsMoveAccessTimes(dir);
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache-dir'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  try {
    await backup(repo, { paths: [src], parent: null, excludeCaches: true });
    assert.ok(wasRead(path.join(src, 'kept')), 'the walk read the directory it keeps');
    assert.deepEqual(below.filter(wasRead), [], 'nothing below the tagged directory was read');
  } finally {
    await repo.close();
  }
});
