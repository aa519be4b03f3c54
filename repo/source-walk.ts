/**
 * The archiver's side of the walk worker: listings by directory, as the worker posts
 * them in depth-first byte order. The archiver asks for directories in that same order,
 * so a listing is usually waiting when asked for.
 */
import { Worker } from 'node:worker_threads';
import { DirListing, type ListingMessage } from './dir-listing.js';
import { WALK_SLOTS, WALK_STOP, WALK_TAKEN, type WalkInit, type WalkTotals } from './walk-protocol.js';

/**
 * Entries the walk may post beyond those the archiver has taken. The lead is generous, so
 * that the walk gets far while the key is derived and while the archiver waits for room
 * in its file queue; a listing costs about 100 bytes an entry, so it stays near 10 MB.
 */
const ENTRIES_AHEAD = 100_000;
/** The walk keeps little; a small young generation keeps its garbage small. */
const YOUNG_MB = 2;

export interface WalkOptions {
  excludes: string[];
  /** --iexclude: matched without regard to case. */
  iexcludes?: string[];
  excludeCaches: boolean;
  oneFileSystem: boolean;
  maxFileSize?: number;
}

/**
 * The walk itself failed, or ended without a listing the backup needs: the backup cannot
 * go on, unlike when one directory cannot be read (a listing with an error).
 */
export class WalkFailedError extends Error {
  constructor(message: string) {
    super(`${message}; no snapshot was saved: run the backup again`);
    this.name = 'WalkFailedError';
  }
}

type Reply = ListingMessage | WalkTotals | { op: 'done' };

export class SourceWalk {
  private readonly state = new Int32Array(new SharedArrayBuffer(WALK_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  private readonly workers: Worker[] = [];
  private readonly ready = new Map<string, ListingMessage>();
  private readonly waiters = new Map<string, { resolve: (l: DirListing) => void; reject: (e: Error) => void }>();
  /** Why no more listings will come: the walk failed, or finished without this one. */
  private ended?: WalkFailedError;

  /** `roots` in the order the archiver saves them. */
  constructor(
    private readonly rootPaths: string[],
    private readonly opts: WalkOptions,
    entriesAhead = ENTRIES_AHEAD,
  ) {
    const lister = this.spawn({ roots: rootPaths, ...opts, mode: 'list', shared: this.state.buffer as SharedArrayBuffer, entriesAhead });
    lister.on('message', (m: Reply) => (m.op === 'listing' ? this.arrived(m) : this.end(new WalkFailedError('internal error: the walk did not list a directory the backup needs'))));
    lister.on('error', (err) => this.end(new WalkFailedError(`the walk of the source tree failed: ${err.message}`)));
    lister.on('exit', () => this.end(new WalkFailedError('the walk of the source tree stopped early')));
    // Reads directories just ahead of the lister (see READAHEAD_DIRS); failing only costs speed.
    const ahead = this.spawn({ roots: rootPaths, ...opts, mode: 'readahead', shared: this.state.buffer as SharedArrayBuffer, entriesAhead: 0 });
    ahead.on('error', () => {});
    ahead.unref();
  }

  /**
   * Starts a second walk that only counts, and gives `onTotals` the files and bytes to
   * back up. It runs without a lead, as progress wants them early.
   */
  count(onTotals: (t: WalkTotals) => void) {
    // It posts no listings, so the shared slots never hold it back; only STOP reaches it.
    const counter = this.spawn({ roots: this.rootPaths, ...this.opts, mode: 'count', shared: this.state.buffer as SharedArrayBuffer, entriesAhead: Infinity });
    // A count that fails only costs the ETA.
    counter.on('error', () => {});
    counter.on('message', onTotals);
    counter.unref();
  }

  private spawn(init: WalkInit): Worker {
    const w = new Worker(new URL('./walk-worker.js', import.meta.url), { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB } });
    this.workers.push(w);
    return w;
  }

  /** Listings that have arrived and are not yet taken. */
  get waiting(): number {
    return this.ready.size;
  }

  /** The listing of the roots themselves. */
  roots(): Promise<DirListing> {
    return this.take('');
  }

  list(dir: Buffer): Promise<DirListing> {
    return this.take(dir.toString('latin1'));
  }

  private take(key: string): Promise<DirListing> {
    const m = this.ready.get(key);
    if (m) {
      this.ready.delete(key);
      return Promise.resolve(this.taken(m));
    }
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => this.waiters.set(key, { resolve, reject }));
  }

  private arrived(m: ListingMessage) {
    const w = this.waiters.get(m.dir);
    if (!w) return void this.ready.set(m.dir, m);
    this.waiters.delete(m.dir);
    w.resolve(this.taken(m));
  }

  /** Counts the listing as the walk does, which lets the walk go on. */
  private taken(m: ListingMessage): DirListing {
    Atomics.add(this.state, WALK_TAKEN, m.error === undefined ? m.nameEnds.length + 1 : 1);
    Atomics.notify(this.state, WALK_TAKEN);
    return new DirListing(m);
  }

  /** Nothing more will arrive: whoever still waits, waits in vain. */
  private end(err: WalkFailedError) {
    this.ended ??= err;
    for (const w of this.waiters.values()) w.reject(this.ended);
    this.waiters.clear();
  }

  async stop(): Promise<void> {
    Atomics.store(this.state, WALK_STOP, 1);
    Atomics.notify(this.state, WALK_TAKEN);
    this.end(new WalkFailedError('the walk was stopped'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
