/**
 * Zero detection, used to store runs of zeros in disk images as holes instead of data.
 * Comparisons go through Buffer.compare (memcmp in C++), far faster than a JS loop.
 */

const ZERO_SLICE = 64 * 1024;
const ZEROS = Buffer.alloc(ZERO_SLICE);

function bufferView(data: Uint8Array, start: number, end: number): Buffer {
  return Buffer.from(data.buffer, data.byteOffset + start, end - start);
}

function rangeIsZero(data: Uint8Array, start: number, end: number): boolean {
  for (let off = start; off < end; off += ZERO_SLICE) {
    const n = Math.min(ZERO_SLICE, end - off);
    // A cheap first-byte test rejects most non-zero data before building a view.
    if (data[off] !== 0) return false;
    if (Buffer.compare(bufferView(data, off, off + n), ZEROS.subarray(0, n)) !== 0) return false;
  }
  return true;
}

export function isAllZero(data: Uint8Array): boolean {
  return rangeIsZero(data, 0, data.length);
}

/** Run boundaries fall on multiples of this, counted from the start of `data`. */
export const ZERO_RUN_ALIGN = 4096;

/**
 * Runs of zeros of at least `minRun` bytes, in order. Only whole 4 KiB blocks (counted
 * from the start of `data`, plus a shorter last block at the end of `data`) are
 * considered, so zeros in a partly-zero block are not reported: callers should pass
 * block-aligned buffers, which disk images naturally are. One pass, O(length).
 */
export function zeroRuns(data: Uint8Array, minRun: number): Array<{ offset: number; length: number }> {
  if (!Number.isInteger(minRun) || minRun < 1) throw new RangeError(`zeroRuns: minRun must be a positive integer, got ${minRun}`);
  const runs: Array<{ offset: number; length: number }> = [];
  let runStart = -1;
  const close = (end: number): void => {
    if (runStart >= 0 && end - runStart >= minRun) runs.push({ offset: runStart, length: end - runStart });
    runStart = -1;
  };
  for (let off = 0; off < data.length; off += ZERO_RUN_ALIGN) {
    const end = Math.min(off + ZERO_RUN_ALIGN, data.length);
    if (rangeIsZero(data, off, end)) {
      if (runStart < 0) runStart = off;
    } else {
      close(off);
    }
  }
  close(data.length);
  return runs;
}
