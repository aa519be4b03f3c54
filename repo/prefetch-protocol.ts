/** Shared between the archiver and its prefetch worker. */

export interface PrefetchInit {
  paths: string[];
  excludes: string[];
  oneFileSystem: boolean;
  /** Int32 slots, indexed by PREFETCH_DONE, PREFETCH_STOP and PREFETCH_LISTED. */
  shared: SharedArrayBuffer;
  /** How many directory entries the prefetch walk may list beyond those the archiver has. */
  entriesAhead: number;
}

/** What the prefetch walk found, posted when it has walked everything. */
export interface PrefetchTotals {
  files: number;
  bytes: number;
}

/** Directory entries the archiver has listed. */
export const PREFETCH_DONE = 0;
/** Set to 1 when the backup no longer needs the prefetch walk. */
export const PREFETCH_STOP = 1;
/** Directory entries the prefetch walk has listed (it sets this; the archiver only reads it). */
export const PREFETCH_LISTED = 2;
export const PREFETCH_SLOTS = 3;
