/**
 * XChaCha20-Poly1305 (IETF), byte-compatible with libsodium's
 * crypto_aead_xchacha20poly1305_ietf_*, with no additional data.
 * Sealed layout: nonce (24) || ciphertext || tag (16).
 *
 * libsodium-wrappers runs as WASM at roughly a fifth of the speed of Node's native
 * ChaCha20-Poly1305, and every blob goes through here, so we build XChaCha20 from the
 * native primitive: subkey = HChaCha20(key, nonce[0..16]), then IETF ChaCha20-Poly1305
 * with the 12-byte nonce 0x00000000 || nonce[16..24]. The tests check it against
 * libsodium byte for byte. The random 24-byte nonce makes collisions negligible even
 * for billions of blobs under one key, which 12-byte nonces would not.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptError } from './decrypt-error.js';
import { hchacha20 } from './hchacha20.js';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 24;
export const TAG_BYTES = 16;
export const OVERHEAD = NONCE_BYTES + TAG_BYTES;

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_BYTES) throw new RangeError(`encryption key must be ${KEY_BYTES} bytes, got ${key.length}`);
}

function ietfNonce(nonce: Uint8Array): Uint8Array {
  const n = new Uint8Array(12);
  n.set(nonce.subarray(16, 24), 4);
  return n;
}

/**
 * Nonces are drawn from the CSPRNG a thousand at a time: each randomBytes call cost 4-13
 * µs (more with both cores busy), about half a second per chunk worker in the bench's
 * first backup. Each nonce is handed out once; sealing copies it.
 */
const NONCES_PER_DRAW = 1024;
let nonces = new Uint8Array(0);
let nextNonce = 0;

function freshNonce(): Uint8Array {
  if (nextNonce + NONCE_BYTES > nonces.length) {
    nonces = new Uint8Array(randomBytes(NONCE_BYTES * NONCES_PER_DRAW));
    nextNonce = 0;
  }
  const n = nonces.subarray(nextNonce, nextNonce + NONCE_BYTES);
  nextNonce += NONCE_BYTES;
  return n;
}

export function seal(key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return sealWithNonce(key, freshNonce(), plaintext);
}

/** Internal: seal with a caller-chosen nonce. Only tests should call this; reusing a nonce breaks the cipher. */
export function sealWithNonce(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array {
  checkKey(key);
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`nonce must be ${NONCE_BYTES} bytes, got ${nonce.length}`);
  const subkey = hchacha20(key, nonce.subarray(0, 16));
  try {
    const cipher = createCipheriv('chacha20-poly1305', subkey, ietfNonce(nonce), { authTagLength: TAG_BYTES });
    const out = new Uint8Array(NONCE_BYTES + plaintext.length + TAG_BYTES);
    out.set(nonce, 0);
    const body = cipher.update(plaintext);
    const rest = cipher.final(); // empty for a stream cipher, but part of the contract
    out.set(body, NONCE_BYTES);
    out.set(rest, NONCE_BYTES + body.length);
    out.set(cipher.getAuthTag(), NONCE_BYTES + plaintext.length);
    return out;
  } finally {
    subkey.fill(0);
  }
}

export function open(key: Uint8Array, sealed: Uint8Array): Uint8Array {
  checkKey(key);
  if (sealed.length < OVERHEAD) {
    throw new DecryptError(`sealed data is ${sealed.length} bytes, shorter than the ${OVERHEAD}-byte nonce and tag`);
  }
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tagStart = sealed.length - TAG_BYTES;
  const subkey = hchacha20(key, nonce.subarray(0, 16));
  try {
    const decipher = createDecipheriv('chacha20-poly1305', subkey, ietfNonce(nonce), { authTagLength: TAG_BYTES });
    decipher.setAuthTag(sealed.subarray(tagStart));
    const body = decipher.update(sealed.subarray(NONCE_BYTES, tagStart));
    try {
      decipher.final();
    } catch {
      body.fill(0);
      throw new DecryptError('authentication failed: the data was modified or the key is wrong');
    }
    return new Uint8Array(body.buffer, body.byteOffset, body.length);
  } finally {
    subkey.fill(0);
  }
}
