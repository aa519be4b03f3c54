import { Backend, FileType, Handle, Leftovers, ObjectInfo } from './backend.js';

/**
 * `--limit-upload` / `--limit-download`: a wrapper backend that paces the bytes of
 * `save` and `load` through one token bucket per direction, shared by every request of
 * that direction in flight through this backend. Metadata calls (stat, list, remove,
 * create) pass straight through.
 *
 * The Backend API moves whole buffers, so this paces hand-overs, not the wire:
 *
 * - A save waits until its bytes are paid for, then hands the whole buffer to the
 *   backend below, which sends it at line speed. Paying first (rather than trickling the
 *   body out) keeps the wait outside the S3 backend's connection slots and its 60 s
 *   request timeout: a 16 MiB pack trickled at 128 KiB/s would take two minutes and time
 *   out on every attempt.
 * - A load is charged after it arrives, by the bytes received. A whole load does not
 *   know its size beforehand, and a ranged load may ask for more than it gets (a tree
 *   page asks for 1 MiB and the tail of a small pack returns a few KiB): charging the
 *   requested length up front would stall such a read as if it were 1 MiB. The caller is
 *   held until the bytes are paid for, so each connection issues its next read only
 *   then. A failed attempt is not charged (how much of it arrived is unknown).
 *
 * Over any stretch of time the bytes handed over stay within the rate plus the burst;
 * within it, the wire still sees each object (or, for loads, the first reads of each
 * connection) at full speed. Payment goes in slices (64 KiB), so concurrent requests
 * take turns: a small request (a lock refresh, an index file) waits for at most one
 * slice per request ahead of it, not for whole 16 MiB packs. The price of taking turns:
 * packs of equal size that pay side by side are paid up together and leave together, a
 * burst of up to --connections packs; only streaming bodies through the limiter (which
 * the S3 backend's whole-request timeout rules out today) would smooth that.
 *
 * In open.ts the limiter sits inside the RetryBackend, so every attempt of a retried
 * request is paid for again, as its bytes cross the link again.
 */

export const DEFAULT_SLICE_BYTES = 64 * 1024;

/** Time in milliseconds and a way to wait; injected so the arithmetic is testable without sleeping. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.ceil(ms))),
};

/**
 * A token bucket that books ahead: `reserve(n)` takes n tokens at once, letting the
 * balance go negative, and says how long until the balance has recovered to cover them.
 * A later reservation queues behind the debt of earlier ones, so requests are served in
 * the order they book; `take` books one slice at a time and books the next slice only
 * when the previous one is due, so concurrent takers alternate slice by slice.
 *
 * Holds at most `burst` tokens: however long it sat idle, no more than `burst` bytes go
 * out before the rate applies.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  /** Bytes paid for so far. */
  charged = 0;

  constructor(
    readonly bytesPerSecond: number,
    readonly burst: number,
    private readonly clock: Clock,
    readonly slice = DEFAULT_SLICE_BYTES,
  ) {
    for (const [what, v] of [['rate', bytesPerSecond], ['burst', burst], ['slice', slice]] as const) {
      if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`token bucket ${what} must be a positive number, got ${v}`);
    }
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Tokens available now (negative while reservations are waiting). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Books `n` tokens now; returns the milliseconds until they are covered (0: at once). */
  reserve(n: number): number {
    this.refill();
    this.tokens -= n;
    this.charged += n;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.bytesPerSecond;
  }

  /** Waits until `n` bytes may pass, paying in slices so that concurrent takers share the rate. */
  async take(n: number): Promise<void> {
    for (let left = n; left > 0; ) {
      const part = Math.min(left, this.slice);
      left -= part;
      const wait = this.reserve(part);
      if (wait > 0) await this.clock.sleep(wait);
    }
  }

  private refill(): void {
    const now = this.clock.now();
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.bytesPerSecond) / 1000);
      this.last = now;
    }
  }
}

export interface RateLimits {
  /** `--limit-upload`, in KiB/s; absent: unlimited. */
  uploadKiBs?: number;
  /** `--limit-download`, in KiB/s; absent: unlimited. */
  downloadKiBs?: number;
  /** Bucket size in bytes (default: one slice, or 100 ms at the rate if that is more). */
  burstBytes?: number;
  /** Payment slice in bytes (default 64 KiB). */
  sliceBytes?: number;
}

export class RateLimitBackend implements Backend {
  readonly upload?: TokenBucket;
  readonly download?: TokenBucket;

  constructor(readonly inner: Backend, limits: RateLimits, clock: Clock = realClock) {
    const slice = limits.sliceBytes ?? DEFAULT_SLICE_BYTES;
    const bucket = (kibs: number | undefined) => {
      if (kibs === undefined) return undefined;
      const rate = kibs * 1024;
      // 100 ms of headroom lets a waiter that the timer wakes late catch up instead of
      // losing the tokens it missed; at home-uplink rates one slice is the larger term.
      return new TokenBucket(rate, limits.burstBytes ?? Math.max(slice, rate / 10), clock, slice);
    };
    this.upload = bucket(limits.uploadKiBs);
    this.download = bucket(limits.downloadKiBs);
  }

  location(): string {
    return this.inner.location();
  }

  create(): Promise<void> {
    return this.inner.create();
  }

  isRepository(): Promise<boolean> {
    return this.inner.isRepository();
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    await this.upload?.take(data.length);
    return this.inner.save(h, data);
  }

  async load(h: Handle, offset?: number, length?: number): Promise<Uint8Array> {
    const bytes = await this.inner.load(h, offset, length);
    await this.download?.take(bytes.length);
    return bytes;
  }

  stat(h: Handle): Promise<ObjectInfo> {
    return this.inner.stat(h);
  }

  list(type: FileType): AsyncIterable<ObjectInfo> {
    return this.inner.list(type);
  }

  remove(h: Handle): Promise<void> {
    return this.inner.remove(h);
  }

  removeLeftovers(dryRun: boolean): Promise<Leftovers> {
    return this.inner.removeLeftovers(dryRun);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Wraps `inner` when a limit is set; returns it untouched (no overhead) otherwise. */
export function withRateLimits(inner: Backend, limits: RateLimits | undefined): Backend {
  if (limits?.uploadKiBs === undefined && limits?.downloadKiBs === undefined) return inner;
  return new RateLimitBackend(inner, limits);
}
