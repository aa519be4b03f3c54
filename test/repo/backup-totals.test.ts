import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MemoryBackend } from '../../backends/memory.js';
import { backup, BackupProgress } from '../../repo/archiver.js';
import { Repository } from '../../repo/repository.js';
import { tempDir } from '../helpers.js';
import { holdChunking } from './hold.js';

it('a backup counts the files and bytes ahead of it, for progress with an ETA', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  let files = 0;
  let bytes = 0;
  // More entries than the count yields after, in nested directories, with a symlink
  // (counted as neither a file nor bytes).
  for (let d = 0; d < 3; d++) {
    await fs.mkdir(path.join(src, `d${d}`, 'sub'), { recursive: true });
    for (let f = 0; f < 120; f++) {
      const content = 'x'.repeat(d * 1000 + f);
      await fs.writeFile(path.join(src, `d${d}`, f % 2 ? 'sub' : '', `f${f}`), content);
      files++;
      bytes += content.length;
    }
  }
  await fs.symlink('d0', path.join(src, 'link'));
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });

  // Chunking waits until the totals are reported, so the count cannot lose a race with
  // this small backup; they must arrive while nothing has been chunked.
  const chunking = holdChunking();
  let last: BackupProgress | undefined;
  try {
    const done = backup(repo, { paths: [src], parent: null, scanTotals: true, onProgress: (p) => (last = p) });
    while (last?.totalFiles === undefined) await new Promise((r) => setTimeout(r, 20));
    assert.equal(last.files, 0);
    chunking.release();
    await done;
  } finally {
    chunking.restore();
  }
  assert.equal(last?.totalFiles, files);
  assert.equal(last?.totalBytes, bytes);
});
