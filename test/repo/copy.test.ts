import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { MemoryBackend } from '../../backends/memory.js';
import { assertCompatible, IncompatibleRepositoriesError, initFrom } from '../../repo/copy.js';
import { toHex } from '../../repo/hex.js';
import { Repository } from '../../repo/repository.js';
import { tempDir } from '../helpers.js';

const kdf = { memoryKiB: 64, iterations: 1, parallelism: 1 };

test('initFrom takes the blob-id key, chunker and pack size of the source, and a fresh encryption key', async () => {
  const dir = await tempDir('cairn-copy-');
  const opts = (name: string) => ({ cacheDir: path.join(dir, name), kdf });
  const chunker = { min: 4096, avg: 16384, max: 65536 };
  const src = await Repository.init(new MemoryBackend(), 'a', { ...opts('a'), chunker, packSize: 1 << 20 });
  const same = await initFrom(new MemoryBackend(), 'b', src, opts('b'));
  const packed = await initFrom(new MemoryBackend(), 'c', src, { ...opts('c'), packSize: 1 << 21 });
  const other = await Repository.init(new MemoryBackend(), 'd', { ...opts('d'), chunker });
  const otherChunker = await Repository.init(new MemoryBackend(), 'e', { ...opts('e'), blobIdKey: src.key.blobId });
  try {
    assert.deepEqual(same.key.blobId, src.key.blobId);
    assert.notDeepEqual(same.key.encrypt, src.key.encrypt);
    assert.notEqual(same.config.id, src.config.id);
    assert.deepEqual(same.config.chunker, chunker);
    assert.equal(same.config.packSize, 1 << 20);
    assert.equal(packed.config.packSize, 1 << 21);
    assert.equal(toHex(same.hashBlob(new Uint8Array([1, 2, 3]))), toHex(src.hashBlob(new Uint8Array([1, 2, 3]))));
    assertCompatible(src, same);
    assertCompatible(src, packed);
    assert.throws(() => assertCompatible(src, other), (e: Error) => e instanceof IncompatibleRepositoriesError && /blob-id key/.test(e.message));
    assert.throws(() => assertCompatible(src, otherChunker), (e: Error) => e instanceof IncompatibleRepositoriesError && /chunker parameters/.test(e.message));
  } finally {
    for (const r of [src, same, packed, other, otherChunker]) await r.close();
  }
});
