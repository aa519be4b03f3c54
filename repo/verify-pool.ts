/** Worker threads that verify downloaded packs, so `check --read-data` hashes on every core. */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { BlobEntry } from './blob.js';
import { PackVerdict } from './pack-verify.js';

export class VerifyPool {
  private readonly workers: Worker[] = [];
  private readonly busy: number[] = [];
  private readonly pending = new Map<number, { resolve: (v: PackVerdict) => void; reject: (e: Error) => void; worker: number }>();
  private nextTask = 1;

  constructor(keys: { encrypt: Uint8Array; blobId: Uint8Array }, size = Math.max(1, os.availableParallelism?.() ?? os.cpus().length)) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL('./verify-worker.js', import.meta.url), { workerData: { encryptKey: keys.encrypt, blobIdKey: keys.blobId } });
      w.on('message', (m: { task: number; verdict?: PackVerdict; error?: string }) => {
        const p = this.pending.get(m.task);
        if (!p) return;
        this.pending.delete(m.task);
        this.busy[p.worker]--;
        if (m.verdict) p.resolve(m.verdict);
        else p.reject(new Error(m.error));
      });
      w.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      this.workers.push(w);
      this.busy.push(0);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Hands the bytes over to a worker (they are moved, not copied, when possible). */
  verify(pack: { id: string; blobs: BlobEntry[] }, bytes: Uint8Array): Promise<PackVerdict> {
    const worker = this.busy.indexOf(Math.min(...this.busy));
    const task = this.nextTask++;
    this.busy[worker]++;
    const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : Uint8Array.from(bytes);
    return new Promise((resolve, reject) => {
      this.pending.set(task, { resolve, reject, worker });
      this.workers[worker].postMessage({ task, pack, bytes: owned }, [owned.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
