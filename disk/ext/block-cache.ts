/** Block reads from the source, with a small byte-bounded LRU for metadata blocks. */
import type { ReadAt } from '../source.js';
import { DiskFormatError } from '../types.js';

const CACHE_BYTES = 8 << 20;

export class BlockReader {
  private cache = new Map<number, Uint8Array>();
  private cachedBytes = 0;

  constructor(private src: ReadAt, readonly blockSize: number, readonly blocksCount: number) {}

  /** `count` blocks from `first`, uncached; fails clearly past the file system or source. */
  async read(first: number, count: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(first) || first < 0 || count < 0 || first + count > this.blocksCount) {
      throw new DiskFormatError(`block ${first}${count > 1 ? `+${count}` : ''} lies outside the file system`);
    }
    const length = count * this.blockSize;
    const buf = await this.src.read(first * this.blockSize, length);
    if (buf.length !== length) throw new DiskFormatError(`block ${first} lies past the end of the source`);
    return buf;
  }

  /** One metadata block through the cache. Callers must not modify it. */
  async block(n: number): Promise<Uint8Array> {
    const hit = this.cache.get(n);
    if (hit) {
      this.cache.delete(n);
      this.cache.set(n, hit);
      return hit;
    }
    const buf = await this.read(n, 1);
    this.cache.set(n, buf);
    this.cachedBytes += buf.length;
    for (const [key, value] of this.cache) {
      if (this.cachedBytes <= CACHE_BYTES) break;
      this.cache.delete(key);
      this.cachedBytes -= value.length;
    }
    return buf;
  }
}
