/**
 * Plans how to read many blobs from packs with few requests: the blobs of one pack that
 * lie close together are fetched with one ranged read. On S3 a request costs far more
 * than the bytes in a small gap, so reading a little extra beats reading blob by blob.
 */
import { IndexedBlob } from './blob.js';

export interface PackRead {
  pack: string;
  offset: number;
  length: number;
  /** The blobs inside the range, by offset. */
  blobs: IndexedBlob[];
}

export interface PackReadLimits {
  /** Unneeded bytes between two blobs that are still read rather than split into two requests. */
  maxGap: number;
  /** Upper bound of one read (a single larger blob still gets a read of its own), which bounds memory. */
  maxLength: number;
}

export const DEFAULT_PACK_READ_LIMITS: PackReadLimits = { maxGap: 2 << 20, maxLength: 32 << 20 };

/**
 * Groups blobs into reads. Packs keep the order in which their first blob appears in
 * `blobs`, so a restore that lists files in order finishes them roughly in order. Each
 * (pack, offset) is read once even when listed twice.
 */
export function planPackReads(blobs: Iterable<IndexedBlob>, limits: PackReadLimits = DEFAULT_PACK_READ_LIMITS): PackRead[] {
  const byPack = new Map<string, Map<number, IndexedBlob>>();
  for (const b of blobs) {
    let inPack = byPack.get(b.pack);
    if (!inPack) byPack.set(b.pack, (inPack = new Map()));
    if (!inPack.has(b.offset)) inPack.set(b.offset, b);
  }
  const reads: PackRead[] = [];
  for (const [pack, inPack] of byPack) {
    let current: PackRead | undefined;
    for (const b of [...inPack.values()].sort((x, y) => x.offset - y.offset)) {
      const end = b.offset + b.length;
      if (current && b.offset - (current.offset + current.length) <= limits.maxGap && end - current.offset <= limits.maxLength) {
        current.length = Math.max(current.length, end - current.offset);
        current.blobs.push(b);
      } else {
        current = { pack, offset: b.offset, length: b.length, blobs: [b] };
        reads.push(current);
      }
    }
  }
  return reads;
}
