import { it } from 'node:test';
import assert from 'node:assert/strict';
import { WireBlobsBuilder } from '../../repo/restore-protocol.js';

const blob = (n: number, offset: number, length: number) => ({ id: new Uint8Array(32).fill(n), offset, length, rawLength: length * 2, compressed: n % 2 === 1 });

it("each worker's share of a range lists its blobs once with all their targets, and compacts to just their bytes", () => {
  const rangeStart = 1000;
  const stored = Uint8Array.from({ length: 100 }, (_, i) => i);
  const [a, b, c] = [blob(1, 1000, 10), blob(2, 1010, 30), blob(3, 1060, 5)];
  const [w0, w1] = [new WireBlobsBuilder(), new WireBlobsBuilder()];
  // Blob a goes to files of both workers, as in a file that two others share.
  w0.target(a, rangeStart, 6, 0);
  w1.target(a, rangeStart, 7, 0);
  w0.target(a, rangeStart, 8, 4096);
  w1.target(b, rangeStart, 7, 10);
  w0.target(c, rangeStart, 6, 10);
  assert.deepEqual([w0.count, w1.count], [2, 2]);

  assert.deepEqual([...w0.compact(stored)], [...stored.subarray(0, 10), ...stored.subarray(60, 65)]);
  const wire0 = w0.build('pack-1');
  assert.equal(wire0.pack, 'pack-1');
  // Per blob: offset in the copy, stored length, raw length, compressed, targets.
  assert.deepEqual([...wire0.blobs], [0, 10, 20, 1, 2, 10, 5, 10, 1, 1]);
  assert.deepEqual([...wire0.ids], [...a.id, ...c.id]);
  assert.deepEqual([...wire0.targets], [6, 0, 8, 4096, 6, 10]);

  // Not compacted: offsets stay those in the range.
  const wire1 = w1.build('pack-1');
  assert.deepEqual([...wire1.blobs], [0, 10, 20, 1, 1, 10, 30, 60, 0, 1]);
  assert.deepEqual([...wire1.ids], [...a.id, ...b.id]);
  assert.deepEqual([...wire1.targets], [7, 0, 7, 10]);
});
