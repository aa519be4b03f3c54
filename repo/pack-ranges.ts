/**
 * Reading many blobs of a pack as a few ranged reads instead of one read per blob: the
 * plan restore and copy share. From S3 each read is a GET, paid for and waited on.
 */
import type { BlobEntry, IndexedBlob } from './blob.js';

/** A gap up to this size inside a pack is read and thrown away rather than split into two reads. */
const MAX_GAP = 1024 * 1024;
/** Reads stay this small (unless one blob is larger) so that the ranges in flight stay few megabytes. */
const MAX_RANGE = 4 * 1024 * 1024;

/** One read: bytes [start, end) of the pack hold sorted[first .. first + count). */
export interface PackRange {
  start: number;
  end: number;
  first: number;
  count: number;
}

/** Groups blobs sorted by offset into reads of up to MAX_RANGE, merging across gaps up to MAX_GAP. */
export function packRanges(sorted: Pick<BlobEntry, 'offset' | 'length'>[]): PackRange[] {
  const out: PackRange[] = [];
  sorted.forEach((e, i) => {
    const last = out[out.length - 1];
    if (last && e.offset - last.end <= MAX_GAP && e.offset + e.length - last.start <= MAX_RANGE) {
      last.end = Math.max(last.end, e.offset + e.length);
      last.count++;
    } else {
      out.push({ start: e.offset, end: e.offset + e.length, first: i, count: 1 });
    }
  });
  return out;
}

/**
 * The longest run of `entries[i..]`, taken in the order given (a file's blobs, file after
 * file), that one read covers: the same pack, within MAX_RANGE bytes. Chunk workers store
 * neighbouring files in the order they finish, so offsets need not rise.
 */
export function readRun(entries: Pick<IndexedBlob, 'pack' | 'offset' | 'length'>[], i: number): { count: number; start: number; end: number } {
  const first = entries[i];
  let start = first.offset;
  let end = first.offset + first.length;
  let j = i + 1;
  for (; j < entries.length; j++) {
    const e = entries[j];
    const s = Math.min(start, e.offset);
    const t = Math.max(end, e.offset + e.length);
    if (e.pack !== first.pack || t - s > MAX_RANGE) break;
    start = s;
    end = t;
  }
  return { count: j - i, start, end };
}
