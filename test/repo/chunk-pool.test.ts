import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MemoryBackend } from '../../backends/memory.js';
import { ChunkPool, SourceReadError } from '../../repo/chunk-pool.js';
import { Repository } from '../../repo/repository.js';
import { pseudoRandom, tempDir } from '../helpers.js';

const MiB = 1024 * 1024;
/** The uid of the files the tests write. */
const me = process.geteuid!();

it('small files through read workers, large ones streamed, grown, replaced and vanished ones: content reads back byte for byte, or an error', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  const pool = new ChunkPool(repo);
  try {
    assert.equal(pool['workers'].length, 0, 'no worker starts before the first file');
    // Sizes around the read workers' limit (4 MiB) and the whole-file message (1 MiB).
    const sizes = [0, 1, 100_000, MiB, 3 * MiB, 4 * MiB, 4 * MiB + 1, 9 * MiB];
    const files = await Promise.all(
      sizes.map(async (size, i) => {
        const p = path.join(dir, `f${i}`);
        const data = pseudoRandom(size, i + 1);
        await fs.writeFile(p, data);
        return { p, data };
      }),
    );
    // lstat saw 10 bytes, then the file grew: the read worker hands it to a chunk worker.
    const grown = { p: path.join(dir, 'grown'), data: pseudoRandom(2 * MiB, 99) };
    await fs.writeFile(grown.p, grown.data);

    const results = await Promise.all([
      ...files.map((f) => pool.chunkFile(Buffer.from(f.p), f.data.length, me)),
      pool.chunkFile(Buffer.from(grown.p), 10, me),
    ]);
    await repo.flush();
    for (const [i, f] of [...files, grown].entries()) {
      const r = results[i];
      assert.equal(r.size, f.data.length, `${f.p}: size`);
      const parts = await Promise.all(r.content.map((id) => repo.loadBlob(id)));
      assert.ok(Buffer.concat(parts).equals(f.data), `${f.p}: content reads back`);
    }
    assert.ok(results[7].content.length > 1, 'a 9 MiB file is cut into several chunks');

    // Listed as files, replaced before the read: a FIFO must not hang the backup, and a
    // symlink must not be followed. Each goes through a read worker and a chunk worker.
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const link = path.join(dir, 'link');
    await fs.symlink(files[2].p, link);
    for (const size of [5, 5 * MiB]) {
      await assert.rejects(pool.chunkFile(Buffer.from(fifo), size, me), (err: unknown) => err instanceof SourceReadError && /no longer a regular file/.test(err.message));
      await assert.rejects(pool.chunkFile(Buffer.from(link), size, me), (err: unknown) => err instanceof SourceReadError && /replaced by a symbolic link/.test(err.message));
    }

    const missing = path.join(dir, 'missing');
    await assert.rejects(pool.chunkFile(Buffer.from(missing), 5, me), (err: unknown) => err instanceof SourceReadError && /ENOENT/.test(err.message) && err.message.includes(missing));
    await assert.rejects(pool.chunkFile(Buffer.from(missing), 5 * MiB, me), (err: unknown) => err instanceof SourceReadError && /ENOENT/.test(err.message));
  } finally {
    await pool.close();
    await repo.close();
  }
});

it('a second pair of workers starts only when files overlap, and two streams run on two workers', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  const pool = new ChunkPool(repo, 2);
  try {
    const files = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const p = path.join(dir, `f${i}`);
        await fs.writeFile(p, pseudoRandom(10_000, i + 1));
        return p;
      }),
    );
    // One file at a time, as a backup in which few files changed finds them.
    for (const p of files.slice(0, 5)) await pool.chunkFile(Buffer.from(p), 10_000, me);
    assert.equal(pool['workers'].length, 1);
    assert.equal(pool['readers'].length, 1);
    await Promise.all(files.map((p) => pool.chunkFile(Buffer.from(p), 10_000, me)));
    assert.equal(pool['workers'].length, 2);
    assert.equal(pool['readers'].length, 2);
  } finally {
    await pool.close();
  }
  // Image backups feed a few long streams at once: two of them run on two workers.
  const streamPool = new ChunkPool(repo, 2);
  try {
    const streams = [streamPool.chunkStream(), streamPool.chunkStream()];
    assert.deepEqual([...streamPool['tasks'].values()].map((t) => t.worker).sort(), [0, 1]);
    for (const s of streams) await s.write(pseudoRandom(100_000, 7));
    const results = await Promise.all(streams.map((s) => s.end()));
    assert.deepEqual(results[0].content, results[1].content);
    // The same bytes in one message (image backups' small files) give the same chunks.
    const whole = await streamPool.chunkBytes(pseudoRandom(100_000, 7));
    assert.deepEqual(whole.content, results[0].content);
    assert.equal(whole.size, 100_000);
    // Several chunks, from a view of a larger buffer (copied, not transferred).
    const big = pseudoRandom(3 * MiB + 1000, 8);
    const view = big.subarray(1000);
    const cut = await streamPool.chunkBytes(view);
    assert.equal(big.length, 3 * MiB + 1000, 'the caller keeps a view\'s buffer');
    await repo.flush();
    const parts = await Promise.all(cut.content.map((id) => repo.loadBlob(id)));
    assert.ok(parts.length > 1 && Buffer.concat(parts).equals(view));
  } finally {
    await streamPool.close();
  }
});
