export interface ChunkerParams {
  min: number;
  avg: number;
  max: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Like restic (512 KiB / 1 MiB / 8 MiB): chunks big enough that a multi-terabyte disk
 * image stays at a few million blobs (index and image map stay manageable), small enough
 * that an edit in a large file only rewrites a megabyte or so.
 */
export const DEFAULT_CHUNKER: ChunkerParams = { min: 512 * KiB, avg: 1 * MiB, max: 8 * MiB };

/**
 * fastcdc-rs panics (an opaque WASM trap) outside its own bounds, so we check first. Our
 * upper bound on `max` is lower than fastcdc's: the streaming window holds several `max`
 * and must fit comfortably in 32-bit WASM memory.
 */
const BOUNDS = {
  min: { lo: 64, hi: 64 * MiB },
  avg: { lo: 256, hi: 64 * MiB },
  max: { lo: 1024, hi: 64 * MiB },
};

export function validateChunkerParams(p: ChunkerParams): void {
  for (const field of ['min', 'avg', 'max'] as const) {
    const v = p[field];
    const { lo, hi } = BOUNDS[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
      throw new Error(`invalid chunker parameter ${field}: ${JSON.stringify(v)} (must be an integer from ${lo} to ${hi})`);
    }
  }
  if (!(p.min <= p.avg && p.avg <= p.max)) {
    throw new Error(`invalid chunker parameters: need min <= avg <= max, got ${p.min}/${p.avg}/${p.max}`);
  }
}
