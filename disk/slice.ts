import type { ReadAt } from './source.js';

/**
 * A window of `src` (a partition). The window's size is clipped to the bytes that exist,
 * so a partition declared past the end of a truncated image reads as shorter rather than
 * as a source that silently returns short reads everywhere.
 */
export function sliceSource(src: ReadAt, start: number, size: number): ReadAt {
  if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(size) || size < 0) {
    throw new Error(`invalid slice: start ${start}, size ${size}`);
  }
  const visible = Math.max(0, Math.min(size, src.size - start));
  return {
    size: visible,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
        throw new Error(`invalid read: offset ${offset}, length ${length}`);
      }
      const n = Math.min(length, visible - offset);
      if (n <= 0) return new Uint8Array(0);
      return src.read(start + offset, n);
    },
  };
}
