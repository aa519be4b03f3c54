import { it } from 'node:test';
import assert from 'node:assert/strict';
import { PackCache } from '../../repo/pack-cache.js';

it('PackCache shares concurrent loads, keeps recent packs within its budget and forgets failed loads', async () => {
  const loads: string[] = [];
  const cache = new PackCache(250);
  const loader = (name: string, size: number) => async () => {
    loads.push(name);
    await new Promise((r) => setTimeout(r, 5));
    return new Uint8Array(size).fill(name.charCodeAt(0));
  };
  const [a1, a2] = await Promise.all([cache.get('a', loader('a', 100)), cache.get('a', loader('a', 100))]);
  assert.equal(a1, a2);
  assert.deepEqual(loads, ['a']);

  await cache.get('b', loader('b', 100));
  await cache.get('a', loader('a', 100)); // a is now the most recent
  await cache.get('c', loader('c', 100)); // over budget: b, the least recent, goes
  await cache.get('a', loader('a', 100));
  await cache.get('b', loader('b', 100));
  assert.deepEqual(loads, ['a', 'b', 'c', 'b']);

  await cache.get('huge', loader('h', 1000));
  assert.equal((await cache.get('huge', loader('h', 1000))).length, 1000, 'a pack over the whole budget is still served');
  assert.deepEqual(loads, ['a', 'b', 'c', 'b', 'h']);

  let fail = true;
  const flaky = async () => {
    loads.push('flaky');
    if (fail) throw new Error('network');
    return new Uint8Array(1);
  };
  await assert.rejects(cache.get('f', flaky), /network/);
  fail = false;
  assert.equal((await cache.get('f', flaky)).length, 1, 'a failed load is tried again');
});
