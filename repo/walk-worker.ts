/**
 * Worker thread that walks the backup's source tree: it reads each directory, lstats its
 * entries and reads symlink targets, and posts the listing to the archiver, at most
 * `entriesAhead` entries ahead of what the archiver has taken. The archiver makes no
 * metadata calls of its own, so cold directories and inodes hold up this thread, not the
 * one that writes trees; and each entry is read once, not once here and once there.
 * In 'count' mode it keeps nothing and only posts the files and bytes it found, for the
 * ETA of progress. In 'readahead' mode it only reads directories, just ahead of the
 * 'list' walk, so that the list walk finds them cached (READAHEAD_DIRS).
 */
import { parentPort, workerData } from 'node:worker_threads';
import fs from 'node:fs';
import { CACHEDIR_TAG_SIGNATURE, compileExcludesBothCases } from './exclude.js';
import { joinPath } from './path-bytes.js';
import { describeError } from './chunk-protocol.js';
import { failedListing, ListingBuilder } from './dir-listing.js';
import { READAHEAD_DIRS, type WalkInit, type WalkTotals, WALK_LISTED, WALK_STOP, WALK_TAKEN } from './walk-protocol.js';

const init = workerData as WalkInit;
const state = new Int32Array(init.shared);
const excluded = compileExcludesBothCases(init.excludes, init.iexcludes ?? []);
const totals: WalkTotals = { op: 'totals', files: 0, bytes: 0 };
let posted = 0;
const maxFileSize = init.maxFileSize === undefined ? undefined : BigInt(init.maxFileSize);
/** Under --one-file-system, the devices of the roots: the walk stays on these. */
let devices: Set<bigint> | undefined;

/** Directories the 'readahead' walk has read. */
let readAhead = 0;

/** Waits while more than entriesAhead posted entries are not yet taken. */
function keepPace(): boolean {
  for (;;) {
    if (Atomics.load(state, WALK_STOP)) return false;
    const taken = Atomics.load(state, WALK_TAKEN);
    if (posted - taken <= init.entriesAhead) return true;
    Atomics.wait(state, WALK_TAKEN, taken, 100);
  }
}

/** A 'count' walk keeps no listings, so it has none to post. */
function newListing(): ListingBuilder | null {
  return init.mode === 'list' ? new ListingBuilder() : null;
}

function post(dir: Buffer | string, listing: ListingBuilder | string | null) {
  if (listing === null) return;
  const key = typeof dir === 'string' ? dir : dir.toString('latin1');
  if (typeof listing === 'string') {
    parentPort!.postMessage(failedListing(key, listing));
    posted += 1;
    return;
  }
  // An empty directory counts too, so that the lead also bounds listings.
  posted += listing.length + 1;
  const { message, transfer } = listing.finish(key);
  parentPort!.postMessage(message, transfer);
}

/**
 * Adds `p` (named `name` in its listing) and says whether the walk descends into it. A
 * root is kept whatever its size: it was named to be backed up.
 */
function visit(listing: ListingBuilder | null, name: Buffer, p: Buffer | string, root = false): boolean {
  let st: fs.BigIntStats;
  let link: Buffer | undefined;
  try {
    st = fs.lstatSync(p, { bigint: true });
    if (listing && st.isSymbolicLink()) link = fs.readlinkSync(p, { encoding: 'buffer' });
  } catch (err) {
    listing?.fail(name, describeError(err));
    return false;
  }
  if (!root && maxFileSize !== undefined && st.isFile() && st.size > maxFileSize) return false;
  const otherDevice = st.isDirectory() && devices !== undefined && !devices.has(st.dev);
  listing?.add(name, st, link, otherDevice);
  if (st.isFile()) {
    totals.files++;
    totals.bytes += Number(st.size);
  }
  return st.isDirectory() && !otherDevice;
}

/** --exclude-caches: a directory tagged with CACHEDIR.TAG keeps only the tag file; `names` itself when untagged. */
function cacheDirTagOnly(dir: Buffer, names: Buffer[]): Buffer[] {
  const tag = names.find((n) => n.toString() === 'CACHEDIR.TAG');
  if (!tag) return names;
  try {
    const fd = fs.openSync(joinPath(dir, tag), 'r');
    try {
      const head = Buffer.alloc(CACHEDIR_TAG_SIGNATURE.length);
      const n = fs.readSync(fd, head, 0, head.length, 0);
      if (head.subarray(0, n).toString() === CACHEDIR_TAG_SIGNATURE) return [tag];
    } finally {
      fs.closeSync(fd);
    }
  } catch {}
  return names;
}

function walk(dir: Buffer): boolean {
  if (!keepPace()) return false;
  let names: Buffer[];
  try {
    names = fs.readdirSync(dir, { encoding: 'buffer' });
  } catch (err) {
    post(dir, init.mode === 'list' ? describeError(err) : null);
    return true;
  } finally {
    if (init.mode === 'list') {
      Atomics.add(state, WALK_LISTED, 1);
      Atomics.notify(state, WALK_LISTED);
    }
  }
  // The archiver saves entries in byte order, and so needs subdirectories in that order.
  names.sort(Buffer.compare);
  if (init.excludeCaches) names = cacheDirTagOnly(dir, names);
  const listing = newListing();
  const subdirs: Buffer[] = [];
  for (const n of names) {
    const p = joinPath(dir, n);
    if (excluded(p.toString('utf8'))) continue;
    if (visit(listing, n, p)) subdirs.push(p);
  }
  post(dir, listing);
  for (const p of subdirs) if (!walk(p)) return false;
  return true;
}

/** Waits while the readahead walk is READAHEAD_DIRS ahead of the list walk. */
function keepAhead(): boolean {
  for (;;) {
    if (Atomics.load(state, WALK_STOP)) return false;
    const listed = Atomics.load(state, WALK_LISTED);
    if (readAhead - listed <= READAHEAD_DIRS) return true;
    Atomics.wait(state, WALK_LISTED, listed, 100);
  }
}

/** Reads the directories the list walk will read, in its order; only the kernel keeps them. */
function readahead(dir: Buffer): boolean {
  if (!keepAhead()) return false;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true, encoding: 'buffer' }) as unknown as fs.Dirent[];
  } catch {
    return true;
  } finally {
    readAhead++;
  }
  // The list walk keeps only the tag of a tagged directory, and so never reads below it.
  if (init.excludeCaches) {
    const names = entries.map((e) => e.name as unknown as Buffer);
    if (cacheDirTagOnly(dir, names) !== names) return true;
  }
  const subdirs = entries
    .filter((e) => e.isDirectory())
    .map((e) => joinPath(dir, e.name as unknown as Buffer))
    .filter((p) => !excluded(p.toString('utf8')) && onWalkedDevice(p))
    .sort(Buffer.compare);
  for (const p of subdirs) if (!readahead(p)) return false;
  return true;
}

function onWalkedDevice(p: Buffer): boolean {
  if (devices === undefined) return true;
  try {
    return devices.has(fs.lstatSync(p, { bigint: true }).dev);
  } catch {
    return false;
  }
}

/** The roots, as one listing keyed '', then the tree under each root directory. */
function walkRoots(): boolean {
  if (init.oneFileSystem) {
    devices = new Set();
    for (const r of init.roots) {
      try {
        devices.add(fs.lstatSync(r, { bigint: true }).dev);
      } catch {}
    }
  }
  if (init.mode === 'readahead') {
    for (const r of init.roots) if (onDirectory(r) && !readahead(Buffer.from(r))) return false;
    return true;
  }
  const listing = newListing();
  const dirs = init.roots.filter((r) => visit(listing, Buffer.from(r), r, true));
  post('', listing);
  for (const r of dirs) if (!walk(Buffer.from(r))) return false;
  return true;
}

function onDirectory(p: string): boolean {
  try {
    return fs.lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

if (walkRoots() && init.mode !== 'readahead') parentPort!.postMessage(init.mode === 'count' ? totals : { op: 'done' });
