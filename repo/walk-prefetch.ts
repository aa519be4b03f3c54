/**
 * Runs the prefetch worker beside a backup's walk. The walk calls readdir and lstat
 * synchronously (cheaper than libuv's thread pool), which leaves it waiting on every cold
 * directory and inode; the prefetch worker waits on them first, on another thread. Having
 * seen every entry, it also gives the totals for progress.
 */
import { Worker } from 'node:worker_threads';
import { PREFETCH_DONE, PREFETCH_LISTED, PREFETCH_SLOTS, PREFETCH_STOP, type PrefetchInit, type PrefetchTotals } from './prefetch-protocol.js';

/**
 * Entries the look-ahead may list beyond those the walk has. The walk runs several
 * directories at once and strays from the look-ahead's order, so the lead is generous;
 * the kernel caches a dentry and an inode for each, about 1 KB, so it stays near 100 MB
 * of reclaimable cache. A look-ahead that finishes early exits and frees its memory
 * (about 20 MB for a worker thread): the bench's 67k entries fit in the lead.
 */
const ENTRIES_AHEAD = 100_000;
/** The worker keeps nothing; a small young generation keeps its garbage small. */
const YOUNG_MB = 2;

export class WalkPrefetch {
  private readonly state = new Int32Array(new SharedArrayBuffer(PREFETCH_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  private readonly worker: Worker;

  /**
   * `onTotals` gets the files and bytes to back up once the look-ahead has seen them all;
   * progress wants them early, so a caller that asks for them lifts the lead (as the
   * separate count that this replaced walked unbounded).
   */
  constructor(paths: string[], excludes: string[], oneFileSystem: boolean, onTotals?: (t: PrefetchTotals) => void, entriesAhead = onTotals ? Infinity : ENTRIES_AHEAD) {
    const init: PrefetchInit = { paths, excludes, oneFileSystem, shared: this.state.buffer as SharedArrayBuffer, entriesAhead };
    this.worker = new Worker(new URL('./prefetch-worker.js', import.meta.url), { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB } });
    // A look-ahead that fails only costs speed; the walk reports what it cannot read.
    this.worker.on('error', () => {});
    if (onTotals) this.worker.on('message', onTotals);
    this.worker.unref();
  }

  /** Entries the look-ahead has listed so far. */
  get listed(): number {
    return Atomics.load(this.state, PREFETCH_LISTED);
  }

  /** The walk has read a directory of `entries` entries. */
  dirRead(entries: number): void {
    Atomics.add(this.state, PREFETCH_DONE, entries);
    Atomics.notify(this.state, PREFETCH_DONE);
  }

  async stop(): Promise<void> {
    Atomics.store(this.state, PREFETCH_STOP, 1);
    Atomics.notify(this.state, PREFETCH_DONE);
    await this.worker.terminate();
  }
}
