/** Image backups through the library (no CLI), over a counting in-memory backend. */
import path from 'node:path';
import { MemoryBackend } from '../../backends/memory.js';
import type { Handle } from '../../backends/backend.js';
import { openFileSource } from '../../disk/file-source.js';
import { backupImage, ImageBackupOptions } from '../../repo/image-backup.js';
import { Repository } from '../../repo/repository.js';

/** Counts the bytes loaded from data packs, to see what a read costs. */
export class CountingBackend extends MemoryBackend {
  loadedBytes = 0;
  override async load(h: Handle, offset?: number, length?: number): Promise<Uint8Array> {
    const b = await super.load(h, offset, length);
    if (h.type === 'data') this.loadedBytes += b.length;
    return b;
  }
}

export async function memoryRepo(dir: string): Promise<{ repo: Repository; backend: CountingBackend }> {
  const backend = new CountingBackend();
  const repo = await Repository.init(backend, 'pw', { cacheDir: path.join(dir, `cache-${Math.random().toString(36).slice(2)}`), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  return { repo, backend };
}

export async function backupImageFile(repo: Repository, file: string, opts: Partial<ImageBackupOptions> = {}) {
  const src = await openFileSource(file);
  try {
    return await backupImage(repo, src, { sourceName: file, ...opts });
  } finally {
    await src.close();
  }
}
