/** Arithmetic on sorted lists of byte ranges [offset, offset + length). */
import type { ByteRange } from '../disk/types.js';

/** Sorts and merges overlapping or touching ranges; drops empty ones. */
export function mergeRanges(ranges: ByteRange[]): ByteRange[] {
  const sorted = ranges.filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  const out: ByteRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.offset <= last.offset + last.length) {
      last.length = Math.max(last.length, r.offset + r.length - last.offset);
    } else out.push({ offset: r.offset, length: r.length });
  }
  return out;
}

/** Parts of `a` not covered by `b` (both merged). */
export function subtractRanges(a: ByteRange[], b: ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  let j = 0;
  for (const r of a) {
    let at = r.offset;
    const end = r.offset + r.length;
    while (j < b.length && b[j].offset + b[j].length <= at) j++;
    for (let k = j; k < b.length && b[k].offset < end; k++) {
      if (b[k].offset > at) out.push({ offset: at, length: b[k].offset - at });
      at = Math.max(at, b[k].offset + b[k].length);
    }
    if (at < end) out.push({ offset: at, length: end - at });
  }
  return out;
}

export function intersectRanges(a: ByteRange[], b: ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const from = Math.max(a[i].offset, b[j].offset);
    const to = Math.min(a[i].offset + a[i].length, b[j].offset + b[j].length);
    if (to > from) out.push({ offset: from, length: to - from });
    if (a[i].offset + a[i].length < b[j].offset + b[j].length) i++;
    else j++;
  }
  return out;
}
