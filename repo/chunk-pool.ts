/**
 * A pool of chunk workers, fed by read workers. The main thread only walks directories,
 * answers "which of these chunks are new" from the index, and packs sealed blobs; the CPU
 * work (chunking, hashing, compression, encryption) runs on every core, and small files
 * are read by read workers, several at once, while the chunk workers compress.
 */
import os from 'node:os';
import { MessageChannel, MessagePort, Worker } from 'node:worker_threads';
import { Repository } from './repository.js';
import { toHex } from './hex.js';
import { ownBuffer } from './own-buffer.js';
import { Semaphore } from '../backends/concurrency.js';
import { closeWorker } from './worker-exit.js';
import { WHOLE_READ_BYTES, type ReaderInit, type ReadRequest, type WorkerInit, type WorkerReply, type WorkerRequest } from './chunk-protocol.js';

export interface ChunkResult {
  /** Data blob ids in content order. */
  content: string[];
  /** Plaintext length of each blob in content. */
  lengths: number[];
  size: number;
  /** Plaintext bytes of chunks that were new to the repository. */
  newBytes: number;
}

/** Reading the source failed (the file is reported and skipped, not fatal). */
export class SourceReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceReadError';
  }
}

/**
 * One content stream chunked by a worker, fed piece by piece: exactly the chunks that
 * chunking the concatenated pieces at once would give.
 */
export interface ChunkStream {
  /** Resolves when the worker can take another piece (at most two are queued). */
  write(piece: Uint8Array): Promise<void>;
  end(): Promise<ChunkResult>;
}

/** Pieces a stream may have queued in its worker before write() waits. */
const STREAM_QUEUE = 2;
/**
 * Files in flight per reader and per chunk worker. Many small files in flight let a reader
 * start reading a whole batch at once (read-ahead.ts) and let each message carry many
 * files: in the bench's first backup 32 took 0.8-0.9 of the wall time and CPU of 4.
 */
const FILES_PER_THREAD = 32;
/**
 * Bytes of small files read and not yet chunked, over all readers: bounds the memory the
 * files in flight hold when they are all near WHOLE_READ_BYTES.
 */
const WHOLE_READS_IN_FLIGHT = 32 * 1024 * 1024;
/**
 * Another pair of workers starts when a task arrives while every running chunk worker has
 * this many in flight. A backup that finds changed files one at a time runs one pair; any
 * overlap starts the next. A higher bar kept image backups, which have 4-5 streams in
 * flight, on one chunk worker.
 */
const GROW_AT = 1;
/**
 * A chunk or read worker's young generation. Their live heaps are small (a few files'
 * tasks); with V8's default each let tens of MB of garbage build up between scavenges.
 */
const WORKER_YOUNG_MB = 4;

interface Task {
  worker: number;
  content: string[];
  lengths: number[];
  /** Stream tasks: pieces sent and not yet consumed, and who waits for room. */
  queued: number;
  onConsumed?: () => void;
  newBytes: number;
  /** Serializes this task's messages, so blobs are stored before the next batch is answered. */
  chain: Promise<void>;
  resolve: (r: ChunkResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Chunk workers each paired with a read worker, started as the load needs them, up to one
 * pair per core. Two readers keep two reads in flight on a cold disk (the bench's 62k
 * files read 1 at a time in 8.9 s, 2 at a time in 5.7 s).
 */
export class ChunkPool {
  private readonly workers: Worker[] = [];
  private readonly readers: Worker[] = [];
  /**
   * Read requests per reader, sent together once per turn of the event loop, as each
   * postMessage wakes the reader (the bench's 62k files took 27k messages, not 62k).
   */
  private readonly reads: ReadRequest[][] = [];
  private flushReads?: NodeJS.Immediate;
  private readonly load: number[] = [];
  private readonly tasks = new Map<number, Task>();
  private readonly wholeReadBytes = new Semaphore(WHOLE_READS_IN_FLIGHT);
  private nextTask = 1;
  private fatal: unknown;

  constructor(
    private readonly repo: Repository,
    readonly size = Math.max(1, os.availableParallelism?.() ?? os.cpus().length),
  ) {}

  /**
   * Starts a chunk worker and its read worker. The first pair starts with the first task:
   * a backup in which no file changed needs none, and starting them (each loads zstd,
   * BLAKE3 and fastcdc) would take CPU from the walk.
   */
  private grow() {
    const { port1, port2 } = new MessageChannel();
    const init: WorkerInit = { encryptKey: this.repo.key.encrypt, blobIdKey: this.repo.key.blobId, chunker: this.repo.config.chunker, reader: port2 };
    this.workers.push(this.spawn('./chunk-worker.js', init, [port2]));
    this.load.push(0);
    const readerInit: ReaderInit = { worker: port1 };
    this.readers.push(this.spawn('./read-worker.js', readerInit, [port1]));
    this.reads.push([]);
  }

  private spawn(file: string, workerData: unknown, transferList: MessagePort[]): Worker {
    const w = new Worker(new URL(file, import.meta.url), { workerData, transferList, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } });
    w.on('message', (m: WorkerReply) => this.onMessage(m));
    w.on('error', (err) => this.fail(err));
    return w;
  }

  /** Whether a failure (storing blobs, a worker's crash) ended the pool: every task fails from then on. */
  get failed(): boolean {
    return this.fatal !== undefined;
  }

  throwIfFailed(): void {
    if (this.fatal !== undefined) throw this.fatal;
  }

  /** Files worth having in flight: enough to keep every reader and worker busy. */
  get capacity(): number {
    return this.size * 2 * FILES_PER_THREAD;
  }

  /**
   * `size` and `owner` (the uid): what lstat saw. A small file goes through a read worker,
   * a large one streams.
   */
  async chunkFile(bytes: Buffer, size: number, owner: number): Promise<ChunkResult> {
    const path = bytes.toString('latin1');
    if (size > WHOLE_READ_BYTES) return this.submit((task) => ({ op: 'file', task, path, owner }));
    await this.wholeReadBytes.acquire(size);
    try {
      return await this.submit((task, worker) => {
        this.reads[worker].push({ task, path, size, owner });
        this.flushReads ??= setImmediate(() => {
          this.flushReads = undefined;
          this.reads.forEach((batch, r) => batch.length && this.readers[r].postMessage(batch.splice(0)));
        });
      });
    } finally {
      this.wholeReadBytes.release(size);
    }
  }

  /**
   * Content already in memory, in one message (a stream takes three and more): image
   * backups read small files from the image themselves. `data` is handed to the worker.
   */
  chunkBytes(data: Uint8Array): Promise<ChunkResult> {
    const owned = ownBuffer(data);
    return this.submit((task, worker) => {
      this.workers[worker].postMessage({ op: 'buffer', task, data: owned } satisfies WorkerRequest, [owned.buffer as ArrayBuffer]);
    });
  }

  chunkStream(): ChunkStream {
    let id = 0;
    const done = this.submit((task) => ((id = task), { op: 'stream', task }));
    // end() reports a failure; this keeps an early one from going unhandled meanwhile.
    done.catch(() => {});
    const post = (m: WorkerRequest, transfer: ArrayBuffer[] = []) => {
      const t = this.tasks.get(id);
      if (t) this.workers[t.worker].postMessage(m, transfer);
    };
    return {
      write: async (piece) => {
        const t = this.tasks.get(id);
        if (!t) return void (await done);
        while (t.queued >= STREAM_QUEUE && this.tasks.has(id)) await new Promise<void>((r) => (t.onConsumed = r));
        t.queued++;
        // A copy, transferred: the caller may reuse its buffer, and a 2nd copy is avoided.
        const copy = new Uint8Array(piece);
        post({ op: 'piece', task: id, data: copy }, [copy.buffer as ArrayBuffer]);
      },
      end: () => {
        post({ op: 'end', task: id });
        return done;
      },
    };
  }

  /** `send` returns the request for the chosen worker, or sends it some other way itself. */
  private submit(send: (task: number, worker: number) => WorkerRequest | void): Promise<ChunkResult> {
    if (this.fatal) return Promise.reject(this.fatal);
    // With no workers yet, the least load is Infinity.
    if (this.workers.length < this.size && Math.min(...this.load) >= GROW_AT) this.grow();
    const id = this.nextTask++;
    const worker = this.load.indexOf(Math.min(...this.load));
    this.load[worker]++;
    return new Promise<ChunkResult>((resolve, reject) => {
      this.tasks.set(id, { worker, content: [], lengths: [], queued: 0, newBytes: 0, chain: Promise.resolve(), resolve, reject });
      const req = send(id, worker);
      if (req) this.workers[worker].postMessage(req);
    });
  }

  private wakeWriter(t: Task) {
    const w = t.onConsumed;
    t.onConsumed = undefined;
    w?.();
  }

  private onMessage(m: WorkerReply) {
    if (m.op === 'wholes') {
      for (const f of m.files) this.onMessage(f);
      return;
    }
    const t = this.tasks.get(m.task);
    if (!t) return;
    t.chain = t.chain
      .then(async () => {
        if (m.op === 'ids') {
          for (const id of m.ids) t.content.push(toHex(id));
          t.lengths.push(...m.lengths);
          const need = await this.repo.reserveNew(m.ids);
          need.forEach((n, i) => n && (t.newBytes += m.lengths[i]));
          this.workers[t.worker].postMessage({ op: 'need', task: m.task, batch: m.batch, need } satisfies WorkerRequest);
        } else if (m.op === 'consumed') {
          t.queued--;
          this.wakeWriter(t);
        } else if (m.op === 'blobs') {
          for (const b of m.blobs) await this.repo.addSealed('data', b);
        } else if (m.op === 'whole') {
          for (const id of m.ids) t.content.push(toHex(id));
          t.lengths.push(...m.lengths);
          const need = await this.repo.reserveNew(m.ids);
          for (let i = 0; i < need.length; i++) {
            if (!need[i]) continue;
            t.newBytes += m.lengths[i];
            await this.repo.addSealed('data', m.blobs[i]);
          }
          this.finish(m.task, t);
          t.resolve({ content: t.content, lengths: t.lengths, size: m.size, newBytes: t.newBytes });
        } else {
          this.finish(m.task, t);
          if (m.error) t.reject(new SourceReadError(m.error));
          else t.resolve({ content: t.content, lengths: t.lengths, size: m.size, newBytes: t.newBytes });
        }
      })
      .catch((err) => this.fail(err));
  }

  private finish(task: number, t: Task) {
    this.tasks.delete(task);
    this.load[t.worker]--;
    this.wakeWriter(t);
  }

  private fail(err: unknown) {
    this.fatal ??= err;
    for (const t of this.tasks.values()) {
      t.reject(err);
      this.wakeWriter(t);
    }
    this.tasks.clear();
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers, ...this.readers].map((w) => closeWorker(w)));
  }
}
