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

/** One large directory, and as many small ones as there are directory walkers. */
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
    await settled(found);
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
