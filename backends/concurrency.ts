/**
 * Limits how many async operations run at once. The S3 backend wraps each request in
 * one, so that queued requests wait here rather than inside the HTTP agent, where the
 * SDK's request timeout would already be ticking.
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<{ weight: number; resolve: () => void }> = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency limit must be a positive integer, got ${limit}`);
  }

  /**
   * Takes `weight` of the limit (bytes, say, where the limit is a memory budget). A weight
   * above the whole limit is granted once nothing else is held, so it cannot wait forever.
   */
  async acquire(weight = 1): Promise<void> {
    if (this.waiting.length === 0 && this.fits(weight)) this.active += weight;
    else await new Promise<void>((resolve) => this.waiting.push({ weight, resolve }));
  }

  /** Takes a slot only if one is free now and nobody waits for it. */
  tryAcquire(): boolean {
    if (this.waiting.length > 0 || !this.fits(1)) return false;
    this.active++;
    return true;
  }

  release(weight = 1): void {
    this.active -= weight;
    // Waiters are served in order, so a heavy one is not passed forever by light ones;
    // each is granted before anyone new can take what was released.
    while (this.waiting.length > 0 && this.fits(this.waiting[0].weight)) {
      const next = this.waiting.shift()!;
      this.active += next.weight;
      next.resolve();
    }
  }

  private fits(weight: number): boolean {
    return this.active === 0 || this.active + weight <= this.limit;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight, taking items in order; rejects on the first failure. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}
