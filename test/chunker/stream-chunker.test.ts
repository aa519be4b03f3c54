import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { get_chunks } from 'fastcdc-wasm';
import { StreamChunker, WindowPool, chunkBuffer } from '../../chunker/stream-chunker.js';
import { DEFAULT_CHUNKER, type ChunkerParams } from '../../chunker/params.js';

const TINY: ChunkerParams = { min: 64, avg: 256, max: 1024 };
const SMALL: ChunkerParams = { min: 4096, avg: 16384, max: 65536 };
/**
 * avg far above min: fastcdc's "center" (avg - 1.5 min) then depends on how many bytes
 * remain whenever fewer than it do, so windows end inside that stretch all the time.
 */
const WIDE: ChunkerParams = { min: 64, avg: 4096, max: 16384 };

/** Independent reference: one get_chunks call over the whole buffer. */
function referenceLengths(data: Uint8Array, p: ChunkerParams): number[] {
  if (data.length === 0) return [];
  const cuts = get_chunks(data.slice(), p.min, p.avg, p.max);
  return Array.from(cuts.subarray(1), (c, i) => c - cuts[i]);
}

/** A seeded PRNG so that a failing piece pattern can be replayed from its seed. */
function prng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s % n;
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

/**
 * Feeds `data` in pieces of random size (0 included) through one reused scratch buffer
 * that is overwritten after every push, so chunks that alias caller memory or get
 * overwritten later would show up as wrong bytes at the end.
 */
function streamChunks(data: Uint8Array, p: ChunkerParams, seed: number, maxPiece: number): Uint8Array[] {
  const rand = prng(seed);
  const chunker = new StreamChunker(p);
  const scratch = new Uint8Array(maxPiece);
  const chunks: Uint8Array[] = [];
  let off = 0;
  while (off < data.length) {
    const n = rand(4) === 0 ? 0 : Math.min(data.length - off, 1 + rand(maxPiece));
    scratch.set(data.subarray(off, off + n));
    chunks.push(...chunker.push(scratch.subarray(0, n)));
    scratch.fill(0xa5);
    off += n;
  }
  chunks.push(...chunker.finish());
  return chunks;
}

function checkSame(data: Uint8Array, p: ChunkerParams, chunks: Uint8Array[], what: string): void {
  assert.deepEqual(chunks.map((c) => c.length), referenceLengths(data, p), `${what}: chunk lengths`);
  assert.ok(Buffer.from(concat(chunks)).equals(data), `${what}: concatenation equals the input`);
}

const kinds: Array<[string, (n: number) => Uint8Array]> = [
  ['random', (n) => new Uint8Array(randomBytes(n))],
  ['zeros', (n) => new Uint8Array(n)],
  ['pattern', (n) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 10)) & 0xff)],
];

test('tiny parameters, 1-byte and small pieces: same chunks as the whole buffer', () => {
  for (const [kind, make] of kinds) {
    for (const n of [0, 1, 63, 64, 65, 1023, 1024, 1025, 4095, 4096, 4097, 20_000]) {
      const data = make(n);
      const seed = randomInt(1, 2 ** 31);
      checkSame(data, TINY, streamChunks(data, TINY, seed, 1), `${kind} n=${n} 1-byte pieces`);
      checkSame(data, TINY, streamChunks(data, TINY, seed, 300), `${kind} n=${n} seed=${seed}`);
      checkSame(data, TINY, chunkBuffer(data, TINY), `${kind} n=${n} chunkBuffer`);
    }
  }
});

test('small parameters, random sizes and pieces: same chunks as the whole buffer', () => {
  for (let round = 0; round < 30; round++) {
    const [kind, make] = kinds[round % kinds.length];
    const data = make(randomInt(0, 3 << 20));
    const seed = randomInt(1, 2 ** 31);
    const maxPiece = [1000, 70_000, 300_000, 4 << 20][round % 4];
    checkSame(data, SMALL, streamChunks(data, SMALL, seed, maxPiece), `${kind} n=${data.length} seed=${seed} maxPiece=${maxPiece}`);
    checkSame(data, SMALL, chunkBuffer(data, SMALL), `${kind} n=${data.length} chunkBuffer`);
  }
});

test('avg far above min, cuts near the end of every window: same chunks as the whole buffer', () => {
  for (let round = 0; round < 24; round++) {
    const [kind, make] = kinds[round % kinds.length];
    const data = make(randomInt(0, 400_000));
    const seed = randomInt(1, 2 ** 31);
    const maxPiece = [1, 100, 5000, 40_000][round % 4];
    checkSame(data, WIDE, streamChunks(data, WIDE, seed, maxPiece), `${kind} n=${data.length} seed=${seed} maxPiece=${maxPiece}`);
    checkSame(data, WIDE, chunkBuffer(data, WIDE), `${kind} n=${data.length} chunkBuffer`);
  }
});

test('default parameters over several windows: same chunks as the whole buffer', () => {
  const data = new Uint8Array(randomBytes(70 << 20));
  const seed = randomInt(1, 2 ** 31);
  checkSame(data, DEFAULT_CHUNKER, streamChunks(data, DEFAULT_CHUNKER, seed, 5 << 20), `seed=${seed}`);
  const whole = new StreamChunker(DEFAULT_CHUNKER);
  checkSame(data, DEFAULT_CHUNKER, [...whole.push(data), ...whole.finish()], 'one push');
  checkSame(data, DEFAULT_CHUNKER, chunkBuffer(data, DEFAULT_CHUNKER), 'chunkBuffer');
});

test('with a window pool, streams reuse a few windows and still give the same chunks', () => {
  const pool = new WindowPool();
  const windows = new Set<ArrayBufferLike>();
  for (let stream = 0; stream < 3; stream++) {
    const data = new Uint8Array(randomBytes(300_000 + stream * 50_000));
    const seed = randomInt(1, 2 ** 31);
    const rand = prng(seed);
    const chunker = new StreamChunker(SMALL, pool);
    const copies: Uint8Array[] = [];
    // The caller copies what it was given, then releases it, as the chunk worker does
    // after sealing a batch; a window written again too early would change the bytes.
    const take = (chunks: Uint8Array[]) => {
      for (const c of chunks) {
        windows.add(c.buffer);
        copies.push(c.slice());
      }
      chunker.release();
    };
    for (let off = 0; off < data.length; ) {
      const n = Math.min(data.length - off, 1 + rand(30_000));
      take(chunker.push(data.subarray(off, off + n)));
      off += n;
    }
    take(chunker.finish());
    checkSame(data, SMALL, copies, `stream ${stream} seed=${seed}`);
  }
  // 3 streams of 300-400 KB through windows of 96 KiB: about 12 windows without reuse.
  assert.ok(windows.size <= 3, `windows used: ${windows.size}`);
});

test('chunks respect min and max, and complete chunks come out before finish', () => {
  const data = new Uint8Array(randomBytes(2 << 20));
  const chunker = new StreamChunker(SMALL);
  const early: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += 10_000) early.push(...chunker.push(data.subarray(off, off + 10_000)));
  const late = chunker.finish();
  assert.ok(early.length > 0, 'chunks are emitted while streaming');
  // What is held back is less than one window (max + 2 avg) plus the chunk in progress.
  assert.ok(late.reduce((n, c) => n + c.length, 0) < 2 * SMALL.max + 2 * SMALL.avg);
  const all = [...early, ...late];
  all.forEach((c, i) => {
    assert.ok(c.length <= SMALL.max, `chunk ${i} <= max`);
    if (i < all.length - 1) assert.ok(c.length >= SMALL.min, `chunk ${i} >= min`);
  });
});

test('misuse and bad parameters give clear errors', () => {
  const c = new StreamChunker(TINY);
  c.finish();
  assert.throws(() => c.push(new Uint8Array(1)), /after finish/);
  assert.throws(() => c.finish(), /twice/);
  assert.deepEqual(new StreamChunker(TINY).finish(), []);
  assert.throws(() => new StreamChunker({ min: 10, avg: 256, max: 1024 }), /min/);
  assert.throws(() => new StreamChunker({ min: 64, avg: 2048, max: 1024 }), /min <= avg <= max/);
  assert.throws(() => new StreamChunker({ min: 64, avg: 256, max: 1.5e9 }), /max/);
  assert.throws(() => chunkBuffer(new Uint8Array(10), { min: 64, avg: NaN, max: 1024 }), /avg/);
});

test('shift resistance: inserting bytes near the start keeps most chunks', () => {
  const data = new Uint8Array(randomBytes(20 << 20));
  const shifted = concat([data.subarray(0, 5000), new Uint8Array(randomBytes(7)), data.subarray(5000)]);
  const digest = (c: Uint8Array): string => createHash('sha256').update(c).digest('hex');
  const before = new Set(chunkBuffer(data, DEFAULT_CHUNKER).map(digest));
  const after = chunkBuffer(shifted, DEFAULT_CHUNKER);
  const sharedBytes = after.filter((c) => before.has(digest(c))).reduce((n, c) => n + c.length, 0);
  assert.ok(after.length >= 5, `expected several chunks, got ${after.length}`);
  assert.ok(sharedBytes / shifted.length > 0.8, `only ${(100 * sharedBytes / shifted.length).toFixed(1)}% shared`);
});
