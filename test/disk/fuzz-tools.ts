/** Mutation and outcome checks shared by the fuzz tests. */
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { DiskFormatError } from '../../disk/types.js';
import type { ReadAt } from '../../disk/source.js';
import type { FuzzJob, FuzzMessage } from './fuzz-worker.js';

export interface Region {
  name: string;
  offset: number;
  length: number;
}

/** Applies 1-3 random mutations inside the weighted regions; returns what it did. */
export function mutate(buf: Uint8Array, regions: Region[], rand: () => number): string[] {
  const done: string[] = [];
  const count = 1 + Math.floor(rand() * 3);
  for (let m = 0; m < count; m++) {
    const r = regions[Math.floor(rand() * regions.length)];
    const at = r.offset + Math.floor(rand() * r.length);
    if (at >= buf.length) continue;
    const kind = rand();
    if (kind < 0.35) {
      buf[at] ^= 1 << Math.floor(rand() * 8);
      done.push(`flip bit in ${r.name}@${at}`);
    } else if (kind < 0.65) {
      const n = 1 + Math.floor(rand() * 8);
      for (let i = 0; i < n && at + i < buf.length; i++) buf[at + i] = Math.floor(rand() * 256);
      done.push(`random ${n} bytes in ${r.name}@${at}`);
    } else {
      // Extreme values in aligned 16/32-bit fields hit counts, sizes and pointers.
      const aligned = at & ~3;
      const extremes = [0, 0xff, 0xffff, 0xffffffff, 0x7fffffff, 0x80000000, 1, Math.floor(rand() * 2 ** 32)];
      const v = extremes[Math.floor(rand() * extremes.length)];
      const width = rand() < 0.5 ? 2 : 4;
      for (let i = 0; i < width && aligned + i < buf.length; i++) buf[aligned + i] = (v >>> (8 * i)) & 0xff;
      done.push(`set ${width * 8}-bit ${v} in ${r.name}@${aligned}`);
    }
  }
  return done;
}

/** Wraps a source to count bytes read: a reader must not read without bound. */
export function countingSource(inner: ReadAt): ReadAt & { bytesRead: number } {
  const s = {
    size: inner.size,
    bytesRead: 0,
    async read(offset: number, length: number) {
      const b = await inner.read(offset, length);
      s.bytesRead += b.length;
      return b;
    },
    dataIn: inner.dataIn?.bind(inner),
  };
  return s;
}

/** A damaged input may end in a DiskFormatError or a plain, clear Error; never in a crash class. */
export function assertClearError(e: unknown, context: string): void {
  const ok = e instanceof DiskFormatError || (e instanceof Error && e.constructor === Error && e.message.length > 0);
  assert.ok(ok, `${context}: unexpected ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
}

/** Recomputes the entry-array and header CRC32s of both GPT copies (512-byte sectors). */
export function fixGptChecksums(buf: Uint8Array): void {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const at of [512, Math.floor(buf.length / 512) * 512 - 512]) {
    if (at < 512 || at + 512 > buf.length) continue;
    const headerSize = view.getUint32(at + 12, true);
    if (headerSize < 92 || headerSize > 512) continue;
    const entriesAt = Number(view.getBigUint64(at + 72, true)) * 512;
    const bytes = view.getUint32(at + 80, true) * view.getUint32(at + 84, true);
    if (bytes <= 1 << 20 && entriesAt + bytes <= buf.length) {
      view.setUint32(at + 88, crc32(buf.subarray(entriesAt, entriesAt + bytes)), true);
    }
    view.setUint32(at + 16, 0, true);
    view.setUint32(at + 16, crc32(buf.subarray(at, at + headerSize)), true);
  }
}

/**
 * Runs a fuzz job in a worker and fails if any input takes longer than `perInputMs`
 * (the worker is terminated, so even a synchronous endless loop is caught).
 */
export function runFuzz(job: FuzzJob, perInputMs: number): Promise<Extract<FuzzMessage, { type: 'done' }>> {
  const worker = new Worker(new URL('./fuzz-worker.js', import.meta.url), { workerData: job });
  return new Promise((resolve, reject) => {
    let current = 'starting the worker';
    let timer: NodeJS.Timeout;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`input took over ${perInputMs} ms: ${current}`));
      }, perInputMs);
    };
    arm();
    worker.on('message', (m: FuzzMessage) => {
      if (m.type === 'input') {
        current = m.context;
        arm();
        return;
      }
      clearTimeout(timer);
      void worker.terminate();
      if (m.type === 'done') resolve(m);
      else reject(new Error(m.message));
    });
    worker.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`worker died during ${current}: ${e.stack ?? e}`));
    });
  });
}
