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
  /**
   * 'list' posts every directory's listing; 'count' only posts the totals at the end;
   * 'readahead' only reads directories, a little ahead of the 'list' walk.
   */
  mode: 'list' | 'count' | 'readahead';
  /** Int32 slots, indexed by the WALK_ constants. */
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
/** Directories the 'list' walk has read, which the 'readahead' walk keeps ahead of. */
export const WALK_LISTED = 2;
export const WALK_SLOTS = 3;

/**
 * How far the 'readahead' walk may get ahead of the 'list' walk, in directories. A cold
 * readdir sleeps on the disk, and where every core is busy (as in a backup) each wake-up
 * then waits for one too: listing the bench tree took 1.7-1.9 s beside two busy loops,
 * against 1.0-1.1 s alone. With a thread reading the directories just before, the list
 * walk's readdir finds them cached: 1.1-1.5 s beside the busy loops, 0.75-0.85 s alone.
 * Bounded, so that on a large tree what it reads is still cached when the walk gets there.
 */
export const READAHEAD_DIRS = 1024;
