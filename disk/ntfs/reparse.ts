import { u16, u32, utf16 } from './bytes.js';

const TAG_SYMLINK = 0xa000000c;
const TAG_MOUNT_POINT = 0xa0000003;
const SYMLINK_RELATIVE = 0x1;

export function isLinkReparse(v: Uint8Array | undefined): boolean {
  if (!v || v.length < 8) return false;
  const tag = u32(v, 0);
  return tag === TAG_SYMLINK || tag === TAG_MOUNT_POINT;
}

/**
 * The target of a symlink or junction reparse point, with '/' separators. Absolute
 * targets keep their Windows form (e.g. "C:/dir"): they cannot be resolved on another
 * host anyway. Returns null when the buffer is malformed.
 */
export function reparseTarget(v: Uint8Array): string | null {
  const tag = u32(v, 0);
  const pathBuffer = tag === TAG_SYMLINK ? 20 : 16;
  const subOffset = u16(v, 8);
  const subLength = u16(v, 10);
  const printOffset = u16(v, 12);
  const printLength = u16(v, 14);
  const relative = tag === TAG_SYMLINK && (u32(v, 16) & SYMLINK_RELATIVE) !== 0;
  const pick = printLength > 0 && !relative ? [printOffset, printLength] : [subOffset, subLength];
  const start = pathBuffer + pick[0];
  if (start + pick[1] > v.length || pick[1] === 0 || pick[1] % 2 !== 0) return null;
  let target = utf16(v, start, pick[1] / 2).replace(/\\/g, '/');
  if (target.startsWith('/??/')) target = target.slice(4);
  return target;
}
