/**
 * HChaCha20 (draft-irtf-cfrg-xchacha, section 2.2): derives a 256-bit subkey from a key
 * and the first 16 bytes of an XChaCha20 nonce. Node's crypto has no XChaCha20, but with
 * this subkey it reduces to the IETF ChaCha20-Poly1305 that Node does have natively.
 */

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]; // "expand 32-byte k"

function readLE32(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

function writeLE32(b: Uint8Array, i: number, v: number): void {
  b[i] = v & 0xff;
  b[i + 1] = (v >>> 8) & 0xff;
  b[i + 2] = (v >>> 16) & 0xff;
  b[i + 3] = (v >>> 24) & 0xff;
}

function rotl(v: number, n: number): number {
  return (v << n) | (v >>> (32 - n));
}

function quarterRound(s: Uint32Array, a: number, b: number, c: number, d: number): void {
  s[a] += s[b]; s[d] = rotl(s[d] ^ s[a], 16);
  s[c] += s[d]; s[b] = rotl(s[b] ^ s[c], 12);
  s[a] += s[b]; s[d] = rotl(s[d] ^ s[a], 8);
  s[c] += s[d]; s[b] = rotl(s[b] ^ s[c], 7);
}

export function hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  if (key.length !== 32) throw new RangeError(`HChaCha20 key must be 32 bytes, got ${key.length}`);
  if (nonce16.length !== 16) throw new RangeError(`HChaCha20 nonce must be 16 bytes, got ${nonce16.length}`);
  const s = new Uint32Array(16);
  s.set(SIGMA, 0);
  for (let i = 0; i < 8; i++) s[4 + i] = readLE32(key, 4 * i);
  for (let i = 0; i < 4; i++) s[12 + i] = readLE32(nonce16, 4 * i);
  for (let round = 0; round < 10; round++) {
    quarterRound(s, 0, 4, 8, 12);
    quarterRound(s, 1, 5, 9, 13);
    quarterRound(s, 2, 6, 10, 14);
    quarterRound(s, 3, 7, 11, 15);
    quarterRound(s, 0, 5, 10, 15);
    quarterRound(s, 1, 6, 11, 12);
    quarterRound(s, 2, 7, 8, 13);
    quarterRound(s, 3, 4, 9, 14);
  }
  // Unlike the ChaCha20 block function there is no final addition of the input state;
  // the subkey is words 0..3 and 12..15.
  const out = new Uint8Array(32);
  for (let i = 0; i < 4; i++) writeLE32(out, 4 * i, s[i]);
  for (let i = 0; i < 4; i++) writeLE32(out, 16 + 4 * i, s[12 + i]);
  s.fill(0);
  return out;
}
