import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IndexedBlob } from '../../repo/blob.js';
import { planPackReads } from '../../repo/pack-reads.js';

function blob(pack: string, offset: number, length: number): IndexedBlob {
  return { type: 'data', id: new Uint8Array([offset & 0xff]), pack, offset, length, rawLength: length, compressed: false };
}

const limits = { maxGap: 100, maxLength: 1000 };
const shape = (reads: ReturnType<typeof planPackReads>) => reads.map((r) => [r.pack, r.offset, r.length, r.blobs.map((b) => b.offset)]);

describe('planPackReads', () => {
  it('reads adjacent and nearby blobs of a pack with one request, in order of first use', () => {
    const reads = planPackReads([blob('b', 0, 50), blob('a', 300, 10), blob('a', 0, 100), blob('a', 150, 100), blob('b', 50, 50)], limits);
    assert.deepEqual(shape(reads), [
      ['b', 0, 100, [0, 50]],
      ['a', 0, 310, [0, 150, 300]],
    ]);
  });

  it('splits at a gap larger than maxGap and before a read would exceed maxLength', () => {
    assert.deepEqual(shape(planPackReads([blob('a', 0, 10), blob('a', 111, 10)], limits)), [
      ['a', 0, 10, [0]],
      ['a', 111, 10, [111]],
    ]);
    assert.deepEqual(shape(planPackReads([blob('a', 0, 600), blob('a', 600, 600), blob('a', 1200, 300)], limits)), [
      ['a', 0, 600, [0]],
      ['a', 600, 900, [600, 1200]],
    ]);
  });

  it('gives a blob larger than maxLength a read of its own and reads a shared blob once', () => {
    assert.deepEqual(shape(planPackReads([blob('a', 0, 5000), blob('a', 5000, 10), blob('a', 0, 5000)], limits)), [
      ['a', 0, 5000, [0]],
      ['a', 5000, 10, [5000]],
    ]);
  });

  it('covers every blob exactly once, within the limits', () => {
    const arbBlob = fc.record({ pack: fc.constantFrom('p1', 'p2', 'p3'), slot: fc.integer({ min: 0, max: 200 }), length: fc.integer({ min: 1, max: 400 }) });
    fc.assert(
      fc.property(fc.array(arbBlob, { maxLength: 60 }), (specs) => {
        // Blobs of a pack do not overlap: place each slot at slot * 500.
        const blobs = specs.map((s) => blob(s.pack, s.slot * 500, s.length));
        const reads = planPackReads(blobs, limits);
        const covered = reads.flatMap((r) => r.blobs.map((b) => `${r.pack}:${b.offset}`));
        assert.equal(new Set(covered).size, covered.length, 'no blob twice');
        assert.deepEqual(new Set(covered), new Set(blobs.map((b) => `${b.pack}:${b.offset}`)));
        for (const r of reads) {
          assert.ok(r.length <= limits.maxLength || r.blobs.length === 1, 'within maxLength');
          for (const b of r.blobs) assert.ok(b.pack === r.pack && b.offset >= r.offset && b.offset + b.length <= r.offset + r.length, 'blob inside its read');
        }
      }),
      { numRuns: 300 },
    );
  });
});
