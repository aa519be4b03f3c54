/**
 * Little-endian field access for on-disk structures. Every access is bounds-checked and
 * fails with a DiskFormatError, so a parser that trusted a damaged length gets a clear
 * error instead of a RangeError or a silent NaN.
 */
import { DiskFormatError } from './types.js';

function need(buf: Uint8Array, off: number, width: number): void {
  if (!Number.isInteger(off) || off < 0 || off + width > buf.length) {
    throw new DiskFormatError(`structure field at ${off} (+${width}) lies outside its ${buf.length}-byte buffer`);
  }
}

export function u8(buf: Uint8Array, off: number): number {
  need(buf, off, 1);
  return buf[off];
}

export function u16(buf: Uint8Array, off: number): number {
  need(buf, off, 2);
  return buf[off] | (buf[off + 1] << 8);
}

export function u32(buf: Uint8Array, off: number): number {
  need(buf, off, 4);
  return (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16)) + buf[off + 3] * 0x1000000;
}

export function i32(buf: Uint8Array, off: number): number {
  need(buf, off, 4);
  return buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24);
}

/** A 64-bit field as a number, or null when it does not fit a safe integer. */
export function u64(buf: Uint8Array, off: number): number | null {
  const lo = u32(buf, off);
  const hi = u32(buf, off + 4);
  if (hi >= 0x200000) return null;
  return hi * 0x100000000 + lo;
}

/** A sub-view that must lie wholly inside `buf`. */
export function slice(buf: Uint8Array, off: number, length: number): Uint8Array {
  need(buf, off, length);
  return buf.subarray(off, off + length);
}

export function isAllZero(buf: Uint8Array): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}
