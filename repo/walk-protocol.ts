/** Shared between the archiver (main thread) and the walk worker that lists its source tree. */

export interface WalkInit {
  /** The backup's top-level paths, in the order the archiver saves them. */
  roots: string[];
  excludes: string[];
  iexcludes?: string[];
  excludeCaches: boolean;
  oneFileSystem: boolean;
  /** --exclude-larger-than: regular files above this many bytes are left out. */
  maxFileSize?: number;
  /** 'list' posts every directory's listing; 'count' only posts the totals at the end. */
  mode: 'list' | 'count';
  /** Int32 slots, indexed by WALK_TAKEN and WALK_STOP. */
  shared: SharedArrayBuffer;
  /** How many entries the walk may post beyond those the archiver has taken. */
  entriesAhead: number;
}

/** Files and bytes under the roots, posted by a 'count' walk when it is done. */
export interface WalkTotals {
  op: 'totals';
  files: number;
  bytes: number;
}

/** Entries the archiver has taken, counted as the walk counts what it posts. */
export const WALK_TAKEN = 0;
/** Set to 1 when the backup no longer needs the walk. */
export const WALK_STOP = 1;
export const WALK_SLOTS = 2;
