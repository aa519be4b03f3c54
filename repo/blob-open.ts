/**
 * Opening a stored blob: decrypt, decompress, check the id. Shared by the repository
 * (main thread) and the restore workers, so a swapped or damaged blob is caught in both.
 */
import { open as openSealed } from '../crypto/aead.js';
import { IndexedBlob } from './blob.js';
import { decompress, decompressReusing } from './compression.js';
import { CorruptObjectError } from './errors/corrupt-object-error.js';
import { toHex } from './hex.js';

/**
 * The blob's plaintext, checked against its id. With `transient`, it may be a view of a
 * buffer that the next call overwrites: for callers that only write or check it.
 */
export function openStoredBlob(encryptKey: Uint8Array, hashBlob: (data: Uint8Array) => Uint8Array, entry: IndexedBlob, stored: Uint8Array, transient = false): Uint8Array {
  return checkedPlaintext(hashBlob, entry, openPayload(encryptKey, entry, stored), transient);
}

/** Decrypts a stored blob to its payload, which is still compressed if the entry says so. */
export function openPayload(encryptKey: Uint8Array, entry: IndexedBlob, stored: Uint8Array): Uint8Array {
  if (stored.length !== entry.length) throw new CorruptObjectError(`data/${entry.pack}`, `truncated at ${label(entry)}`);
  try {
    return openSealed(encryptKey, stored);
  } catch {
    throw new CorruptObjectError(`data/${entry.pack}`, `${label(entry)} fails authentication`);
  }
}

/** A payload's plaintext (decompressed if need be), checked against the blob's id. */
export function checkedPlaintext(hashBlob: (data: Uint8Array) => Uint8Array, entry: IndexedBlob, payload: Uint8Array, transient = false): Uint8Array {
  let plain = payload;
  if (entry.compressed) {
    try {
      plain = transient ? decompressReusing(payload, entry.rawLength) : decompress(payload, entry.rawLength);
    } catch (err) {
      throw new CorruptObjectError(`data/${entry.pack}`, `${label(entry)}: ${(err as Error).message}`);
    }
  }
  if (!Buffer.from(hashBlob(plain)).equals(Buffer.from(entry.id))) {
    throw new CorruptObjectError(`data/${entry.pack}`, `${label(entry)} does not match its id`);
  }
  return plain;
}

function label(entry: IndexedBlob): string {
  return `blob ${toHex(entry.id)} in pack ${entry.pack}`;
}
