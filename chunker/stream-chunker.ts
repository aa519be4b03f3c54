/**
 * Content-defined chunking of a stream fed in pieces of any size, giving exactly the
 * chunks that chunking the whole stream at once would give.
 */
import { certainCuts } from './cut-points.js';
import { validateChunkerParams, type ChunkerParams } from './params.js';

/**
 * A scan covers max + 2 avg bytes. What it leaves uncertain, and scans again with the
 * next window, is its last chunk: about avg bytes, and never more than max. So every
 * byte goes through fastcdc at most twice, and the window (which fastcdc-wasm copies
 * into WASM memory that never shrinks) stays small.
 */
function windowSize(p: ChunkerParams): number {
  return p.max + 2 * p.avg;
}

function allocate(n: number): Uint8Array {
  // Uninitialized memory: every byte handed out is written before it is read.
  const b = Buffer.allocUnsafeSlow(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

/**
 * Full windows kept for reuse by the streams of one thread. A fresh 10 MiB window per
 * window's worth of a large file was 1 GB of new memory for the bench's first backup:
 * each window page-faulted in, and dead windows piled up to V8's 64 MiB of outside
 * memory before a collection freed them, in each chunk worker.
 */
export class WindowPool {
  private readonly spare: Uint8Array[] = [];

  constructor(private readonly keep = 3) {}

  take(size: number): Uint8Array {
    const i = this.spare.findIndex((w) => w.length === size);
    return i >= 0 ? this.spare.splice(i, 1)[0] : allocate(size);
  }

  give(windows: Uint8Array[]): void {
    for (const w of windows) if (this.spare.length < this.keep) this.spare.push(w);
  }
}

export class StreamChunker {
  private readonly p: ChunkerParams;
  private readonly windowSize: number;
  /**
   * The current window: bytes [0, fill) are pending, and start at a cut. Once chunks are
   * handed out as views of a window, that window is never written again (the tail is
   * copied into a fresh one), so the caller may keep them. A kept chunk keeps its whole
   * window alive: callers that store chunks long-term should copy them.
   */
  private buf: Uint8Array = new Uint8Array(0);
  private fill = 0;
  private finished = false;
  /** Windows left behind whose chunks the caller may still hold; see release(). */
  private retired: Uint8Array[] = [];

  /**
   * With a pool, windows come from it and go back to it on release(), and are always
   * full-sized; without one, each window is new and the caller may keep chunks forever.
   */
  constructor(
    p: ChunkerParams,
    private readonly pool?: WindowPool,
  ) {
    validateChunkerParams(p);
    this.p = { min: p.min, avg: p.avg, max: p.max };
    this.windowSize = windowSize(p);
  }

  /**
   * The caller holds none of the chunks returned so far (with a pool): the windows behind
   * them may be written again.
   */
  release(): void {
    this.pool?.give(this.retired);
    this.retired = [];
  }

  /** Returns the chunks that became certain. `data` is copied; the caller may reuse it. */
  push(data: Uint8Array): Uint8Array[] {
    if (this.finished) throw new Error('StreamChunker: push after finish');
    const out: Uint8Array[] = [];
    let offset = 0;
    while (offset < data.length) {
      // Each pass consumes at least one byte: a scan always leaves fill < max < windowSize.
      const take = Math.min(data.length - offset, this.windowSize - this.fill);
      this.ensureCapacity(this.fill + take);
      this.buf.set(data.subarray(offset, offset + take), this.fill);
      this.fill += take;
      offset += take;
      if (this.fill === this.windowSize) this.scan(false, out);
    }
    return out;
  }

  /** Ends the stream and returns the remaining chunks. */
  finish(): Uint8Array[] {
    if (this.finished) throw new Error('StreamChunker: finish called twice');
    this.finished = true;
    const out: Uint8Array[] = [];
    this.scan(true, out);
    this.retire();
    this.buf = new Uint8Array(0);
    return out;
  }

  private scan(isEnd: boolean, out: Uint8Array[]): void {
    const window = this.buf.subarray(0, this.fill);
    let start = 0;
    for (const end of certainCuts(window, isEnd, this.p)) {
      out.push(window.subarray(start, end));
      start = end;
    }
    if (isEnd) return;
    // A full window holds more than max bytes, so its first chunk is always certain.
    if (start === 0) throw new Error('StreamChunker: internal error, no certain chunk in a full window');
    const tail = window.subarray(start);
    // This stream has filled a window, so it will likely fill the next one too.
    this.retire();
    this.buf = this.newWindow(this.windowSize);
    this.buf.set(tail, 0);
    this.fill = tail.length;
  }

  private ensureCapacity(needed: number): void {
    if (needed <= this.buf.length) return;
    const grown = this.newWindow(Math.min(this.windowSize, Math.max(needed, 2 * this.buf.length)));
    grown.set(this.buf.subarray(0, this.fill), 0);
    this.buf = grown;
  }

  /** Only a pool's windows are kept: without one, the caller's chunks alone keep a window alive. */
  private retire(): void {
    if (this.pool && this.buf.length) this.retired.push(this.buf);
  }

  /** A pool's windows are all full-sized, so a stream never grows one. */
  private newWindow(size: number): Uint8Array {
    return this.pool ? this.pool.take(this.windowSize) : allocate(size);
  }
}

/**
 * Chunks a whole buffer; the chunks are views of `data`. It is cut window by window like
 * a stream, so WASM memory (which never shrinks) stays bounded by a few `max` however
 * large `data` is. (fastcdc-wasm writes each window back into `data` after scanning it;
 * the bytes are unchanged.)
 */
export function chunkBuffer(data: Uint8Array, p: ChunkerParams): Uint8Array[] {
  validateChunkerParams(p);
  const size = windowSize(p);
  const out: Uint8Array[] = [];
  let start = 0;
  while (start < data.length) {
    const isEnd = data.length - start <= size;
    const window = data.subarray(start, isEnd ? data.length : start + size);
    const ends = certainCuts(window, isEnd, p);
    let prev = 0;
    for (const end of ends) {
      out.push(window.subarray(prev, end));
      prev = end;
    }
    if (isEnd) break;
    // The window holds more than max bytes, so its first chunk is always certain.
    if (prev === 0) throw new Error('chunkBuffer: internal error, no certain chunk in a full window');
    start += prev;
  }
  return out;
}
