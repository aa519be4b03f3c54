/**
 * A pool of chunk workers. The main thread only walks directories, answers "which of
 * these chunks are new" from the index, and packs sealed blobs; the CPU work (chunking,
 * hashing, compression, encryption) runs on every core.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { Repository } from './repository.js';
import { toHex } from './hex.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from './chunk-protocol.js';

export interface ChunkResult {
  /** Data blob ids in content order. */
  content: string[];
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

interface Task {
  worker: number;
  content: string[];
  newBytes: number;
  /** Serializes this task's messages, so blobs are stored before the next batch is answered. */
  chain: Promise<void>;
  resolve: (r: ChunkResult) => void;
  reject: (e: unknown) => void;
}

export class ChunkPool {
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly tasks = new Map<number, Task>();
  private nextTask = 1;
  private fatal: unknown;

  constructor(private readonly repo: Repository, size = Math.max(1, os.availableParallelism?.() ?? os.cpus().length)) {
    const init: WorkerInit = { encryptKey: repo.key.encrypt, blobIdKey: repo.key.blobId, chunker: repo.config.chunker };
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL('./chunk-worker.js', import.meta.url), { workerData: init });
      w.on('message', (m: WorkerReply) => this.onMessage(m));
      w.on('error', (err) => this.fail(err));
      this.workers.push(w);
      this.load.push(0);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  chunkFile(path: Uint8Array): Promise<ChunkResult> {
    return this.submit((task) => ({ op: 'file', task, path }));
  }

  chunkBuffer(data: Uint8Array): Promise<ChunkResult> {
    return this.submit((task) => ({ op: 'buffer', task, data }));
  }

  private submit(make: (task: number) => WorkerRequest): Promise<ChunkResult> {
    if (this.fatal) return Promise.reject(this.fatal);
    const id = this.nextTask++;
    const worker = this.load.indexOf(Math.min(...this.load));
    this.load[worker]++;
    return new Promise<ChunkResult>((resolve, reject) => {
      this.tasks.set(id, { worker, content: [], newBytes: 0, chain: Promise.resolve(), resolve, reject });
      this.workers[worker].postMessage(make(id));
    });
  }

  private onMessage(m: WorkerReply) {
    const t = this.tasks.get(m.task);
    if (!t) return;
    t.chain = t.chain
      .then(async () => {
        if (m.op === 'ids') {
          for (const id of m.ids) t.content.push(toHex(id));
          const need = await this.repo.reserveNew(m.ids);
          need.forEach((n, i) => n && (t.newBytes += m.lengths[i]));
          this.workers[t.worker].postMessage({ op: 'need', task: m.task, batch: m.batch, need } satisfies WorkerRequest);
        } else if (m.op === 'blobs') {
          for (const b of m.blobs) await this.repo.addSealed('data', b);
        } else if (m.op === 'whole') {
          for (const id of m.ids) t.content.push(toHex(id));
          const need = await this.repo.reserveNew(m.ids);
          for (let i = 0; i < need.length; i++) {
            if (!need[i]) continue;
            t.newBytes += m.lengths[i];
            await this.repo.addSealed('data', m.blobs[i]);
          }
          this.finish(m.task, t);
          t.resolve({ content: t.content, size: m.size, newBytes: t.newBytes });
        } else {
          this.finish(m.task, t);
          if (m.error) t.reject(new SourceReadError(m.error));
          else t.resolve({ content: t.content, size: m.size, newBytes: t.newBytes });
        }
      })
      .catch((err) => this.fail(err));
  }

  private finish(task: number, t: Task) {
    this.tasks.delete(task);
    this.load[t.worker]--;
  }

  private fail(err: unknown) {
    this.fatal ??= err;
    for (const t of this.tasks.values()) t.reject(err);
    this.tasks.clear();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
