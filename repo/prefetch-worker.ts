/**
 * Worker thread that walks the backup's source tree just ahead of the archiver, calling
 * readdir and lstat and keeping nothing, so that the kernel has the directories and
 * inodes cached by the time the archiver's synchronous calls ask for them. Cold
 * metadata reads then wait on this thread instead of the archiver's. It counts the files
 * and bytes it finds, and posts the totals when it is done: they give progress its ETA.
 */
import { parentPort, workerData } from 'node:worker_threads';
import fs from 'node:fs';
import { compileExcludes } from './exclude.js';
import { joinPath } from './path-bytes.js';
import { type PrefetchInit, type PrefetchTotals, PREFETCH_DONE, PREFETCH_LISTED, PREFETCH_STOP } from './prefetch-protocol.js';

const { paths, excludes, oneFileSystem, shared, entriesAhead } = workerData as PrefetchInit;
const state = new Int32Array(shared);
const excluded = compileExcludes(excludes);
let listed = 0;
const totals: PrefetchTotals = { files: 0, bytes: 0 };

/** Waits while this walk has listed more than entriesAhead entries beyond the archiver's. */
function keepPace(): boolean {
  for (;;) {
    if (Atomics.load(state, PREFETCH_STOP)) return false;
    const done = Atomics.load(state, PREFETCH_DONE);
    if (listed - done <= entriesAhead) return true;
    Atomics.wait(state, PREFETCH_DONE, done, 100);
  }
}

/** Errors are the archiver's to report; here they only end the look-ahead for that entry. */
function lstatOrNull(p: Buffer | string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

function walk(dir: Buffer, device: number | undefined): boolean {
  if (!keepPace()) return false;
  let names: Buffer[];
  try {
    names = fs.readdirSync(dir, { encoding: 'buffer' });
  } catch {
    return true;
  }
  listed += names.length;
  Atomics.store(state, PREFETCH_LISTED, listed);
  // The archiver takes entries in byte order and walks subdirectories as it meets them.
  names.sort(Buffer.compare);
  const subdirs: Buffer[] = [];
  for (const n of names) {
    const p = joinPath(dir, n);
    if (excluded(p.toString('utf8'))) continue;
    const st = lstatOrNull(p);
    if (st?.isFile()) count(st);
    else if (st?.isDirectory() && (device === undefined || st.dev === device)) subdirs.push(p);
  }
  for (const p of subdirs) if (!walk(p, device)) return false;
  return true;
}

function count(st: fs.Stats) {
  totals.files++;
  totals.bytes += st.size;
}

function walkRoots(): boolean {
  for (const root of paths) {
    const st = lstatOrNull(root);
    if (!st || excluded(root)) continue;
    if (st.isFile()) count(st);
    else if (st.isDirectory() && !walk(Buffer.from(root), oneFileSystem ? st.dev : undefined)) return false;
  }
  return true;
}

if (walkRoots()) parentPort!.postMessage(totals);
