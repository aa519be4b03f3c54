/**
 * Blob ids: keyed BLAKE3 of the plaintext. Keyed, so that whoever holds the storage
 * cannot confirm that a known file is in the repository by hashing it themselves.
 */
import { createBLAKE3 } from 'hash-wasm';

export const BLOB_ID_KEY_BYTES = 32;
export const BLOB_ID_BYTES = 32;

/**
 * Returns a synchronous hasher. It reuses one WASM hasher instance, which is safe
 * because each call runs init/update/digest to completion without yielding.
 */
export async function createBlobHasher(key: Uint8Array): Promise<(data: Uint8Array) => Uint8Array> {
  if (key.length !== BLOB_ID_KEY_BYTES) {
    throw new RangeError(`blob id key must be ${BLOB_ID_KEY_BYTES} bytes, got ${key.length}`);
  }
  const hasher = await createBLAKE3(BLOB_ID_BYTES * 8, key);
  return (data: Uint8Array): Uint8Array => {
    hasher.init();
    hasher.update(data);
    return hasher.digest('binary');
  };
}
