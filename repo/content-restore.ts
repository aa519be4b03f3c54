/**
 * Writes the contents of many files from their blobs, pack by pack: each pack (or each
 * run of nearby blobs in it) is read once with one request and its blobs are written to
 * every place that uses them. Reading blob by blob would cost one request per blob.
 * Files are planned in batches, so memory stays bounded however large the restore.
 */
import { promises as fs, closeSync, constants as fsc, ftruncateSync, openSync, rmSync, writeSync } from 'node:fs';
import { IndexedBlob } from './blob.js';
import { isAllZero, ZERO_RUN_ALIGN, zeroRuns } from '../chunker/zero.js';
import { fromHex } from './hex.js';
import { planPackReads } from './pack-reads.js';
import { Repository, mapLimit } from './repository.js';
import { TreeNode } from './tree.js';

export interface ContentFile {
  dest: Buffer;
  node: TreeNode;
}

export interface ContentRestoreOptions {
  /** Pack reads in flight. */
  connections: number;
  onBytes?: (n: number) => void;
  /** Called once a file's content is complete (set metadata here). */
  onFileDone: (f: ContentFile) => Promise<void>;
  /** Called at most once per file; the file is then left as it is. May throw to stop the restore. */
  onFileError: (f: ContentFile, err: Error) => void;
}

/** Files up to this size are written with synchronous calls (see writeWholeSync). */
const SYNC_WRITE_MAX = 1 << 20;

const LOOKUP_BATCH = 4096;

/** Files of one pack read written at once. */
const FILE_WRITES_PER_READ = 8;

/** Blob references planned at once; about 100 bytes of memory each. */
const BATCH_REFS = 200_000;

interface Job {
  file: ContentFile;
  /** Blob writes still missing. */
  remaining: number;
  failed: boolean;
  created?: Promise<void>;
}

interface Target {
  job: Job;
  offset: number;
}

export async function restoreContents(repo: Repository, files: ContentFile[], opts: ContentRestoreOptions): Promise<void> {
  let batch: ContentFile[] = [];
  let refs = 0;
  for (const f of files) {
    batch.push(f);
    refs += f.node.content?.length ?? 0;
    if (refs >= BATCH_REFS) {
      await restoreBatch(repo, batch, opts);
      batch = [];
      refs = 0;
    }
  }
  await restoreBatch(repo, batch, opts);
}

async function restoreBatch(repo: Repository, files: ContentFile[], opts: ContentRestoreOptions): Promise<void> {
  const targets = new Map<string, { entry: IndexedBlob; to: Target[] }>();
  const removals: Promise<void>[] = [];
  const fail = (job: Job, err: Error) => {
    if (job.failed) return;
    job.failed = true;
    // Never leave a half-written file that could pass for the original. Writes that
    // started before are harmless: they land in the unlinked file or find none.
    if (job.created) removals.push(job.created.catch(() => {}).then(() => fs.rm(job.file.dest, { force: true })).catch(() => {}));
    opts.onFileError(job.file, err);
  };
  const finish = async (job: Job) => {
    try {
      await opts.onFileDone(job.file);
    } catch (err) {
      // The content is complete; only metadata is missing, so the file stays.
      job.failed = true;
      opts.onFileError(job.file, err as Error);
    }
  };

  const where = await lookupAll(repo, files);
  const emptyFiles: Job[] = [];
  for (const file of files) {
    const content = file.node.content ?? [];
    const job: Job = { file, remaining: content.length, failed: false };
    const entries = content.map((id) => where.get(id));
    const missing = entries.findIndex((e) => !e);
    if (missing >= 0) {
      fail(job, new Error(`blob ${content[missing]} is not in the index`));
      continue;
    }
    const size = entries.reduce((sum, e) => sum + e!.rawLength, 0);
    if (size !== file.node.size) {
      fail(job, new Error(`its blobs hold ${size} bytes, the snapshot records ${file.node.size}`));
      continue;
    }
    if (content.length === 0) emptyFiles.push(job);
    let offset = 0;
    for (const entry of entries as IndexedBlob[]) {
      const key = `${entry.pack}:${entry.offset}`;
      let t = targets.get(key);
      if (!t) targets.set(key, (t = { entry, to: [] }));
      t.to.push({ job, offset });
      offset += entry.rawLength;
    }
  }

  for (const job of emptyFiles) {
    try {
      await create(job);
      await finish(job);
    } catch (err) {
      fail(job, err as Error);
    }
  }

  const reads = planPackReads([...targets.values()].map((t) => t.entry));
  await mapLimit(reads, opts.connections, async (read) => {
    const users = read.blobs.flatMap((b) => targets.get(`${b.pack}:${b.offset}`)!.to);
    if (users.every((u) => u.job.failed)) return;
    let bytes: Uint8Array;
    try {
      bytes = await repo.backend.load({ type: 'data', name: read.pack }, read.offset, read.length);
    } catch (err) {
      for (const u of users) fail(u.job, err as Error);
      return;
    }
    const writes = new Map<Job, Part[]>();
    for (const b of read.blobs) {
      const t = targets.get(`${b.pack}:${b.offset}`)!;
      let data: Uint8Array;
      try {
        data = repo.openBlob(b, bytes.subarray(b.offset - read.offset, b.offset - read.offset + b.length));
      } catch (err) {
        for (const u of t.to) fail(u.job, err as Error);
        continue;
      }
      for (const u of t.to) {
        const parts = writes.get(u.job);
        if (parts) parts.push({ data, offset: u.offset });
        else writes.set(u.job, [{ data, offset: u.offset }]);
      }
    }
    // A pack holds the content of hundreds of small files: write them side by side.
    await mapLimit([...writes], FILE_WRITES_PER_READ, async ([job, parts]) => {
      if (job.failed) return;
      try {
        await writeParts(job, parts);
      } catch (err) {
        fail(job, err as Error);
        return;
      }
      opts.onBytes?.(parts.reduce((n, p) => n + p.data.length, 0));
      job.remaining -= parts.length;
      if (job.remaining === 0) await finish(job);
    });
  });
  await Promise.all(removals);
}

/** Index entries of every blob the files use, asked of the index cache in large batches rather than one by one. */
async function lookupAll(repo: Repository, files: ContentFile[]): Promise<Map<string, IndexedBlob>> {
  const ids = [...new Set(files.flatMap((f) => f.node.content ?? []))];
  const found = new Map<string, IndexedBlob>();
  for (let i = 0; i < ids.length; i += LOOKUP_BATCH) {
    const some = ids.slice(i, i + LOOKUP_BATCH);
    const entries = await repo.index.lookupMany(some.map(fromHex));
    // Blobs written in this session are not in the cache yet; the repository knows them.
    await Promise.all(some.map(async (id, j) => {
      const e = entries[j] ?? (await repo.lookupBlob(fromHex(id)));
      if (e) found.set(id, e);
    }));
  }
  return found;
}

interface Part {
  data: Uint8Array;
  offset: number;
}

/**
 * Writes parts of a file. When they are all of it (the usual case for a small file), the
 * file is created, written and closed in one go; otherwise it is created once at its
 * final size and each read's parts are written into it.
 */
async function writeParts(job: Job, parts: Part[]): Promise<void> {
  const whole = job.created === undefined && parts.length === job.remaining;
  if (whole && job.file.node.size <= SYNC_WRITE_MAX) {
    job.created = Promise.resolve();
    writeWholeSync(job.file, parts);
    return;
  }
  if (!whole) await create(job);
  const fh = whole ? await openNew(job.file.dest) : await fs.open(job.file.dest, fsc.O_WRONLY);
  if (whole) job.created = Promise.resolve();
  try {
    let end = 0;
    for (const p of parts) end = Math.max(end, await writeSparse(fh, p.data, p.offset));
    // Trailing zeros were skipped: the size makes them a hole.
    if (whole && end < job.file.node.size) await fh.truncate(job.file.node.size);
  } finally {
    await fh.close();
  }
}

/**
 * A small file in the calling thread: for it the hand-off to libuv's thread pool (a few
 * wake-ups per call) costs more than the system calls themselves, and a restore of many
 * small files is bound by exactly that.
 */
function writeWholeSync(file: ContentFile, parts: Part[]): void {
  const flags = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL;
  let fd: number;
  try {
    fd = openSync(file.dest, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    rmSync(file.dest, { force: true });
    fd = openSync(file.dest, flags, 0o600);
  }
  try {
    let end = 0;
    for (const p of parts) {
      if (isAllZero(p.data)) continue;
      let at = 0;
      const put = (from: number, to: number) => {
        for (let done = from; done < to; ) {
          const n = writeSync(fd, p.data, done, to - done, p.offset + done);
          if (n === 0) throw new Error('the file system accepted no bytes');
          done += n;
        }
        end = Math.max(end, p.offset + to);
      };
      for (const run of zeroRuns(p.data, ZERO_RUN_ALIGN)) {
        if (run.offset > at) put(at, run.offset);
        at = run.offset + run.length;
      }
      if (at < p.data.length) put(at, p.data.length);
    }
    if (end < file.node.size) ftruncateSync(fd, file.node.size);
  } finally {
    closeSync(fd);
  }
}

/** Creates the file once, at its final size: blobs then fill it in any order, and zero runs stay holes. */
function create(job: Job): Promise<void> {
  job.created ??= (async () => {
    const fh = await openNew(job.file.dest);
    try {
      await fh.truncate(job.file.node.size);
    } finally {
      await fh.close();
    }
  })();
  return job.created;
}

/**
 * Creates a file that must not exist yet. Whatever is in the way (an older file, a
 * symlink, which O_TRUNC would follow) is removed first, but only when there is something:
 * into an empty target that saves a call per file.
 */
async function openNew(dest: Buffer): Promise<fs.FileHandle> {
  const flags = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL;
  try {
    return await fs.open(dest, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    await fs.rm(dest, { force: true });
    return fs.open(dest, flags, 0o600);
  }
}

/** Writes all but the zero runs (which stay holes); returns the end of the last byte written. */
async function writeSparse(fh: fs.FileHandle, data: Uint8Array, position: number): Promise<number> {
  if (isAllZero(data)) return 0;
  let at = 0;
  let end = 0;
  for (const run of zeroRuns(data, ZERO_RUN_ALIGN)) {
    if (run.offset > at) {
      await writeAll(fh, data.subarray(at, run.offset), position + at);
      end = position + run.offset;
    }
    at = run.offset + run.length;
  }
  if (at < data.length) {
    await writeAll(fh, data.subarray(at), position + at);
    end = position + data.length;
  }
  return end;
}

async function writeAll(fh: fs.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    if (bytesWritten === 0) throw new Error('the file system accepted no bytes');
    done += bytesWritten;
  }
}

