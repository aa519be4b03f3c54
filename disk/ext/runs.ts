/** A file's block mapping as sorted runs of logical blocks, shared by extents and block maps. */
import type { Warn } from '../warnings.js';

export interface Run {
  logical: number;
  physical: number;
  count: number;
  /** Allocated but never written (uninitialized extent): reads as zeros. */
  uninit: boolean;
}

export interface MapContext {
  blocksCount: number;
  readBlock(n: number): Promise<Uint8Array>;
  warn: Warn;
  /** First logical block past the file's size; mapping stops there. */
  logicalLimit: number;
}

/** Collects runs in logical order, merging neighbours that are contiguous on disk too. */
export class RunList {
  readonly runs: Run[] = [];

  push(logical: number, physical: number, count: number, uninit: boolean): void {
    const last = this.runs[this.runs.length - 1];
    if (last && last.uninit === uninit && last.logical + last.count === logical && last.physical + last.count === physical) {
      last.count += count;
    } else {
      this.runs.push({ logical, physical, count, uninit });
    }
  }
}

/** Index of the last run starting at or before `logical`, or -1. */
export function findRun(runs: Run[], logical: number): number {
  let lo = 0;
  let hi = runs.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (runs[mid].logical <= logical) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}
