import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { isAllZero, zeroRuns, ZERO_RUN_ALIGN } from '../../chunker/zero.js';

test('isAllZero finds a single non-zero byte anywhere, at any alignment', () => {
  for (const n of [0, 1, 7, 8, 9, 4096, 65535, 65536, 65537, 300_000]) {
    const backing = new Uint8Array(n + 3);
    for (const shift of [0, 1, 3]) {
      const view = backing.subarray(shift, shift + n);
      assert.equal(isAllZero(view), true, `n=${n} shift=${shift}`);
      const positions = n === 0 ? [] : [0, n - 1, randomInt(0, n), Math.min(n - 1, 65536)];
      for (const pos of positions) {
        view[pos] = 1 << randomInt(0, 8);
        assert.equal(isAllZero(view), false, `n=${n} shift=${shift} pos=${pos}`);
        view[pos] = 0;
      }
    }
    // Non-zero bytes just outside the view do not count.
    backing.fill(0xff);
    backing.fill(0, 1, 1 + n);
    assert.equal(isAllZero(backing.subarray(1, 1 + n)), true);
  }
});

/** Naive reference with the same block rule. */
function naiveRuns(data: Uint8Array, minRun: number): Array<{ offset: number; length: number }> {
  const runs: Array<{ offset: number; length: number }> = [];
  const blocks = Math.ceil(data.length / ZERO_RUN_ALIGN);
  let start = -1;
  for (let b = 0; b <= blocks; b++) {
    const block = data.subarray(b * ZERO_RUN_ALIGN, (b + 1) * ZERO_RUN_ALIGN);
    const zero = b < blocks && block.every((x) => x === 0);
    if (zero && start < 0) start = b * ZERO_RUN_ALIGN;
    if (!zero && start >= 0) {
      const end = Math.min(b * ZERO_RUN_ALIGN, data.length);
      if (end - start >= minRun) runs.push({ offset: start, length: end - start });
      start = -1;
    }
  }
  return runs;
}

test('zeroRuns finds the whole-block zero runs a naive scan finds', () => {
  for (let round = 0; round < 40; round++) {
    const blocks = randomInt(0, 200);
    const data = new Uint8Array(blocks * ZERO_RUN_ALIGN + randomInt(0, ZERO_RUN_ALIGN));
    for (let b = 0; b * ZERO_RUN_ALIGN < data.length; b++) {
      // Mostly data blocks and zero stretches, some with one stray byte.
      if (randomInt(0, 3) === 0) data[b * ZERO_RUN_ALIGN + randomInt(0, Math.min(ZERO_RUN_ALIGN, data.length - b * ZERO_RUN_ALIGN))] = 1;
    }
    const minRun = [1, 4096, 8192, 3 * 4096 + 1, 65536][round % 5];
    assert.deepEqual(zeroRuns(data, minRun), naiveRuns(data, minRun), `round ${round} minRun ${minRun}`);
  }
});

test('zeroRuns on fixed layouts', () => {
  const B = ZERO_RUN_ALIGN;
  const data = new Uint8Array(10 * B + 100);
  data[2 * B + 5] = 1; // block 2 has data
  data[7 * B] = 1; // block 7 has data
  assert.deepEqual(zeroRuns(data, 1), [
    { offset: 0, length: 2 * B },
    { offset: 3 * B, length: 4 * B },
    { offset: 8 * B, length: 2 * B + 100 },
  ]);
  assert.deepEqual(zeroRuns(data, 3 * B), [{ offset: 3 * B, length: 4 * B }]);
  assert.deepEqual(zeroRuns(new Uint8Array(0), 1), []);
  assert.deepEqual(zeroRuns(new Uint8Array(5 * B), B), [{ offset: 0, length: 5 * B }]);
  // Zeros that do not fill a block are not a run.
  const partial = new Uint8Array(2 * B).fill(1);
  partial.fill(0, 100, B + 3000);
  assert.deepEqual(zeroRuns(partial, 1), []);
  assert.throws(() => zeroRuns(data, 0), /minRun/);
});
