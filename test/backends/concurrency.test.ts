import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Semaphore } from '../../backends/concurrency.js';

/** Resolves after pending promise reactions have run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

it('a weighted semaphore grants in order, never over its limit, and lets one oversized weight through alone', async () => {
  const s = new Semaphore(10);
  const granted: string[] = [];
  const take = (name: string, w: number) => s.acquire(w).then(() => granted.push(name));
  void take('a6', 6);
  void take('b5', 5); // does not fit beside a6
  void take('c1', 1); // would fit, but must not pass b5
  await settle();
  assert.deepEqual(granted, ['a6']);
  assert.equal(s.tryAcquire(), false, 'tryAcquire must not pass the queue');
  s.release(6);
  await settle();
  assert.deepEqual(granted, ['a6', 'b5', 'c1']);
  void take('d25', 25); // above the limit: waits for everything else to go
  await settle();
  assert.deepEqual(granted, ['a6', 'b5', 'c1']);
  s.release(5);
  await settle();
  assert.deepEqual(granted, ['a6', 'b5', 'c1'], 'c1 is still held');
  s.release(1);
  await settle();
  assert.deepEqual(granted, ['a6', 'b5', 'c1', 'd25']);
  assert.equal(s.tryAcquire(), false);
  s.release(25);
  assert.equal(s.tryAcquire(), true);
});

it('an unweighted semaphore hands a released slot to the oldest waiter', async () => {
  const s = new Semaphore(1);
  await s.acquire();
  const order: number[] = [];
  void s.acquire().then(() => order.push(1));
  void s.acquire().then(() => order.push(2));
  s.release();
  await settle();
  assert.deepEqual(order, [1]);
  assert.equal(s.tryAcquire(), false);
  s.release();
  await settle();
  assert.deepEqual(order, [1, 2]);
});
