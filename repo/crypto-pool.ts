/**
 * Worker threads that decrypt and hash on every core: `check --read-data` verifies whole
 * packs in them, large reads (dump, mount, image restore) open their blobs in them, and
 * prune names the packs it reads and writes in them.
 * A worker holds the process open only while it has work, so a pool that was never
 * closed cannot keep a finished command alive.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { BlobEntry, IndexedBlob } from './blob.js';
import type { CryptoReply, CryptoRequest } from './crypto-protocol.js';
import { CorruptObjectError } from './errors/corrupt-object-error.js';
import { PackVerdict } from './pack-verify.js';
import { closeWorker } from './worker-exit.js';

type Pending = { resolve: (v: CryptoReply) => void; reject: (e: Error) => void; worker: number };

export class CryptoPool {
  private readonly workers: Worker[] = [];
  private readonly busy: number[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextTask = 1;
  /** Set once a worker died: later work fails at once instead of waiting on it forever. */
  private failure?: Error;

  constructor(keys: { encrypt: Uint8Array; blobId: Uint8Array }, size = Math.max(1, os.availableParallelism?.() ?? os.cpus().length)) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL('./crypto-worker.js', import.meta.url), { workerData: { encryptKey: keys.encrypt, blobIdKey: keys.blobId } });
      w.unref();
      w.on('message', (m: CryptoReply) => {
        const p = this.pending.get(m.task);
        if (!p) return;
        this.pending.delete(m.task);
        if (--this.busy[p.worker] === 0) w.unref();
        p.resolve(m);
      });
      w.on('error', (err) => {
        this.failure ??= err;
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

  /** Verifies every blob of a pack. The bytes are moved to the worker, not copied, when possible. */
  async verifyPack(pack: { id: string; blobs: BlobEntry[] }, bytes: Uint8Array): Promise<PackVerdict> {
    const owned = owning(bytes);
    const m = await this.run((task) => ({ op: 'verify-pack', task, pack, bytes: owned }), owned);
    if (m.op !== 'verdict') throw new Error(`unexpected reply ${m.op}`);
    return m.verdict;
  }

  /**
   * The object name (SHA-256) of `bytes`, computed in a worker. The bytes are moved
   * there and back, not copied (hashing on libuv's thread pool copies them first):
   * use the returned bytes, `bytes` may be detached.
   */
  async objectName(bytes: Uint8Array): Promise<{ name: string; bytes: Uint8Array }> {
    const owned = owning(bytes);
    const m = await this.run((task) => ({ op: 'name', task, bytes: owned }), owned);
    if (m.op !== 'named') throw new Error(`unexpected reply ${m.op}`);
    return { name: m.name, bytes: m.bytes };
  }

  /** Decrypts, decompresses and checks one stored blob, as Repository.openBlob does. */
  async openBlob(entry: IndexedBlob, stored: Uint8Array): Promise<Uint8Array> {
    const owned = owning(stored);
    const m = await this.run((task) => ({ op: 'open-blob', task, entry, stored: owned }), owned);
    if (m.op === 'plain') return m.plain;
    if (m.op === 'corrupt') throw new CorruptObjectError(m.object, m.detail);
    throw new Error(`unexpected reply ${m.op}`);
  }

  private run(make: (task: number) => CryptoRequest, bytes: Uint8Array): Promise<CryptoReply> {
    if (this.failure) return Promise.reject(this.failure);
    const worker = this.busy.indexOf(Math.min(...this.busy));
    const task = this.nextTask++;
    if (this.busy[worker]++ === 0) this.workers[worker].ref();
    return new Promise<CryptoReply>((resolve, reject) => {
      this.pending.set(task, { resolve, reject, worker });
      this.workers[worker].postMessage(make(task), [bytes.buffer as ArrayBuffer]);
    }).then((m) => {
      if (m.op === 'failed') throw new Error(m.message);
      return m;
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => closeWorker(w)));
  }
}

/** The bytes in a buffer of their own, so they can be transferred without taking a neighbour's. */
function owning(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : Uint8Array.from(bytes);
}
