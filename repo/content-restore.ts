/**
 * Writes the contents of many files from their blobs, pack by pack: each pack (or each
 * run of nearby blobs in it) is read once with one request and its blobs are written to
 * every place that uses them. Reading blob by blob would cost one request per blob.
 * Files are planned in batches, so memory stays bounded however large the restore.
 */
import { promises as fs, constants as fsc } from 'node:fs';
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
  const fail = (job: Job, err: Error) => {
    if (job.failed) return;
    job.failed = true;
    opts.onFileError(job.file, err);
  };
  const finish = async (job: Job) => {
    try {
      await opts.onFileDone(job.file);
    } catch (err) {
      fail(job, err as Error);
    }
  };

  const emptyFiles: Job[] = [];
  for (const file of files) {
    const content = file.node.content ?? [];
    const job: Job = { file, remaining: content.length, failed: false };
    const entries = await Promise.all(content.map((id) => repo.lookupBlob(fromHex(id))));
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
    for (const b of read.blobs) {
      const t = targets.get(`${b.pack}:${b.offset}`)!;
      let plain: Uint8Array;
      try {
        plain = repo.openBlob(b, bytes.subarray(b.offset - read.offset, b.offset - read.offset + b.length));
      } catch (err) {
        for (const u of t.to) fail(u.job, err as Error);
        continue;
      }
      for (const u of t.to) {
        if (u.job.failed) continue;
        try {
          await create(u.job);
          await writeAt(u.job.file.dest, plain, u.offset);
        } catch (err) {
          fail(u.job, err as Error);
          continue;
        }
        opts.onBytes?.(plain.length);
        if (--u.job.remaining === 0) await finish(u.job);
      }
    }
  });
}

/** Creates the file once, at its final size: blobs then fill it in any order, and zero runs stay holes. */
function create(job: Job): Promise<void> {
  job.created ??= (async () => {
    await fs.rm(job.file.dest, { force: true });
    const fh = await fs.open(job.file.dest, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, 0o600);
    try {
      await fh.truncate(job.file.node.size);
    } finally {
      await fh.close();
    }
  })();
  return job.created;
}

async function writeAt(dest: Buffer, data: Uint8Array, position: number): Promise<void> {
  if (isAllZero(data)) return;
  const fh = await fs.open(dest, fsc.O_WRONLY);
  try {
    let at = 0;
    for (const run of zeroRuns(data, ZERO_RUN_ALIGN)) {
      if (run.offset > at) await writeAll(fh, data.subarray(at, run.offset), position + at);
      at = run.offset + run.length;
    }
    if (at < data.length) await writeAll(fh, data.subarray(at), position + at);
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: fs.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    if (bytesWritten === 0) throw new Error('the file system accepted no bytes');
    done += bytesWritten;
  }
}

