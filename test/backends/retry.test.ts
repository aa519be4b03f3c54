import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AlreadyExistsError, FileType, Handle, NotFoundError, ObjectInfo, PermanentError } from '../../backends/backend.js';
import { mapLimit } from '../../backends/concurrency.js';
import { MemoryBackend } from '../../backends/memory.js';
import { openBackend } from '../../backends/open.js';
import { RetryBackend, RetryInfo } from '../../backends/retry.js';
import { S3Backend } from '../../backends/s3.js';
import { nameOf } from './conformance.js';
import { FaultProxy } from './fault-proxy.js';
import { testS3, uniqueBucket } from './ceph.js';

const FAST = { baseDelayMs: 5, maxDelayMs: 50 };

/** Wraps a MemoryBackend and fails calls as a script says. */
class ScriptedBackend extends MemoryBackend {
  calls: Record<string, number> = {};
  constructor(private readonly script: (op: string, call: number) => Error | undefined) {
    super();
  }
  private fail(op: string): void {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
    const err = this.script(op, this.calls[op]);
    if (err) throw err;
  }
  override async save(h: Handle, data: Uint8Array): Promise<void> {
    this.fail('save');
    return super.save(h, data);
  }
  override async load(h: Handle, offset?: number, length?: number): Promise<Uint8Array> {
    this.fail('load');
    return super.load(h, offset, length);
  }
  override async *list(type: FileType): AsyncIterable<ObjectInfo> {
    let n = 0;
    for await (const info of super.list(type)) {
      if (n++ === 2) this.fail('list');
      yield info;
    }
  }
}

function econnreset(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

describe('RetryBackend', () => {
  const h: Handle = { type: 'data', name: 'ab01' };
  const data = new TextEncoder().encode('content');

  it('retries temporary failures with bounded, growing backoff and counts them by reason', async () => {
    const inner = new ScriptedBackend((op, n) => (op === 'load' && n <= 3 ? (n === 2 ? Object.assign(new Error('slow down'), { name: 'SlowDown' }) : econnreset()) : undefined));
    const seen: RetryInfo[] = [];
    const b = new RetryBackend(inner, { baseDelayMs: 8, maxDelayMs: 20, onRetry: (i) => seen.push(i) });
    await b.save(h, data);
    assert.deepEqual(await b.load(h), data);
    assert.equal(inner.calls.load, 4);
    assert.deepEqual(b.stats, { retries: 3, byReason: { ECONNRESET: 2, SlowDown: 1 } });
    assert.deepEqual(seen.map((i) => [i.op, i.attempt]), [['load', 1], ['load', 2], ['load', 3]]);
    seen.forEach((i, k) => assert.ok(i.delayMs >= 0 && i.delayMs <= Math.min(20, 8 * 2 ** k), `delay ${i.delayMs} of retry ${k + 1}`));
  });

  it('never retries permanent, not-found or already-exists failures', async () => {
    for (const err of [new PermanentError('bad key'), new NotFoundError(h, 'x'), new AlreadyExistsError(h, 'x')]) {
      const inner = new ScriptedBackend((op) => (op === 'load' ? err : undefined));
      const b = new RetryBackend(inner, FAST);
      await assert.rejects(b.load(h), err.constructor as typeof Error);
      assert.equal(inner.calls.load, 1, err.name);
      assert.equal(b.stats.retries, 0);
    }
  });

  it('gives up after maxAttempts with a PermanentError that says why', async () => {
    const inner = new ScriptedBackend((op) => (op === 'load' ? econnreset() : undefined));
    const b = new RetryBackend(inner, { ...FAST, maxAttempts: 4 });
    await assert.rejects(b.load(h), (err: Error) => err instanceof PermanentError && /load of data\/ab01 .* after 4 attempts: socket hang up/.test(err.message));
    assert.equal(inner.calls.load, 4);
    assert.equal(b.stats.retries, 3);
  });

  it('treats AlreadyExists after a retried save as success only when the size matches', async () => {
    // The first attempt stores the object but "loses" the reply.
    const lostReply = new ScriptedBackend(() => undefined);
    const realSave = MemoryBackend.prototype.save;
    let first = true;
    lostReply.save = async (hh, d) => {
      await realSave.call(lostReply, hh, d);
      if (first) {
        first = false;
        throw econnreset();
      }
    };
    const ok = new RetryBackend(lostReply, FAST);
    await ok.save(h, data);
    assert.equal(ok.stats.retries, 1);

    const other = new ScriptedBackend((op, n) => (op === 'save' && n === 2 ? econnreset() : undefined));
    await other.save(h, new TextEncoder().encode('different size'));
    const b = new RetryBackend(other, FAST);
    await assert.rejects(b.save(h, data), AlreadyExistsError);

    const noRetry = new RetryBackend(other, FAST);
    await assert.rejects(noRetry.save(h, new TextEncoder().encode('different size')), AlreadyExistsError, 'a first-attempt conflict stays a conflict');
  });

  it('restarts a failed listing without repeating names', async () => {
    const inner = new ScriptedBackend((op, n) => (op === 'list' && n === 1 ? econnreset() : undefined));
    for (let i = 0; i < 5; i++) await inner.save({ type: 'index', name: `i${i}` }, data);
    const b = new RetryBackend(inner, FAST);
    const names: string[] = [];
    for await (const o of b.list('index')) names.push(o.name);
    assert.deepEqual(names.sort(), ['i0', 'i1', 'i2', 'i3', 'i4']);
    assert.equal(b.stats.retries, 1);
  });
});

describe('S3 through a fault-injecting proxy (Ceph)', () => {
  let endpoint: string;
  before(async () => {
    endpoint = (await testS3()).endpoint;
  });

  it('saves and loads 100 objects of ~1 MiB byte for byte despite 5xx, resets and delays', { timeout: 240_000 }, async (t) => {
    const proxy = new FaultProxy({ target: endpoint, seed: 42, rates: { error: 0.1, slowDown: 0.3, reset: 0.02, delay: 0.05, maxDelayMs: 300 } });
    const url = await proxy.start();
    const bucket = uniqueBucket('faults');
    const b = await openBackend(`s3:${url}/${bucket}/repo`, { retry: { baseDelayMs: 20, maxDelayMs: 500 } }) as RetryBackend;
    try {
      await b.create();
      const objects = Array.from({ length: 100 }, (_, i) => randomBytes((1 << 20) - 5000 + i * 100));
      const handles = objects.map((d): Handle => ({ type: 'data', name: nameOf(d) }));
      await mapLimit(objects, 8, (d, i) => b.save(handles[i], d));
      await mapLimit(objects, 8, async (d, i) => {
        assert.ok(Buffer.from(await b.load(handles[i])).equals(d), `object ${i} whole`);
        assert.ok(Buffer.from(await b.load(handles[i], 1000 + i, 70_000)).equals(d.subarray(1000 + i, 71_000 + i)), `object ${i} range`);
      });
      let listed = 0;
      for await (const _ of b.list('data')) listed++;
      assert.equal(listed, 100);
      await mapLimit(handles, 8, (hh) => b.remove(hh));

      t.diagnostic(`proxy ${JSON.stringify(proxy.counts)}, retries ${JSON.stringify(b.stats)}`);
      assert.ok(proxy.counts.errors > 0 && proxy.counts.resets > 0 && proxy.counts.delays > 0, `faults injected: ${JSON.stringify(proxy.counts)}`);
      assert.ok(b.stats.retries > 0, 'retries counted');
      assert.ok((b.stats.byReason.SlowDown ?? 0) > 0, `SlowDown among reasons: ${JSON.stringify(b.stats.byReason)}`);
    } finally {
      await b.close();
      await proxy.stop();
    }
  });

  it('treats a save whose reply was lost as done', async () => {
    let putsSeen = 0;
    const proxy = new FaultProxy({ target: endpoint, choose: (req) => (req.method === 'PUT' && req.url?.includes('/index/') && putsSeen++ === 0 ? { kind: 'reset' } : { kind: 'pass' }) });
    const url = await proxy.start();
    const b = await openBackend(`s3:${url}/${uniqueBucket('lost')}`, { retry: FAST }) as RetryBackend;
    try {
      await b.create();
      const d = randomBytes(4096);
      const hh: Handle = { type: 'index', name: nameOf(d) };
      await b.save(hh, d);
      assert.equal(proxy.counts.resets, 1);
      assert.equal(b.stats.retries, 1);
      assert.ok(Buffer.from(await b.load(hh)).equals(d));
      await assert.rejects(b.save(hh, d), AlreadyExistsError, 'a later save of the same name is still refused');
    } finally {
      await b.close();
      await proxy.stop();
    }
  });

  it('fails fast with a PermanentError naming the bucket on wrong credentials', async () => {
    const bucket = uniqueBucket('creds');
    const good = new S3Backend({ endpoint, bucket, prefix: '', pathStyle: true });
    await good.create();
    await good.close();
    for (const credentials of [
      { accessKeyId: 'nosuchaccesskey', secretAccessKey: 'whatever' },
      { accessKeyId: process.env.AWS_ACCESS_KEY_ID!, secretAccessKey: 'wrong-secret' },
    ]) {
      const b = await openBackend(`s3:${endpoint}/${bucket}/repo`, { s3: { credentials } }) as RetryBackend;
      const started = Date.now();
      const isPermanent = (err: Error) => err instanceof PermanentError && err.message.includes(`"${bucket}"`) && /access key and secret/.test(err.message);
      await assert.rejects(b.save({ type: 'index', name: 'ab' }, tiny()), isPermanent);
      await assert.rejects(b.stat({ type: 'index', name: 'ab' }), isPermanent);
      await assert.rejects(b.isRepository(), isPermanent);
      assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
      assert.equal(b.stats.retries, 0);
      await b.close();
    }
  });

  it('fails with a PermanentError naming a missing bucket', async () => {
    const bucket = uniqueBucket('missing');
    const b = await openBackend(`s3:${endpoint}/${bucket}/repo`) as RetryBackend;
    try {
      const isMissing = (err: Error) => err instanceof PermanentError && err.message.includes(`"${bucket}" does not exist`);
      await assert.rejects(b.isRepository(), isMissing);
      await assert.rejects(b.load({ type: 'index', name: 'ab' }), isMissing);
      await assert.rejects(b.save({ type: 'index', name: 'ab' }, tiny()), isMissing);
      await assert.rejects(async () => {
        for await (const _ of b.list('snapshots'));
      }, isMissing);
      assert.equal(b.stats.retries, 0);
    } finally {
      await b.close();
    }
  });
});

function tiny(): Uint8Array {
  return new TextEncoder().encode('x');
}

