import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodePart, decodeRoot, encodePart, encodeRoot, ImageMapError, MapExtent, normalizeExtents, partSize, splitIntoParts,
} from '../../repo/image-map.js';

const id = (n: number) => n.toString(16).padStart(64, '0');

function extentsFrom(spec: [gap: number, len: number, blob: number][]): MapExtent[] {
  let at = 0;
  return spec.map(([gap, len, blob]) => {
    const e = { imageOffset: at + gap, length: len, blob: id(blob), blobOffset: 0 };
    at = e.imageOffset + len;
    return e;
  });
}

test('parts and root round-trip, and encoding is canonical', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 6 })), { minLength: 1, maxLength: 200 }), (spec) => {
      const size = spec.reduce((n, [g, l]) => n + g + l, 0) + 7;
      const extents = normalizeExtents(extentsFrom(spec), size);
      const parts = splitIntoParts(extents, size, partSize(10, 10));
      assert.deepEqual(parts.flatMap((p) => p.extents), extents);
      for (const p of parts) {
        const bytes = encodePart(p);
        assert.deepEqual(decodePart(bytes), p);
        assert.deepEqual(encodePart(decodePart(bytes)), bytes);
      }
      const root = { size, parts: parts.map((p, i) => ({ start: p.start, end: p.end, id: id(1000 + i) })) };
      assert.deepEqual(decodeRoot(encodeRoot(root)), root);
    }),
    { numRuns: 200 },
  );
});

test('normalizeExtents merges continuations and rejects overlaps and out-of-range extents', () => {
  const merged = normalizeExtents(
    [
      { imageOffset: 100, length: 50, blob: id(1), blobOffset: 50 },
      { imageOffset: 50, length: 50, blob: id(1), blobOffset: 0 },
    ],
    1000,
  );
  assert.deepEqual(merged, [{ imageOffset: 50, length: 100, blob: id(1), blobOffset: 0 }]);
  assert.throws(() => normalizeExtents([{ imageOffset: 0, length: 10, blob: id(1), blobOffset: 0 }, { imageOffset: 5, length: 10, blob: id(2), blobOffset: 0 }], 100), /overlap/);
  assert.throws(() => normalizeExtents([{ imageOffset: 95, length: 10, blob: id(1), blobOffset: 0 }], 100), /outside the image/);
});

test('the decoder rejects damaged parts and roots with an ImageMapError, never a crash', () => {
  const part = encodePart({ start: 0, end: 10_000, extents: extentsFrom([[10, 100, 1], [0, 100, 2], [500, 100, 1]]) });
  const root = encodeRoot({ size: 10_000, parts: [{ start: 0, end: 4000, id: id(7) }, { start: 4000, end: 10_000, id: id(8) }] });
  let rejected = 0;
  fc.assert(
    fc.property(fc.boolean(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (isPart, flips, cut) => {
      const b = new Uint8Array(isPart ? part : root);
      for (const [at, v] of flips) b[at % b.length] = v;
      const bytes = cut % 5 === 0 ? b.subarray(0, cut % b.length) : b;
      try {
        isPart ? decodePart(bytes) : decodeRoot(bytes);
      } catch (err) {
        assert.ok(err instanceof ImageMapError, String(err));
        rejected++;
      }
    }),
    { numRuns: 3000 },
  );
  assert.ok(rejected > 1000, `only ${rejected} of 3000 mutations rejected`);
  // Specific damage: overlapping extents, an extent past the part end, a huge count.
  const v = new DataView(part.buffer.slice(0));
  const overl = new Uint8Array(v.buffer);
  const firstExtent = 32 + 2 * 32;
  new DataView(overl.buffer).setBigUint64(firstExtent + 20, 50n, true);
  assert.throws(() => decodePart(overl), /overlaps/);
  const past = new Uint8Array(part);
  new DataView(past.buffer).setBigUint64(16, 200n, true);
  assert.throws(() => decodePart(past), /past the part end/);
  const huge = new Uint8Array(part);
  new DataView(huge.buffer).setUint32(28, 0xffffffff, true);
  assert.throws(() => decodePart(huge), /counts say/);
});
