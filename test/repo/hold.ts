/** Shared by the walk's tests: stalling chunking, and waiting for a counter to settle. */
import { ChunkPool, ChunkResult } from '../../repo/chunk-pool.js';

/** Holds every file's chunking until release(); restore() puts chunking back as it was. */
export function holdChunking(): { release: () => void; restore: () => void } {
  const original = ChunkPool.prototype.chunkFile;
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  ChunkPool.prototype.chunkFile = async function (this: ChunkPool, p: Uint8Array, size: number, owner: number): Promise<ChunkResult> {
    await held;
    return original.call(this, p, size, owner);
  };
  return {
    release,
    restore: () => {
      ChunkPool.prototype.chunkFile = original;
      release();
    },
  };
}

/** Resolves with read()'s value once it is the same twice, `ms` apart. */
export async function settled(read: () => number, ms = 300): Promise<number> {
  let seen = -1;
  while (seen !== read()) {
    seen = read();
    await new Promise((r) => setTimeout(r, ms));
  }
  return seen;
}
