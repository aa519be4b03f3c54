import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Handle } from '../../backends/backend.js';
import { LocalBackend } from '../../backends/local.js';
import { MemoryBackend } from '../../backends/memory.js';
import { openBackend } from '../../backends/open.js';
import { Clock, RateLimitBackend, TokenBucket } from '../../backends/rate-limit.js';
import { RetryBackend } from '../../backends/retry.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A clock that moves only when told to: sleeps are queued and woken in time order by run(). */
class FakeClock implements Clock {
  t = 0;
  slept: number[] = [];
  private timers: { at: number; seq: number; wake: () => void }[] = [];
  private seq = 0;

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    this.slept.push(ms);
    return new Promise((wake) => this.timers.push({ at: this.t + ms, seq: this.seq++, wake }));
  }

  /** Lets pending continuations run, then wakes timers in order until none is left (or `until`). */
  async run(until = Infinity): Promise<void> {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > until) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.wake();
    }
    if (until !== Infinity) this.t = Math.max(this.t, until);
  }
}

/** Starts `bucket.take(n)` and records when it finished (in fake time). */
function timedTake(clock: FakeClock, bucket: TokenBucket, n: number, done: Map<string, number>, name: string): Promise<void> {
  return bucket.take(n).then(() => void done.set(name, clock.now()));
}

describe('TokenBucket (fake clock)', () => {
  it('holds a single taker to the rate once the burst is spent', async () => {
    const clock = new FakeClock();
    const b = new TokenBucket(64 * KiB, 64 * KiB, clock);
    const done = new Map<string, number>();
    const p = timedTake(clock, b, 1 * MiB, done, 'a');
    await clock.run();
    await p;
    // 64 KiB of burst at once, the other 960 KiB at 64 KiB/s.
    assert.equal(done.get('a'), 15_000);
    assert.equal(b.charged, 1 * MiB);
  });

  it('keeps the long-run rate with many concurrent takers: by time t, at most burst + rate*t bytes were let through', async () => {
    const clock = new FakeClock();
    const rate = 100 * KiB;
    const burst = 64 * KiB;
    const b = new TokenBucket(rate, burst, clock);
    const finished: { at: number; n: number }[] = [];
    const sizes = [300 * KiB, 1 * MiB, 5 * KiB, 700 * KiB, 64 * KiB, 1, 2 * MiB, 123_457];
    const all = sizes.map((n) => b.take(n).then(() => void finished.push({ at: clock.now(), n })));
    await clock.run();
    await Promise.all(all);
    finished.sort((x, y) => x.at - y.at);
    let through = 0;
    for (const f of finished) {
      through += f.n;
      assert.ok(through <= burst + (rate * f.at) / 1000 + 1e-6, `${through} bytes through by ${f.at} ms`);
    }
    const total = sizes.reduce((s, n) => s + n, 0);
    // ... and no slower than the rate either: the last one finishes when the tokens are there.
    assert.ok(Math.abs(finished.at(-1)!.at - ((total - burst) * 1000) / rate) < 1, `last at ${finished.at(-1)!.at}`);
  });

  it('saves up no more than the burst while idle', async () => {
    const clock = new FakeClock();
    const b = new TokenBucket(10 * KiB, 32 * KiB, clock, 8 * KiB);
    await clock.run(3_600_000); // an hour idle
    const start = clock.now();
    const done = new Map<string, number>();
    const first = timedTake(clock, b, 32 * KiB, done, 'burst');
    await clock.run();
    await first;
    assert.equal(done.get('burst'), start, 'the burst goes at once');
    const second = timedTake(clock, b, 20 * KiB, done, 'after');
    await clock.run();
    await second;
    assert.equal(done.get('after')! - start, 2_000, 'then the rate applies: 20 KiB at 10 KiB/s');
  });

  it('serves single-slice takers in the order they came', async () => {
    const clock = new FakeClock();
    const b = new TokenBucket(10 * KiB, 10 * KiB, clock, 10 * KiB);
    const order: number[] = [];
    const all = Array.from({ length: 6 }, (_, i) => b.take(10 * KiB).then(() => order.push(i)));
    await clock.run();
    await Promise.all(all);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
    assert.equal(clock.now(), 5_000);
  });

  it('slices large requests, so concurrent takers share the rate and a small one is not stuck behind big ones', async () => {
    const clock = new FakeClock();
    const slice = 64 * KiB;
    const booked: number[] = [];
    class Recording extends TokenBucket {
      override reserve(n: number): number {
        booked.push(n);
        return super.reserve(n);
      }
    }
    const b = new Recording(64 * KiB, slice, clock, slice);
    const done = new Map<string, number>();
    const big = [timedTake(clock, b, 16 * MiB, done, 'a'), timedTake(clock, b, 16 * MiB, done, 'b')];
    await clock.run(10_000);
    const small = timedTake(clock, b, 1 * KiB, done, 'small');
    await clock.run();
    await Promise.all([...big, small]);

    assert.ok(booked.every((n) => n <= slice), 'no booking larger than a slice');
    assert.equal(booked.length, 2 * 256 + 1);
    // Two 16 MiB takers starting together share the rate: both need about the whole
    // time for 32 MiB (512 s), rather than one finishing at 256 s and the other at 512 s.
    assert.ok(done.get('a')! > 500_000 && done.get('b')! > 500_000, `a ${done.get('a')}, b ${done.get('b')}`);
    // The small request arriving at 10 s waits for at most one slice of each big one.
    assert.ok(done.get('small')! - 10_000 <= 2_000 + 20, `small waited ${done.get('small')! - 10_000} ms`);
    assert.ok(clock.slept.every((ms) => ms <= 2_000 + 20), `no wait longer than one slice per taker: ${Math.max(...clock.slept)} ms`);
  });

  it('rejects a zero, negative or non-numeric rate', () => {
    for (const rate of [0, -1, NaN, Infinity]) {
      assert.throws(() => new TokenBucket(rate, 1, new FakeClock()), RangeError, String(rate));
    }
  });
});

describe('RateLimitBackend around the memory backend (real clock)', () => {
  const h: Handle = { type: 'data', name: 'aa00' };

  it('paces a 3 MiB save at --limit-upload 1024 to about 3 s, and leaves loads unlimited', async () => {
    const b = new RateLimitBackend(new MemoryBackend(), { uploadKiBs: 1024, burstBytes: 64 * KiB });
    const data = randomBytes(3 * MiB);
    let t0 = performance.now();
    await b.save(h, data);
    const saveMs = performance.now() - t0;
    // (3 MiB - 64 KiB of burst) at 1 MiB/s = 2.94 s; the bound leaves room for timer jitter.
    assert.ok(saveMs >= 2_500, `3 MiB saved in ${saveMs.toFixed(0)} ms`);
    t0 = performance.now();
    assert.ok(Buffer.from(await b.load(h)).equals(data));
    const loadMs = performance.now() - t0;
    assert.ok(loadMs < 1_000, `unlimited load took ${loadMs.toFixed(0)} ms`);
  });

  it('paces loads, whole and ranged, at --limit-download 1024, and leaves saves unlimited', async () => {
    const b = new RateLimitBackend(new MemoryBackend(), { downloadKiBs: 1024, burstBytes: 64 * KiB });
    const data = randomBytes(2 * MiB);
    let t0 = performance.now();
    await b.save(h, data);
    assert.ok(performance.now() - t0 < 1_000, 'unlimited save');
    t0 = performance.now();
    const [whole, range] = await Promise.all([b.load(h), b.load(h, 1 * MiB, 5 * MiB)]);
    const loadMs = performance.now() - t0;
    assert.ok(Buffer.from(whole).equals(data) && Buffer.from(range).equals(data.subarray(1 * MiB)));
    // 3 MiB received (2 whole + 1 ranged; the range asked for 5 but got 1), sharing one bucket.
    assert.ok(loadMs >= 2_500, `3 MiB loaded in ${loadMs.toFixed(0)} ms`);
    assert.equal(b.download!.charged, 3 * MiB, 'charged by the bytes received, not the length asked for');
  });
});

describe('openBackend with limits', () => {
  it('does not wrap at all without a limit', async () => {
    assert.ok((await openBackend('memory:')) instanceof MemoryBackend);
    assert.ok((await openBackend('/nonexistent/repo', { limits: {} })) instanceof LocalBackend);
    const s3 = (await openBackend('s3:http://127.0.0.1:1/bucket', {})) as RetryBackend;
    assert.ok(!(s3.inner instanceof RateLimitBackend));
    await s3.close();
  });

  it('wraps the store inside the retry wrapper, so a retried upload is paid for again', async () => {
    const local = await openBackend('/nonexistent/repo', { limits: { uploadKiBs: 100 } });
    assert.ok(local instanceof RateLimitBackend && local.inner instanceof LocalBackend && local.upload?.bytesPerSecond === 100 * KiB && !local.download);
    const s3 = (await openBackend('s3:http://127.0.0.1:1/bucket', { limits: { downloadKiBs: 7 } })) as RetryBackend;
    assert.ok(s3 instanceof RetryBackend && s3.inner instanceof RateLimitBackend && s3.inner.download?.bytesPerSecond === 7 * KiB);
    await s3.close();

    // The same order around a store whose first upload fails: both attempts are charged.
    let attempts = 0;
    const flaky = new MemoryBackend();
    const realSave = flaky.save.bind(flaky);
    flaky.save = async (hh, d) => {
      if (attempts++ === 0) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      return realSave(hh, d);
    };
    const limited = new RateLimitBackend(flaky, { uploadKiBs: 1 << 20 });
    await new RetryBackend(limited, { baseDelayMs: 1, maxDelayMs: 1 }).save({ type: 'index', name: 'i1' }, new Uint8Array(5000));
    assert.equal(attempts, 2);
    assert.equal(limited.upload!.charged, 10_000);
  });
});
