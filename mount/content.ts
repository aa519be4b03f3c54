/**
 * Random access into a file's content (an ordered list of blobs): a read at an offset
 * fetches only the blobs that cover it, through a shared LRU blob cache.
 */
import { fromHex } from '../repo/hex.js';
import { Repository } from '../repo/repository.js';
import { LruCache } from './lru.js';

export class BlobStore {
  private readonly cache: LruCache<string, Uint8Array>;

  constructor(
    private readonly repo: Repository,
    cacheBytes: number,
  ) {
    this.cache = new LruCache(cacheBytes, (b) => b.length);
  }

  load(id: string): Promise<Uint8Array> {
    return this.cache.get(id, () => this.repo.loadBlob(id));
  }

  isCached(id: string): boolean {
    return this.cache.has(id);
  }

  /** Start offset of each blob, plus the total length at the end (from the index's raw lengths). */
  async offsets(content: string[]): Promise<number[]> {
    const starts = new Array<number>(content.length + 1);
    starts[0] = 0;
    const batch = 1000;
    for (let i = 0; i < content.length; i += batch) {
      const ids = content.slice(i, i + batch);
      const entries = await this.repo.index.lookupMany(ids.map((id) => fromHex(id)));
      entries.forEach((e, j) => {
        if (!e) throw new Error(`blob ${ids[j]} is not in the index (missing): run \`cairn check\``);
        starts[i + j + 1] = starts[i + j] + e.rawLength;
      });
    }
    return starts;
  }
}

/** Index of the blob that holds byte `offset`: the last start <= offset (starts is ascending). */
export function blobAt(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Which blobs a read of [offset, offset+length) needs, clipped to the content's end.
 * `undefined` when the read starts at or past the end.
 */
export function blobSpan(starts: number[], offset: number, length: number): { first: number; last: number; end: number } | undefined {
  const total = starts[starts.length - 1];
  const end = Math.min(total, offset + length);
  if (offset >= end) return undefined;
  return { first: blobAt(starts, offset), last: blobAt(starts, end - 1), end };
}

/**
 * Reads a byte range of a file (read-only bytes). `readAhead` blobs after the range are fetched in the
 * background into the cache, so a sequential reader finds them there.
 */
export async function readContent(store: BlobStore, content: string[], starts: number[], offset: number, length: number, readAhead = 0): Promise<Buffer> {
  const span = blobSpan(starts, offset, length);
  if (!span) return Buffer.alloc(0);
  for (let k = span.last + 1; k <= Math.min(content.length - 1, span.last + readAhead); k++) {
    if (!store.isCached(content[k])) store.load(content[k]).catch(() => {});
  }
  const blobs = await Promise.all(content.slice(span.first, span.last + 1).map((id) => store.load(id)));
  blobs.forEach((b, i) => {
    const k = span.first + i;
    if (b.length !== starts[k + 1] - starts[k]) throw new Error(`blob ${content[k]} has ${b.length} bytes, the index says ${starts[k + 1] - starts[k]}`);
  });
  if (blobs.length === 1) {
    // Most reads fall inside one blob: a view of the cached blob, not a copy, so callers
    // must not write into what they get (FUSE copies it out, WebDAV sends it).
    const b = blobs[0];
    return Buffer.from(b.buffer, b.byteOffset + offset - starts[span.first], span.end - offset);
  }
  const out = Buffer.allocUnsafe(span.end - offset);
  let pos = 0;
  blobs.forEach((b, i) => {
    const k = span.first + i;
    const from = Math.max(offset, starts[k]) - starts[k];
    const to = Math.min(span.end, starts[k + 1]) - starts[k];
    out.set(b.subarray(from, to), pos);
    pos += to - from;
  });
  return out;
}
