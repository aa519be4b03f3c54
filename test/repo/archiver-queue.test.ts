import { it, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MemoryBackend } from '../../backends/memory.js';
import { backup } from '../../repo/archiver.js';
import { DirListing } from '../../repo/dir-listing.js';
import { Repository } from '../../repo/repository.js';
import { tempDir } from '../helpers.js';
import { holdChunking, settled } from './hold.js';

/** One large directory, and a few small ones. */
const LARGE_DIR = 3000;
const DIRS = 8;
const FILES_PER_DIR = 50;

it('the walk stops finding files while chunking stalls, and the backup completes once it resumes', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  const dirs = [...Array.from({ length: DIRS }, (_, d) => ({ name: `d${d}`, files: FILES_PER_DIR })), { name: 'large', files: LARGE_DIR }];
  for (const d of dirs) {
    await fs.mkdir(path.join(src, d.name), { recursive: true });
    for (let f = 0; f < d.files; f++) await fs.writeFile(path.join(src, d.name, `f${f}`), `${d.name}/${f}`);
  }
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });

  // Chunking is held until the walk has had ample time to run ahead of it.
  const chunking = holdChunking();
  // Counts the entries the backup has taken from listings, and passes them through.
  const entry = mock.method(DirListing.prototype, 'entry');
  const found = () => entry.mock.callCount();
  try {
    const done = backup(repo, { paths: [src], parent: null });
    await settled(found, 300, 1);
    const files = LARGE_DIR + DIRS * FILES_PER_DIR;
    assert.ok(found() < 1200, `the walk found ${found()} of ${files} files while none could be chunked`);
    chunking.release();
    const { snapshot } = await done;
    assert.equal(snapshot.summary?.filesNew, files);
  } finally {
    chunking.restore();
    entry.mock.restore();
  }
});

it('the walk goes on past directories whose files have not finished', { timeout: 60_000 }, async () => {
  const HELD_DIRS = 10;
  const ALL_DIRS = 20;
  const PER_DIR = 5;
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  for (let d = 0; d < ALL_DIRS; d++) {
    await fs.mkdir(path.join(src, `d${String(d).padStart(2, '0')}`), { recursive: true });
    for (let f = 0; f < PER_DIR; f++) await fs.writeFile(path.join(src, `d${String(d).padStart(2, '0')}`, `f${f}`), `${d}/${f}`);
  }
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  // The first file of each of the first directories does not finish until released, more
  // directories than the walk once took at a time (8).
  const chunking = holdChunking({
    holds: (p) => {
      const m = /\/d(\d\d)\/f0$/.exec(p);
      return m !== null && Number(m[1]) < HELD_DIRS;
    },
  });
  try {
    const done = backup(repo, { paths: [src], parent: null });
    const meanwhile = await settled(chunking.chunked, 300, 1);
    assert.equal(meanwhile, ALL_DIRS * PER_DIR - HELD_DIRS, 'every file but the held ones was chunked while they were held');
    chunking.release();
    const { snapshot } = await done;
    assert.equal(snapshot.summary?.filesNew, ALL_DIRS * PER_DIR);
  } finally {
    chunking.restore();
  }
});

it('a file that fails while the walk is deep in other directories fails the backup cleanly', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  // Sorted first, so the top directory's walk holds its result while it goes through the
  // rest: more files than the queue takes, all held, so the walk waits in the last ones.
  await fs.writeFile(path.join(src, 'a0'), 'fails');
  for (let d = 0; d < 6; d++) {
    await fs.mkdir(path.join(src, `d${d}`));
    for (let f = 0; f < 100; f++) await fs.writeFile(path.join(src, `d${d}`, `f${f}`), `${d}/${f}`);
  }
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  const chunking = holdChunking({ fails: (p) => (p.endsWith('/a0') ? new Error('simulated repository failure') : undefined) });
  try {
    const done = backup(repo, { paths: [src], parent: null });
    await chunking.failed;
    // Long enough for an unhandled rejection to be reported, which fails this test.
    await new Promise((r) => setTimeout(r, 200));
    chunking.release();
    await assert.rejects(done, /simulated repository failure/);
  } finally {
    chunking.restore();
    await repo.close();
  }
});

it('a backup of several paths walks the next path while files of the one before are unfinished', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  const [first, second] = [path.join(dir, 'first'), path.join(dir, 'second')];
  await fs.mkdir(first);
  await fs.mkdir(second);
  await fs.writeFile(path.join(first, 'held'), 'held');
  for (let f = 0; f < 20; f++) await fs.writeFile(path.join(second, `f${f}`), `${f}`);
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  const chunking = holdChunking({ holds: (p) => p.endsWith('/held') });
  try {
    const done = backup(repo, { paths: [first, second], parent: null });
    assert.equal(await settled(chunking.chunked, 300, 1), 20, 'the second path was backed up while the first held a file');
    chunking.release();
    const { snapshot } = await done;
    assert.equal(snapshot.summary?.filesNew, 21);
  } finally {
    chunking.restore();
    await repo.close();
  }
});
