import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { blake3 } from 'hash-wasm';
import { blobHasherKind, createBlobHasher } from '../../crypto/blob-id.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// From the official BLAKE3 test_vectors.json: input is bytes i % 251, the key is the
// ASCII string below; these are the first 32 bytes of each keyed_hash output.
const VECTOR_KEY = new TextEncoder().encode('whats the Elvish word for friend');
const KEYED_VECTORS: Array<[number, string]> = [
  [0, '92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26'],
  [1, '6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b'],
  [1023, 'c951ecdf03288d0fcc96ee3413563d8a6d3589547f2c2fb36d9786470f1b9d6e'],
  [1024, '75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4'],
  [1025, '357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69'],
  [2049, '9f29700902f7c86e514ddc4df1e3049f258b2472b6dd5267f61bf13983b78dd5'],
  [4097, '00df940cd36bb9fa7cbbc3556744e0dbc8191401afe70520ba292ee3ca80abbc'],
  [7169, 'ed9b1a922c046fdb3d423ae34e143b05ca1bf28b710432857bf738bcedbfa511'],
];

const vectorInput = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i % 251);

for (const kind of ['native', 'wasm'] as const) {
  test(`${kind}: keyed hashes match the official BLAKE3 test vectors, reusing one hasher`, async () => {
    assert.equal(VECTOR_KEY.length, 32);
    const hash = await createBlobHasher(VECTOR_KEY, kind);
    for (const [n, expected] of KEYED_VECTORS) assert.equal(hex(hash(vectorInput(n))), expected, `input_len ${n}`);
    // Again in reverse order: no state leaks from one call into the next.
    for (const [n, expected] of [...KEYED_VECTORS].reverse()) assert.equal(hex(hash(vectorInput(n))), expected);
  });
}

test('the native hasher is the one used here, and gives the WASM ids for every size up to 9 MiB', async () => {
  // The platforms CI runs on have the prebuilt binary; a fallback here would hide a lost speed-up.
  assert.equal(blobHasherKind(), 'native');
  const key = new Uint8Array(randomBytes(32));
  const [n, w] = [await createBlobHasher(key, 'native'), await createBlobHasher(key, 'wasm')];
  const data = new Uint8Array(randomBytes(9 * 1024 * 1024));
  for (const size of [0, 1, 63, 64, 65, 1023, 1024, 1025, 4096, 65_537, 1 << 20, 8 * 1024 * 1024 + 3, data.length]) {
    assert.equal(hex(n(data.subarray(0, size))), hex(w(data.subarray(0, size))), `size ${size}`);
  }
});

test("hash-wasm's unkeyed BLAKE3 of 'abc' is the known value", async () => {
  assert.equal(await blake3('abc'), '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85');
});

test('ids are deterministic, keyed, and 32 bytes', async () => {
  const key = new Uint8Array(randomBytes(32));
  const hash = await createBlobHasher(key);
  const other = await createBlobHasher(new Uint8Array(randomBytes(32)));
  const data = new Uint8Array(randomBytes(100_000));
  const id = hash(data);
  assert.equal(id.length, 32);
  assert.deepEqual(hash(data), id);
  assert.deepEqual((await createBlobHasher(key))(data), id);
  assert.notDeepEqual(other(data), id);
  assert.notEqual(hex(id), await blake3(data));
  const changed = data.slice();
  changed[99_999] ^= 1;
  assert.notDeepEqual(hash(changed), id);
});

test('a wrong-sized key is rejected', async () => {
  await assert.rejects(createBlobHasher(new Uint8Array(16)), RangeError);
});
