/** Shared by the walk's tests: stalling chunking, and waiting for a counter to settle. */
import { ChunkPool, ChunkResult } from '../../repo/chunk-pool.js';

export interface HoldOptions {
  /** The files (by path) whose chunking waits for release(); every file without it. */
  holds?: (path: string) => boolean;
  /** The files whose chunking throws this error at once instead. */
  fails?: (path: string) => Error | undefined;
}

export interface Hold {
  release: () => void;
  /** Puts chunking back as it was, and releases what waits. */
  restore: () => void;
  /** Files chunked so far. */
  chunked: () => number;
  /** Resolves after the first file made to fail has failed. */
  failed: Promise<void>;
}

export function holdChunking({ holds = () => true, fails = () => undefined }: HoldOptions = {}): Hold {
  const original = ChunkPool.prototype.chunkFile;
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let signalFailed!: () => void;
  const failed = new Promise<void>((r) => (signalFailed = r));
  let chunked = 0;
  ChunkPool.prototype.chunkFile = async function (this: ChunkPool, p: Buffer, size: number, owner: number): Promise<ChunkResult> {
    const name = p.toString();
    const error = fails(name);
    if (error) {
      setImmediate(signalFailed);
      throw error;
    }
    if (holds(name)) await held;
    const r = await original.call(this, p, size, owner);
    chunked++;
    return r;
  };
  return {
    release,
    restore: () => {
      ChunkPool.prototype.chunkFile = original;
      release();
    },
    chunked: () => chunked,
    failed,
  };
}

/**
 * Resolves with read()'s value once it is the same twice, `ms` apart, and at least `min`
 * (on a loaded machine, threads may take longer than `ms` to start at all).
 */
export async function settled(read: () => number, ms = 300, min = 0): Promise<number> {
  let seen = -1;
  while (seen !== read() || seen < min) {
    seen = read();
    await new Promise((r) => setTimeout(r, ms));
  }
  return seen;
}
