/**
 * Restores a snapshot (or a path inside it) into a directory: contents byte for byte,
 * holes as holes, hard links as links, then ownership, modes and times. A file that
 * cannot be restored is reported and skipped; the rest still comes back.
 */
import fsSync, { promises as fs, constants as fsc } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { ContentRestorer } from './content-restorer.js';
import { compileExcludes, compileExcludesBothCases } from './exclude.js';
import { Repository } from './repository.js';
import { mapLimit } from '../backends/concurrency.js';
import { findNode, walkTree } from './tree-walk.js';
import { deviceNumbers, nameBytes, TreeNode } from './tree.js';
import { rfc3339ToNs, nsToSeconds } from './time-format.js';
import { fromHex } from './hex.js';
import { writeXattrs } from './xattrs.js';
import { existingAction, OverwritePolicy } from './overwrite-policy.js';

const execFileP = promisify(execFile);
/** Asynchronous calls in flight at once: special files made, and the overwrite policy's lstats. */
const METADATA_CONCURRENCY = 16;

export interface RestoreOptions {
  target: string;
  /** Path inside the snapshot to restore; its contents land in target. */
  subpath?: string;
  include?: string[];
  exclude?: string[];
  /** As include and exclude, ignoring the case of letters (restic's --iinclude, --iexclude). */
  iinclude?: string[];
  iexclude?: string[];
  verify?: boolean;
  /** What to do with names that already exist in the target; default 'always'. */
  overwrite?: OverwritePolicy;
  /**
   * Remove what the target's directories hold beyond the snapshot, so the target ends up
   * as the snapshot was. Only for a whole directory, without include or exclude patterns.
   */
  delete?: boolean;
  /** Pack reads in flight (--connections); default 4. */
  connections?: number;
  /** The store reads a range for the cost of a system call (a local directory): restore in smaller batches. */
  cheapReads?: boolean;
  /** With it, the totals are counted by a walk of their own, alongside the restore. */
  onProgress?: (p: RestoreProgress) => void;
  onFileError?: (path: string, err: Error) => void;
}

export interface RestoreProgress {
  files: number;
  bytes: number;
  /** Undefined while a progress report's counting walk is still going. */
  totalFiles?: number;
  totalBytes?: number;
  errors: number;
  verified: number;
  /** Files and special files whose content the overwrite policy left as it was. */
  skipped: number;
  skippedBytes: number;
  /** Entries that --delete removed (a removed directory counts once). */
  deleted: number;
}

export class NoSpaceError extends Error {
  constructor(file: string) {
    super(`no space left on device while restoring ${file}: free space on the target (or pick another --target) and run restore again`);
    this.name = 'NoSpaceError';
  }
}

interface Item {
  /**
   * Destination path, one latin1 character per byte of the raw name: a string holds its
   * own bytes, where a small Buffer pinned a shared 8 KiB slab, and sending it to a
   * restore worker copied the slab (the bench's restore held 20 MB of slabs on the main
   * thread and about as much in each worker).
   */
  dest: string;
  node: TreeNode;
}

/** The path bytes of an item's destination, for file system calls and messages. */
function destBytes(it: { dest: string }): Buffer {
  return Buffer.from(it.dest, 'latin1');
}

/**
 * Entries (files and special files) restored together; see ContentRestorer. A batch's
 * pack reads cover only its own files, so from S3 a batch of 512 made more and smaller
 * GETs: the bench's restore took 6.3-6.5 s against 5.8-6.3 s with 4096. From a local
 * directory a read costs a system call, and 512 held fewer tree nodes on the main thread:
 * peak RSS 261-285 MiB against 336-365 MiB, in 5.1-5.2 s against 5.2-5.5 s.
 */
const BATCH_ENTRIES = 4096;
const BATCH_ENTRIES_CHEAP_READS = 512;
/** Blob writes per batch too, per entry of a full batch: a few huge files hold long content lists. */
const BATCH_BLOBS_PER_ENTRY = 16;
/**
 * The first batch is this much of a full one, and each next batch twice the one before,
 * up to full batches. The workers wait for the first batch to be walked and looked up
 * in the index: a full first batch kept them idle for the first 0.3 s of the bench's
 * restore.
 */
const FIRST_BATCH_SHARE = 1 / 16;
/** Batches restoring at once: one's pack reads start while the last files of the one before are written. */
const BATCHES_IN_FLIGHT = 2;

/**
 * Restores while it walks the snapshot: directories are made as they are reached, and
 * files and special files go out in batches, so that memory holds a few batches of
 * nodes, not the whole snapshot's (the bench's 62,000 files held 120 MB of heap).
 */
export async function restore(repo: Repository, tree: string, opts: RestoreOptions): Promise<RestoreProgress> {
  const progress: RestoreProgress = { files: 0, bytes: 0, errors: 0, verified: 0, skipped: 0, skippedBytes: 0, deleted: 0 };
  const report = throttle(() => opts.onProgress?.(progress), 100);
  const fail = (p: Buffer | string, err: Error) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new NoSpaceError(p.toString());
    progress.errors++;
    opts.onFileError?.(p.toString(), err);
  };
  const target = Buffer.from(path.resolve(opts.target));
  await fs.mkdir(target, { recursive: true });

  const start = await findNode(repo, tree, opts.subpath ?? '/');
  const policy = opts.overwrite ?? 'always';
  const patterns = [opts.include, opts.exclude, opts.iinclude, opts.iexclude].some((p) => p?.length);
  if (opts.delete && (start.type !== 'dir' || patterns)) {
    throw new Error('--delete makes the target what the snapshot holds, so it needs a whole directory: drop --include and --exclude, and name a directory, not a file');
  }
  /** For --delete: per directory of the target, the names the snapshot has in it. */
  const wanted = new Map<string, Set<string>>();
  const excluded = compileExcludesBothCases(opts.exclude ?? [], opts.iexclude ?? []);
  const includes = [compileIncludes(opts.include ?? []), compileIncludes(opts.iinclude ?? [], true)];
  const included = opts.include?.length || opts.iinclude?.length ? (p: string, isDir: boolean) => includes.some((i) => i(p, isDir)) : () => true;
  async function* selected(): AsyncGenerator<Item> {
    const entries = start.type === 'dir' ? walkTree(repo, start.subtree!) : [{ path: Buffer.concat([Buffer.from('/'), nameBytes(start)]), node: start }];
    for await (const e of entries) {
      const s = e.path.toString('utf8');
      if (excluded(s) || !included(s, e.node.type === 'dir')) continue;
      yield { dest: Buffer.concat([target, e.path]).toString('latin1'), node: e.node };
    }
  }
  // The totals for the ETA take a walk of their own, as nothing is held from one walk to
  // the next. It runs alongside the restore, which waited for it before: half a second of
  // the bench's restore, with one core idle, and minutes for a snapshot of millions of
  // files. The restore's walk meets any failure of it and reports that.
  const counted = opts.onProgress !== undefined;
  const totals = { files: 0, bytes: 0 };
  let stopCounting = false;
  const counting = counted
    ? (async () => {
        const sum = { files: 0, bytes: 0 };
        for await (const it of selected()) {
          if (stopCounting) return;
          if (it.node.type === 'file') countInto(sum, it.node);
        }
        progress.totalFiles = sum.files;
        progress.totalBytes = sum.bytes;
      })().catch(() => {})
    : undefined;

  const contents = new ContentRestorer(repo, opts.connections);
  const dirs: Item[] = [];
  // The first name of a hard-linked inode gets the content; later names link to it.
  const firstLink = new Map<string, string>();
  const links: { dest: string; first: string; node: TreeNode }[] = [];
  const inFlight: Promise<void>[] = [];
  let files: Item[] = [];
  let specials: Item[] = [];
  let blobs = 0;
  let batchShare = FIRST_BATCH_SHARE;
  const batchEntries = opts.cheapReads ? BATCH_ENTRIES_CHEAP_READS : BATCH_ENTRIES;

  /** Leaves out what the overwrite policy keeps; a kept file still gets the snapshot's metadata. */
  const sift = async (items: Item[]): Promise<Item[]> => {
    if (policy === 'always') return items;
    const out: Item[] = [];
    await mapLimit(items, METADATA_CONCURRENCY, async (it) => {
      const action = existingAction(policy, it.node, await existing(destBytes(it)));
      if (action === 'restore') {
        out.push(it);
        return;
      }
      progress.skipped++;
      if (it.node.type === 'file') progress.skippedBytes += it.node.size;
      if (action === 'keep') {
        try {
          await applyMetadata(destBytes(it), it.node);
        } catch (err) {
          fail(destBytes(it), err as Error);
        }
      }
    });
    return out;
  };

  const restoreBatch = async (allFiles: Item[], allSpecials: Item[]) => {
    const [files, specials] = [await sift(allFiles), await sift(allSpecials)];
    const withXattrs: Item[] = [];
    const specialsDone = mapLimit(specials, METADATA_CONCURRENCY, async (it) => {
      try {
        const dest = destBytes(it);
        await replacing(dest, () => makeSpecial(dest, it.node));
        await applyMetadata(dest, it.node);
      } catch (err) {
        fail(destBytes(it), err as Error);
      }
    });
    // Awaited below; this keeps a failure meanwhile (ENOSPC) from going unhandled.
    specialsDone.catch(() => {});
    const restored: Item[] = [];
    await contents.restore(files, (it, err) => {
      if (err) {
        fail(destBytes(it), err);
        return;
      }
      if (it.node.xattrs?.length) withXattrs.push(it);
      restored.push(it);
      progress.files++;
      progress.bytes += it.node.size;
      report();
    });
    // Setting xattrs does not touch mtime, so the workers' times stay.
    await mapLimit(withXattrs, 8, async (it) => {
      try {
        const refused = await writeXattrs(destBytes(it), it.node.xattrs!);
        if (refused.length) throw new Error(`the target file system refused extended attributes ${refused.join(', ')} (everything else was restored)`);
      } catch (err) {
        fail(destBytes(it), err as Error);
      }
    });
    if (opts.verify) {
      await mapLimit(restored, 8, async (it) => {
        try {
          await verifyFile(repo, destBytes(it), it.node);
          progress.verified++;
        } catch (err) {
          fail(destBytes(it), err as Error);
        }
      });
    }
    await specialsDone;
  };

  const flush = async () => {
    if (files.length + specials.length === 0) return;
    if (inFlight.length >= BATCHES_IN_FLIGHT) await inFlight.shift();
    const batch = restoreBatch(files, specials);
    batch.catch(() => {});
    inFlight.push(batch);
    files = [];
    specials = [];
    blobs = 0;
    batchShare = Math.min(1, batchShare * 2);
  };

  try {
    for await (const it of selected()) {
      const n = it.node;
      if (!counted && n.type === 'file') countInto(totals, n);
      if (opts.delete) {
        const cut = it.dest.lastIndexOf('/');
        const dir = it.dest.slice(0, cut);
        if (!wanted.has(dir)) wanted.set(dir, new Set());
        wanted.get(dir)!.add(it.dest.slice(cut + 1));
      }
      if (n.type === 'dir') {
        dirs.push(it);
        try {
          fsSync.mkdirSync(destBytes(it), { recursive: true, mode: 0o700 });
        } catch (err) {
          fail(destBytes(it), err as Error);
        }
      } else if (n.type === 'file') {
        const key = n.links > 1 ? `${n.device}:${n.inode}` : undefined;
        const first = key ? firstLink.get(key) : undefined;
        if (first) {
          links.push({ dest: it.dest, first, node: n });
          continue;
        }
        if (key) firstLink.set(key, it.dest);
        files.push(it);
        blobs += n.content?.length ?? 0;
      } else if (n.type !== 'socket') {
        specials.push(it);
      }
      if (files.length + specials.length >= batchEntries * batchShare || blobs >= batchEntries * BATCH_BLOBS_PER_ENTRY * batchShare) await flush();
    }
    await flush();
    await Promise.all(inFlight);
    if (!counted) Object.assign(progress, { totalFiles: totals.files, totalBytes: totals.bytes });
    await counting;
  } finally {
    stopCounting = true;
    await counting;
    await Promise.allSettled(inFlight);
    await contents.close();
  }

  for (const l of links) {
    const dest = destBytes(l);
    try {
      if (policy !== 'always' && (await linkStays(policy, l, dest))) {
        progress.skipped++;
        continue;
      }
      await replacing(dest, () => fs.link(destBytes({ dest: l.first }), dest));
      progress.files++;
    } catch (err) {
      fail(dest, err as Error);
    }
  }

  if (opts.delete) {
    for (const dir of [target.toString('latin1'), ...dirs.map((d) => d.dest)]) await deleteExtras(dir, wanted.get(dir), progress, fail);
  }

  // Directory metadata last (writing into a directory changes its mtime), deepest first
  // (a parent's mode may forbid reaching its children).
  const deepestFirst = dirs.map((d) => ({ d, depth: d.dest.split('/').length })).sort((a, b) => b.depth - a.depth);
  for (const { d } of deepestFirst) {
    try {
      await applyMetadata(destBytes(d), d.node);
    } catch (err) {
      fail(destBytes(d), err as Error);
    }
  }
  opts.onProgress?.(progress);
  return progress;
}

function countInto(sum: { files: number; bytes: number }, n: TreeNode) {
  sum.files++;
  sum.bytes += n.size;
}

async function existing(dest: Buffer) {
  try {
    return await fs.lstat(dest, { bigint: true });
  } catch {
    // Whatever stands in the way of a restore is reported when the restore meets it.
    return undefined;
  }
}

/** Whether a later name of a hard-linked file stays as it is under the overwrite policy. */
async function linkStays(policy: OverwritePolicy, l: { first: string; node: TreeNode }, dest: Buffer): Promise<boolean> {
  const st = await existing(dest);
  if (!st) return false;
  if (policy !== 'if-changed') return existingAction(policy, l.node, st) === 'skip';
  // if-changed: it stays only if it already is a link to the first name.
  const first = await existing(destBytes({ dest: l.first }));
  return first !== undefined && first.ino === st.ino && first.dev === st.dev;
}

/** Removes the entries of a restored directory that the snapshot does not have there. */
async function deleteExtras(dir: string, keep: Set<string> | undefined, progress: RestoreProgress, fail: (p: Buffer, err: Error) => void): Promise<void> {
  const d = Buffer.from(dir, 'latin1');
  // Never through a symlink: what it points at is outside the restore.
  if (!(await existing(d))?.isDirectory()) return;
  let names: Buffer[];
  try {
    names = await fs.readdir(d, { encoding: 'buffer' });
  } catch (err) {
    fail(d, err as Error);
    return;
  }
  for (const name of names) {
    if (keep?.has(name.toString('latin1'))) continue;
    const p = Buffer.concat([d, Buffer.from('/'), name]);
    try {
      await fs.rm(p, { recursive: true, force: true });
      progress.deleted++;
    } catch (err) {
      fail(p, err as Error);
    }
  }
}

async function verifyFile(repo: Repository, dest: Buffer, node: TreeNode): Promise<void> {
  const fh = await fs.open(dest, 'r');
  try {
    let offset = 0;
    for (const id of node.content ?? []) {
      const entry = await repo.lookupBlob(fromHex(id));
      if (!entry) throw new Error(`blob ${id} is not in the index`);
      const buf = Buffer.alloc(entry.rawLength);
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      if (bytesRead !== buf.length || !Buffer.from(repo.hashBlob(buf)).equals(fromHex(id))) {
        throw new Error(`verification failed: content at offset ${offset} differs from the snapshot`);
      }
      offset += buf.length;
    }
    const st = await fh.stat();
    if (st.size !== node.size) throw new Error(`verification failed: size ${st.size}, the snapshot records ${node.size}`);
  } finally {
    await fh.close();
  }
}

/** Runs make(); if something is in the way (an earlier restore), removes it and retries. */
async function replacing(dest: Buffer, make: () => Promise<void>): Promise<void> {
  try {
    await make();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    await fs.rm(dest, { force: true });
    await make();
  }
}

async function makeSpecial(dest: Buffer, n: TreeNode): Promise<void> {
  if (n.type !== 'symlink') {
    // mknod(1) reports a name in the way only as an exit status, not as EEXIST.
    await fs.rm(dest, { force: true });
    return makeNode(dest, n);
  }
  const t = n.linkTargetRaw !== undefined ? Buffer.from(n.linkTargetRaw, 'base64') : Buffer.from(n.linkTarget ?? '');
  await fs.symlink(t, dest);
}

async function makeNode(dest: Buffer, n: TreeNode): Promise<void> {
  // Node has no mknod(2); mknod(1) is in coreutils on every Linux.
  const p = dest.toString();
  if (n.type === 'fifo') {
    await execFileP('mknod', [p, 'p']);
    return;
  }
  const { major, minor } = deviceNumbers(n.rdev);
  await execFileP('mknod', [p, n.type === 'chardev' ? 'c' : 'b', String(major), String(minor)]);
}

/**
 * Owner, mode and times by synchronous calls: each takes microseconds, and through
 * libuv's thread pool each cost the main thread more than the call itself (the bench's
 * directories took 155 ms at the end of its restore that way, 72 ms this way).
 */
async function applyMetadata(dest: Buffer, n: TreeNode): Promise<void> {
  if (process.getuid?.() === 0) fsSync.lchownSync(dest, n.uid, n.gid);
  if (n.type !== 'symlink') fsSync.chmodSync(dest, n.mode);
  fsSync.lutimesSync(dest, nsToSeconds(rfc3339ToNs(n.atime)), nsToSeconds(rfc3339ToNs(n.mtime)));
  // Setting xattrs does not touch mtime, so they may come last.
  if (n.xattrs?.length && n.type !== 'symlink') {
    const refused = await writeXattrs(dest, n.xattrs);
    if (refused.length) throw new Error(`the target file system refused extended attributes ${refused.join(', ')} (everything else was restored)`);
  }
}

/** An include pattern keeps matching paths, what is below them, and their parent directories. */
function compileIncludes(patterns: string[], ignoreCase = false): (p: string, isDir: boolean) => boolean {
  if (patterns.length === 0) return () => false;
  const match = compileExcludes(patterns, { ignoreCase });
  const fold = (s: string) => (ignoreCase ? s.toLowerCase() : s);
  const folded = patterns.map(fold);
  return (p, isDir) => match(p) || (isDir && folded.some((pat) => pat.startsWith(fold(p) + '/') || !pat.startsWith('/')));
}

function throttle(fn: () => void, ms: number): () => void {
  let last = 0;
  return () => {
    const now = Date.now();
    if (now - last >= ms) {
      last = now;
      fn();
    }
  };
}
