import { findRun, type DataRun } from './runs.js';
import { ATTR_FLAG_COMPRESSED, ATTR_FLAG_ENCRYPTED, type Attribute } from './record.js';

/** One attribute's content, with the segments of all its extension records joined. */
export interface Stream {
  resident?: Uint8Array;
  runs: DataRun[];
  size: number;
  initializedSize: number;
  compressed: boolean;
  encrypted: boolean;
  /** log2 of clusters per compression unit. */
  compressionUnit: number;
}

/** Joins attribute segments (each covering a VCN range) into one stream; null if none. */
export function joinSegments(segments: Attribute[], warn: (message: string) => void): Stream | null {
  if (segments.length === 0) return null;
  const sorted = [...segments].sort((a, b) => a.startVcn - b.startVcn);
  const first = sorted[0];
  const stream: Stream = {
    runs: [],
    size: first.dataSize,
    initializedSize: first.initializedSize,
    compressed: (first.flags & ATTR_FLAG_COMPRESSED) !== 0 && first.compressionUnit > 0,
    encrypted: (first.flags & ATTR_FLAG_ENCRYPTED) !== 0,
    compressionUnit: first.compressionUnit,
  };
  if (first.value) {
    stream.resident = first.value;
    return stream;
  }
  if (first.startVcn !== 0) warn('attribute does not start at VCN 0');
  let nextVcn = 0;
  for (const seg of sorted) {
    for (const run of seg.runs ?? []) {
      if (run.vcn < nextVcn) {
        warn('attribute segments overlap; later runs ignored');
        return stream;
      }
      stream.runs.push(run);
      nextVcn = run.vcn + run.length;
    }
  }
  return stream;
}

/** The runs' pieces that fall inside [fromVcn, toVcn), in order, cut at the edges. */
export function runsBetween(runs: DataRun[], fromVcn: number, toVcn: number): DataRun[] {
  const out: DataRun[] = [];
  let i = findRun(runs, fromVcn);
  if (i < 0) i = runs.findIndex((r) => r.vcn >= fromVcn);
  if (i < 0) return out;
  for (; i < runs.length && runs[i].vcn < toVcn; i++) {
    const r = runs[i];
    const start = Math.max(r.vcn, fromVcn);
    const end = Math.min(r.vcn + r.length, toVcn);
    if (end <= start) continue;
    out.push({ vcn: start, lcn: r.lcn === null ? null : r.lcn + (start - r.vcn), length: end - start });
  }
  return out;
}
