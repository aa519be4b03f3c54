/**
 * Writes file contents for a restore, pack by pack: every pack a batch of files needs is
 * read once for that batch (in ranges that skip large gaps), and its blobs go to restore
 * workers that decrypt them and write them into files. Each file belongs to one worker,
 * so its writes stay in order without locks. Reading a pack region once replaces one
 * ranged read per blob.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { IndexedBlob } from './blob.js';
import { fromHex } from './hex.js';
import { Repository } from './repository.js';
import { Semaphore } from '../backends/concurrency.js';
import { ownBuffer } from './own-buffer.js';
import { packRanges } from './pack-ranges.js';
import { WireBlobsBuilder, type FileSpec, type RestoreReply, type RestoreRequest, type RestoreWorkerInit, type WireBlobs } from './restore-protocol.js';
import { rfc3339ToNs, nsToSeconds } from './time-format.js';
import { TreeNode } from './tree.js';
import { closeWorker } from './worker-exit.js';

export interface ContentFile {
  /** Destination path, one latin1 character per byte. */
  dest: string;
  node: TreeNode;
}

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

/** Files handed over together, numbered [base, base + files.length) in the pool. */
interface Batch {
  base: number;
  files: ContentFile[];
  onDone: (f: ContentFile, err?: Error) => void;
  left: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Restores the content, mode, owner and times of files through one pool of restore
 * workers, a batch at a time: a restore hands over its files in batches as it walks the
 * snapshot, so only a batch of plans is in memory, never the whole snapshot's.
 */
export class ContentRestorer {
  private pool?: RestorePool;
  private readonly batches: Batch[] = [];
  private nextFile = 0;

  private readonly packReads: Semaphore;

  constructor(
    private readonly repo: Repository,
    packReads = PACK_READS,
  ) {
    this.packReads = new Semaphore(packReads);
  }

  /**
   * Restores `files`. `onDone` is called once per file, with an error if it could not be
   * restored; an error thrown by onDone aborts. Batches may overlap: one's pack reads run
   * while the last files of the one before are still being written.
   */
  async restore<F extends ContentFile>(files: F[], onDone: (f: F, err?: Error) => void): Promise<void> {
    if (files.length === 0) return;
    // The first batch sizes the pool: a restore of one file starts one worker.
    this.pool ??= new RestorePool(
      this.repo,
      Math.max(1, Math.min(files.length, workerCount())),
      (file, err) => this.fileDone(file, err),
      (err) => this.batches.splice(0).forEach((b) => b.reject(err)),
    );
    const pool = this.pool;
    const size = pool.size;
    const done = new Promise<void>((resolve, reject) => {
      this.batches.push({ base: this.nextFile, files, onDone: onDone as Batch['onDone'], left: files.length, resolve, reject });
    });
    // Awaited at the end; this keeps an early failure from going unhandled meanwhile.
    done.catch(() => {});
    const batch = this.batches[this.batches.length - 1];
    this.nextFile += files.length;

    const { entries, targets } = await planFiles(this.repo, batch, pool, (file, err) => this.fileDone(file, err));
    // Packs in order of first use, which is roughly the order the backup wrote them.
    const packs = new Map<string, number[]>();
    entries.forEach((e, b) => {
      if (!e || targets[b].length === 0) return;
      let list = packs.get(e.pack);
      if (!list) packs.set(e.pack, (list = []));
      list.push(b);
    });
    // Pack reads are shared with the batch before, so that overlapping batches do not
    // double the ranges in memory.
    const readPack = async ([pack, blobs]: [string, number[]]) => {
      blobs.sort((a, b) => entries[a]!.offset - entries[b]!.offset);
      for (const range of packRanges(blobs.map((b) => entries[b]!))) {
        const inRange = blobs.slice(range.first, range.first + range.count);
        let stored: Uint8Array;
        try {
          stored = await this.repo.backend.load({ type: 'data', name: pack }, range.start, range.end - range.start);
        } catch (err) {
          const counts = new Map<number, number>();
          for (const b of inRange) for (const t of targets[b]) counts.set(t.file, (counts.get(t.file) ?? 0) + 1);
          for (const [file, count] of counts) pool.send(file % size, { op: 'failed', file, count, error: `cannot read pack ${pack}: ${(err as Error).message}` });
          continue;
        }
        // Each worker gets the blobs that have a target among its files.
        const perWorker = Array.from({ length: size }, () => new WireBlobsBuilder());
        for (const b of inRange) {
          const e = entries[b]!;
          for (const t of targets[b]) perWorker[t.file % size].target(e, range.start, t.file, t.offset);
        }
        const users = perWorker.filter((w) => w.count > 0);
        for (const [i, w] of users.entries()) {
          // The last user takes the buffer itself; the others get copies of their blobs only.
          const own = i === users.length - 1 ? ownBuffer(stored) : w.compact(stored);
          await pool.sendRange(perWorker.indexOf(w), own, w.build(pack));
        }
      }
    };
    await Promise.all([...packs].map((p) => this.packReads.run(() => readPack(p))));
    await done;
  }

  private fileDone(file: number, err?: Error) {
    const i = this.batches.findIndex((b) => file >= b.base && file < b.base + b.files.length);
    const batch = this.batches[i];
    try {
      batch.onDone(batch.files[file - batch.base], err);
    } catch (e) {
      batch.reject(e);
      throw e;
    }
    if (--batch.left === 0) {
      this.batches.splice(i, 1);
      batch.resolve();
    }
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}

/**
 * Finds every distinct blob of a batch once, with each place it goes, and sends each
 * worker the files it owns. Only what the pack reads need is returned: the id map and
 * the file specs are garbage once sent.
 */
async function planFiles(repo: Repository, batch: Batch, pool: RestorePool, fileDone: (file: number, err: Error) => void) {
  const blobIndex = new Map<string, number>();
  const blobIds: string[] = [];
  for (const f of batch.files) {
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
  const missing: { file: number; id: string }[] = [];
  batch.files.forEach((f, i) => {
    const file = batch.base + i;
    const content = f.node.content ?? [];
    const absent = content.find((id) => !entries[blobIndex.get(id)!]);
    if (absent) {
      missing.push({ file, id: absent });
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
  });
  specs.forEach((s, w) => s.length && pool.send(w, { op: 'files', files: s }));
  // Reported after the others are sent: the batch may end with the last of these.
  for (const m of missing) fileDone(m.file, new Error(`blob ${m.id} is not in the index`));
  return { entries, targets };
}

/** Workers started ahead of a restore (startRestoreWorkers), taken by the first pool. */
const started: Worker[] = [];

function startWorker(): Worker {
  return new Worker(new URL('./restore-worker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } });
}

/**
 * Starts the restore workers while the key is derived, when a core is idle: a worker
 * took 150-200 ms to start with a cold page cache, and the first pack ranges of the
 * bench's restore waited for them. Unused ones never keep the process alive.
 */
export function startRestoreWorkers(): void {
  while (started.length < workerCount()) {
    const worker = startWorker();
    worker.unref();
    // One that fails to start is dropped; the pool starts another and reports its error.
    const drop = () => started.includes(worker) && started.splice(started.indexOf(worker), 1);
    worker.once('error', drop).once('exit', drop);
    started.push(worker);
  }
}

function workerCount(): number {
  return os.availableParallelism?.() ?? os.cpus().length;
}

class RestorePool {
  private readonly workers: Worker[] = [];
  private readonly queued: number[] = [];
  private readonly wakeups: (() => void)[][] = [];
  private nextSeq = 0;
  private fatal: unknown;

  constructor(
    repo: Repository,
    readonly size: number,
    private readonly onDone: (file: number, err?: Error) => void,
    private readonly onFatal: (err: unknown) => void,
  ) {
    const init: RestoreWorkerInit = { encryptKey: repo.key.encrypt, blobIdKey: repo.key.blobId, chown: process.getuid?.() === 0 };
    for (let w = 0; w < size; w++) {
      const worker = started.shift() ?? startWorker();
      worker.ref();
      worker.postMessage({ op: 'init', init } satisfies RestoreRequest);
      worker.on('message', (m: RestoreReply) => this.onMessage(w, m));
      worker.on('error', (err) => this.fail(err));
      this.workers.push(worker);
      this.queued.push(0);
      this.wakeups.push([]);
    }
    for (const spare of started.splice(0)) void closeWorker(spare);
  }

  send(w: number, m: RestoreRequest) {
    if (this.fatal) throw this.fatal;
    this.workers[w].postMessage(m);
  }

  async sendRange(w: number, stored: Uint8Array, blobs: WireBlobs) {
    while (this.queued[w] >= QUEUED_RANGES && !this.fatal) await new Promise<void>((r) => this.wakeups[w].push(r));
    if (this.fatal) throw this.fatal;
    this.queued[w]++;
    const msg: RestoreRequest = { op: 'range', seq: this.nextSeq++, stored, blobs };
    this.workers[w].postMessage(msg, [stored.buffer, blobs.blobs.buffer, blobs.ids.buffer, blobs.targets.buffer] as ArrayBuffer[]);
  }

  private onMessage(w: number, m: RestoreReply) {
    if (m.op === 'range-done') {
      this.queued[w]--;
      this.wakeups[w].shift()?.();
      return;
    }
    for (const f of m.files) {
      try {
        this.onDone(f.file, f.error === undefined ? undefined : new FileError(f.error, f.code));
      } catch (err) {
        this.fail(err);
        return;
      }
    }
  }

  private fail(err: unknown) {
    this.fatal ??= err;
    for (const ws of this.wakeups) ws.splice(0).forEach((r) => r());
    this.onFatal(err);
  }

  async close() {
    await Promise.all(this.workers.map((w) => closeWorker(w)));
  }
}
