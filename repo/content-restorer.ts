/**
 * Writes file contents for a restore, pack by pack: every pack is read once (in ranges
 * that skip large gaps), and its blobs go to restore workers that decrypt them and write
 * them into files. Each file belongs to one worker, so its writes stay in order without
 * locks. Reading a pack region once replaces one ranged read per blob.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { IndexedBlob } from './blob.js';
import { fromHex } from './hex.js';
import { Repository } from './repository.js';
import { mapLimit } from '../backends/concurrency.js';
import { ownBuffer } from './own-buffer.js';
import type { FileSpec, RestoreReply, RestoreRequest, RestoreWorkerInit, WireBlob } from './restore-protocol.js';
import { rfc3339ToNs, nsToSeconds } from './time-format.js';
import { TreeNode } from './tree.js';

export interface ContentFile {
  /** Destination path, one latin1 character per byte. */
  dest: string;
  node: TreeNode;
}

/** A gap up to this size inside a pack is read and thrown away rather than split into two reads. */
const MAX_GAP = 1024 * 1024;
/** Reads stay this small (unless one blob is larger) so that the ranges in flight stay few megabytes. */
const MAX_RANGE = 4 * 1024 * 1024;
/** Ranges read but not yet written, per worker: bounds memory when disks write slower than packs read. */
const QUEUED_RANGES = 4;
/** Pack reads in flight unless the caller says (--connections). */
const PACK_READS = 4;
const LOOKUP_BATCH = 1024;
/**
 * A restore worker's young generation. Its live heap is small (its files' specs), but
 * V8's default young generation let each worker's heap reach 56-68 MB between scavenges.
 * Capped, the bench's full restore peaked at 478-511 MiB RSS instead of 574-636, in the
 * same wall time, for about 0.9 s more user CPU (of 20 s user and system).
 */
const WORKER_YOUNG_MB = 4;

class FileError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    if (code) (this as unknown as NodeJS.ErrnoException).code = code;
  }
}

/**
 * Restores the content, mode, owner and times of `files`. `onDone` is called once per
 * file, with an error if it could not be restored; an error thrown by onDone aborts.
 */
export async function restoreContents<F extends ContentFile>(repo: Repository, files: F[], onDone: (f: F, err?: Error) => void, packReads = PACK_READS): Promise<void> {
  const size = Math.max(1, Math.min(files.length, os.availableParallelism?.() ?? os.cpus().length));
  const pool = new RestorePool(repo, size, (file, err) => onDone(files[file], err));
  try {
    const { entries, targets } = await planFiles(repo, files, pool, onDone);

    // Packs in order of first use, which is roughly the order the backup wrote them.
    const packs = new Map<string, number[]>();
    entries.forEach((e, b) => {
      if (!e || targets[b].length === 0) return;
      let list = packs.get(e.pack);
      if (!list) packs.set(e.pack, (list = []));
      list.push(b);
    });
    await mapLimit([...packs], packReads, async ([pack, blobs]) => {
      blobs.sort((a, b) => entries[a]!.offset - entries[b]!.offset);
      for (const range of ranges(blobs.map((b) => entries[b]!))) {
        const inRange = blobs.slice(range.first, range.first + range.count);
        let stored: Uint8Array;
        try {
          stored = await repo.backend.load({ type: 'data', name: pack }, range.start, range.end - range.start);
        } catch (err) {
          const counts = new Map<number, number>();
          for (const b of inRange) for (const t of targets[b]) counts.set(t.file, (counts.get(t.file) ?? 0) + 1);
          for (const [file, count] of counts) pool.send(file % size, { op: 'failed', file, count, error: `cannot read pack ${pack}: ${(err as Error).message}` });
          continue;
        }
        // Each worker gets the blobs that have a target among its files.
        const perWorker: WireBlob[][] = Array.from({ length: size }, () => []);
        for (const b of inRange) {
          const e = entries[b]!;
          const byWorker = new Map<number, { file: number; offset: number }[]>();
          for (const t of targets[b]) {
            const w = t.file % size;
            if (!byWorker.has(w)) byWorker.set(w, []);
            byWorker.get(w)!.push(t);
          }
          for (const [w, ts] of byWorker) {
            perWorker[w].push({ id: e.id, pack, offset: e.offset - range.start, length: e.length, rawLength: e.rawLength, compressed: e.compressed, targets: ts });
          }
        }
        const users = perWorker.map((list, w) => (list.length ? w : -1)).filter((w) => w >= 0);
        for (const [i, w] of users.entries()) {
          // The last user takes the buffer itself; the others get copies.
          const bytes = i === users.length - 1 ? ownBuffer(stored) : new Uint8Array(stored);
          await pool.sendRange(w, bytes, perWorker[w]);
        }
      }
    });
    await pool.finished();
  } finally {
    await pool.close();
  }
}

/**
 * Finds every distinct blob once, with each place it goes, and sends each worker the
 * files it owns. Only what the pack reads need is returned: the id map and the file
 * specs, 62,000 of them for the bench, are garbage once sent.
 */
async function planFiles<F extends ContentFile>(repo: Repository, files: F[], pool: RestorePool, onDone: (f: F, err?: Error) => void) {
  const blobIndex = new Map<string, number>();
  const blobIds: string[] = [];
  for (const f of files) {
    for (const id of f.node.content ?? []) {
      if (!blobIndex.has(id)) {
        blobIndex.set(id, blobIds.length);
        blobIds.push(id);
      }
    }
  }
  const entries: (IndexedBlob | undefined)[] = [];
  for (let i = 0; i < blobIds.length; i += LOOKUP_BATCH) {
    entries.push(...(await repo.lookupBlobs(blobIds.slice(i, i + LOOKUP_BATCH).map(fromHex))));
  }
  const specs: FileSpec[][] = Array.from({ length: pool.size }, () => []);
  const targets: { file: number; offset: number }[][] = blobIds.map(() => []);
  files.forEach((f, file) => {
    const content = f.node.content ?? [];
    const missing = content.find((id) => !entries[blobIndex.get(id)!]);
    if (missing) {
      onDone(f, new Error(`blob ${missing} is not in the index`));
      return;
    }
    let offset = 0;
    for (const id of content) {
      const b = blobIndex.get(id)!;
      targets[b].push({ file, offset });
      offset += entries[b]!.rawLength;
    }
    const n = f.node;
    specs[file % pool.size].push({
      file,
      path: f.dest,
      contentLength: offset,
      size: n.size,
      writes: content.length,
      mode: n.mode,
      uid: n.uid,
      gid: n.gid,
      atime: nsToSeconds(rfc3339ToNs(n.atime)),
      mtime: nsToSeconds(rfc3339ToNs(n.mtime)),
    });
    pool.expect(file);
  });
  specs.forEach((s, w) => pool.send(w, { op: 'files', files: s }));
  return { entries, targets };
}

/** Groups blobs sorted by offset into reads of up to MAX_RANGE, merging across gaps up to MAX_GAP. */
function ranges(sorted: IndexedBlob[]): { start: number; end: number; first: number; count: number }[] {
  const out: { start: number; end: number; first: number; count: number }[] = [];
  sorted.forEach((e, i) => {
    const last = out[out.length - 1];
    if (last && e.offset - last.end <= MAX_GAP && e.offset + e.length - last.start <= MAX_RANGE) {
      last.end = Math.max(last.end, e.offset + e.length);
      last.count++;
    } else {
      out.push({ start: e.offset, end: e.offset + e.length, first: i, count: 1 });
    }
  });
  return out;
}

class RestorePool {
  private readonly workers: Worker[] = [];
  private readonly queued: number[] = [];
  private readonly wakeups: (() => void)[][] = [];
  private readonly pending = new Set<number>();
  private nextSeq = 0;
  private fatal: unknown;
  private allDone?: { resolve: () => void; reject: (e: unknown) => void };

  constructor(repo: Repository, readonly size: number, private readonly onDone: (file: number, err?: Error) => void) {
    const init: RestoreWorkerInit = { encryptKey: repo.key.encrypt, blobIdKey: repo.key.blobId, chown: process.getuid?.() === 0 };
    for (let w = 0; w < size; w++) {
      const worker = new Worker(new URL('./restore-worker.js', import.meta.url), { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } });
      worker.on('message', (m: RestoreReply) => this.onMessage(w, m));
      worker.on('error', (err) => this.fail(err));
      this.workers.push(worker);
      this.queued.push(0);
      this.wakeups.push([]);
    }
  }

  expect(file: number) {
    this.pending.add(file);
  }

  send(w: number, m: RestoreRequest) {
    if (this.fatal) throw this.fatal;
    this.workers[w].postMessage(m);
  }

  async sendRange(w: number, stored: Uint8Array, blobs: WireBlob[]) {
    while (this.queued[w] >= QUEUED_RANGES && !this.fatal) await new Promise<void>((r) => this.wakeups[w].push(r));
    if (this.fatal) throw this.fatal;
    this.queued[w]++;
    const msg: RestoreRequest = { op: 'range', seq: this.nextSeq++, stored, blobs };
    this.workers[w].postMessage(msg, [stored.buffer as ArrayBuffer]);
  }

  private onMessage(w: number, m: RestoreReply) {
    if (m.op === 'range-done') {
      this.queued[w]--;
      this.wakeups[w].shift()?.();
      return;
    }
    for (const f of m.files) {
      this.pending.delete(f.file);
      try {
        this.onDone(f.file, f.error === undefined ? undefined : new FileError(f.error, f.code));
      } catch (err) {
        this.fail(err);
        return;
      }
    }
    if (this.pending.size === 0) this.allDone?.resolve();
  }

  private fail(err: unknown) {
    this.fatal ??= err;
    for (const ws of this.wakeups) ws.splice(0).forEach((r) => r());
    this.allDone?.reject(err);
  }

  finished(): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => (this.allDone = { resolve, reject }));
  }

  async close() {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
