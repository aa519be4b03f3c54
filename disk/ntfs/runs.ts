/** A run of a non-resident attribute: `length` clusters from `vcn`, at `lcn` or sparse (null). */
export interface DataRun {
  vcn: number;
  lcn: number | null;
  length: number;
}

const MAX_RUNS = 1 << 20;

function readLE(b: Uint8Array, o: number, n: number, signed: boolean): number | null {
  if (n <= 6) {
    let small = 0;
    for (let i = n - 1; i >= 0; i--) small = small * 256 + b[o + i];
    return signed && n > 0 && b[o + n - 1] & 0x80 ? small - 2 ** (8 * n) : small;
  }
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[o + i]);
  if (signed && n > 0 && b[o + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;
}

/**
 * Decodes a mapping-pairs array (length, then an LCN delta signed relative to the previous
 * run; no delta = sparse). Stops at the end marker, the buffer end, or the first bad run,
 * which is reported in `error`.
 */
export function parseRuns(b: Uint8Array, start: number, end: number, startVcn: number, totalClusters: number): { runs: DataRun[]; error?: string } {
  const runs: DataRun[] = [];
  let pos = start;
  let vcn = startVcn;
  let lcn = 0;
  while (pos < end && runs.length < MAX_RUNS) {
    const header = b[pos];
    if (header === 0) return { runs };
    const lenBytes = header & 0x0f;
    const offBytes = header >> 4;
    if (lenBytes === 0 || lenBytes > 8 || offBytes > 8 || pos + 1 + lenBytes + offBytes > end) return { runs, error: 'malformed data run' };
    const length = readLE(b, pos + 1, lenBytes, false);
    if (length === null || length <= 0 || length > totalClusters) return { runs, error: 'data run length out of range' };
    if (offBytes === 0) {
      runs.push({ vcn, lcn: null, length });
    } else {
      const delta = readLE(b, pos + 1 + lenBytes, offBytes, true);
      if (delta === null) return { runs, error: 'data run offset out of range' };
      lcn += delta;
      if (lcn < 0 || lcn + length > totalClusters) return { runs, error: `data run at cluster ${lcn} lies outside the volume` };
      runs.push({ vcn, lcn, length });
    }
    vcn += length;
    pos += 1 + lenBytes + offBytes;
  }
  return { runs, error: pos >= end ? 'data runs without end marker' : 'too many data runs' };
}

/** Index of the run holding `vcn` in runs sorted by vcn, or -1. */
export function findRun(runs: DataRun[], vcn: number): number {
  let lo = 0;
  let hi = runs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = runs[mid];
    if (vcn < r.vcn) hi = mid - 1;
    else if (vcn >= r.vcn + r.length) lo = mid + 1;
    else return mid;
  }
  return -1;
}
