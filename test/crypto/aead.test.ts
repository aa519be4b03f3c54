import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import sodium from 'libsodium-wrappers-sumo';
import { seal, open, sealWithNonce, NONCE_BYTES, TAG_BYTES, OVERHEAD } from '../../crypto/aead.js';
import { DecryptError } from '../../crypto/decrypt-error.js';
import { hchacha20 } from '../../crypto/hchacha20.js';

before(async () => {
  await sodium.ready;
});

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s|:/g, ''), 'hex'));

function sodiumSeal(key: Uint8Array, nonce: Uint8Array, pt: Uint8Array): Uint8Array {
  const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(pt, null, null, nonce, key);
  const out = new Uint8Array(NONCE_BYTES + ct.length);
  out.set(nonce, 0);
  out.set(ct, NONCE_BYTES);
  return out;
}

function sodiumOpen(key: Uint8Array, sealed: Uint8Array): Uint8Array {
  return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
    null, sealed.subarray(NONCE_BYTES), null, sealed.subarray(0, NONCE_BYTES), key);
}

test('constants', () => {
  assert.equal(NONCE_BYTES, 24);
  assert.equal(TAG_BYTES, 16);
  assert.equal(OVERHEAD, 40);
});

test('HChaCha20 matches the draft-irtf-cfrg-xchacha 2.2.1 test vector', () => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i);
  const nonce = fromHex('000000090000004a0000000031415927');
  assert.deepEqual(hchacha20(key, nonce),
    fromHex('82413b42 27b27bfe d30e4250 8a877d73 a0f9e4d5 8a74a853 c12ec413 26d3ecdc'));
});

test('HChaCha20 matches libsodium crypto_core_hchacha20 on random inputs', () => {
  for (let i = 0; i < 50; i++) {
    const key = bytes(32);
    const nonce = bytes(16);
    assert.deepEqual(hchacha20(key, nonce), sodium.crypto_core_hchacha20(nonce, key, null));
  }
});

const LENGTHS = [0, 1, 15, 16, 17, 63, 64, 65, 1000, 4096, 65535, 65536, 65537, 200_000, 1 << 20];

test('sealWithNonce is byte-for-byte libsodium crypto_aead_xchacha20poly1305_ietf_encrypt', () => {
  const lengths = [...LENGTHS, ...Array.from({ length: 40 }, () => randomInt(0, 300_000))];
  for (const n of lengths) {
    const key = bytes(32);
    const nonce = bytes(24);
    const pt = bytes(n);
    const ours = sealWithNonce(key, nonce, pt);
    assert.equal(ours.length, n + OVERHEAD);
    assert.deepEqual(ours, sodiumSeal(key, nonce, pt), `length ${n}`);
  }
});

test('libsodium opens what we seal, and we open what libsodium seals', () => {
  for (const n of LENGTHS) {
    const key = bytes(32);
    const pt = bytes(n);
    assert.deepEqual(sodiumOpen(key, seal(key, pt)), pt, `libsodium opens ours, length ${n}`);
    assert.deepEqual(open(key, sodiumSeal(key, bytes(24), pt)), pt, `we open libsodium's, length ${n}`);
  }
});

test('seal uses a fresh nonce each time', () => {
  const key = bytes(32);
  const pt = bytes(100);
  const a = seal(key, pt);
  const b = seal(key, pt);
  assert.notDeepEqual(a.subarray(0, NONCE_BYTES), b.subarray(0, NONCE_BYTES));
  assert.notDeepEqual(a, b);
  assert.deepEqual(open(key, a), pt);
  assert.deepEqual(open(key, b), pt);
});

test('nonces stay distinct across the draws of the nonce pool', () => {
  const key = bytes(32);
  const pt = bytes(10);
  const seen = new Set<string>();
  const first = seal(key, pt);
  // Three times the 1,024 nonces of one draw.
  for (let i = 0; i < 3 * 1024; i++) seen.add(Buffer.from(seal(key, pt).subarray(0, NONCE_BYTES)).toString('hex'));
  assert.equal(seen.size, 3 * 1024);
  assert.ok(!seen.has(Buffer.from(first.subarray(0, NONCE_BYTES)).toString('hex')));
  assert.deepEqual(open(key, first), pt, 'a sealed blob keeps its nonce after later draws');
});

test('flipping any single byte makes open fail with DecryptError', () => {
  const key = bytes(32);
  const pt = bytes(300);
  const sealed = seal(key, pt);
  for (let i = 0; i < sealed.length; i++) {
    const bad = sealed.slice();
    bad[i] ^= 1 << randomInt(0, 8);
    assert.throws(() => open(key, bad), DecryptError, `byte ${i}`);
  }
});

test('open rejects the wrong key, truncation and too-short input with DecryptError', () => {
  const key = bytes(32);
  const sealed = seal(key, bytes(1000));
  assert.throws(() => open(bytes(32), sealed), DecryptError);
  assert.throws(() => open(key, sealed.subarray(0, sealed.length - 1)), DecryptError);
  assert.throws(() => open(key, sealed.subarray(1)), DecryptError);
  for (const n of [0, 1, OVERHEAD - 1]) {
    assert.throws(() => open(key, sealed.subarray(0, n)), DecryptError, `length ${n}`);
  }
  // Exactly the overhead is a valid sealed empty message, not "too short".
  assert.deepEqual(open(key, seal(key, new Uint8Array(0))), new Uint8Array(0));
});

test('wrong-sized keys and nonces are rejected', () => {
  assert.throws(() => seal(bytes(31), bytes(1)), RangeError);
  assert.throws(() => open(bytes(33), bytes(100)), RangeError);
  assert.throws(() => sealWithNonce(bytes(32), bytes(12), bytes(1)), RangeError);
});
