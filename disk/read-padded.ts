import type { ReadAt } from './source.js';

/**
 * Reads exactly `length` bytes; bytes the source does not have (a truncated image) read
 * as zeros and are reported once per call, so a parser never sees a short buffer.
 */
export async function readPadded(
  src: ReadAt,
  offset: number,
  length: number,
  warn: (message: string) => void,
): Promise<Uint8Array> {
  if (length <= 0) return new Uint8Array(0);
  const got = offset < src.size ? await src.read(offset, Math.min(length, src.size - offset)) : new Uint8Array(0);
  if (got.length === length) return got;
  const out = new Uint8Array(length);
  out.set(got.subarray(0, Math.min(got.length, length)));
  warn(`read of ${length} bytes at offset ${offset} is past the end of the source; read as zeros`);
  return out;
}

/** UTF-8 bytes of a JavaScript string (names are stored UTF-8 in DiskNode). */
export function utf8(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}

/** Names a restore could not use safely; readers skip them with a warning. */
export function isUnsafeName(name: string): boolean {
  return name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0');
}
