/**
 * Opening a stored blob: decrypt, decompress, check the id. Shared by the repository
 * (main thread) and the restore workers, so a swapped or damaged blob is caught in both.
 */
import { open as openSealed } from '../crypto/aead.js';
import { IndexedBlob } from './blob.js';
import { decompress, withDecompressed } from './compression.js';
import { CorruptObjectError } from './errors/corrupt-object-error.js';
import { toHex } from './hex.js';

export function openStoredBlob(encryptKey: Uint8Array, hashBlob: (data: Uint8Array) => Uint8Array, entry: IndexedBlob, stored: Uint8Array): Uint8Array {
  return openBlob(encryptKey, hashBlob, entry, stored, (plain) => plain, false);
}

/**
 * openStoredBlob for callers that only write or check the plaintext: `use` gets it in a
 * buffer that the next call reuses, and must copy what it keeps.
 */
export function withStoredBlob<T>(encryptKey: Uint8Array, hashBlob: (data: Uint8Array) => Uint8Array, entry: IndexedBlob, stored: Uint8Array, use: (plain: Uint8Array) => T): T {
  return openBlob(encryptKey, hashBlob, entry, stored, use, true);
}

function openBlob<T>(encryptKey: Uint8Array, hashBlob: (data: Uint8Array) => Uint8Array, entry: IndexedBlob, stored: Uint8Array, use: (plain: Uint8Array) => T, reuse: boolean): T {
  const label = `blob ${toHex(entry.id)} in pack ${entry.pack}`;
  const corrupt = (why: string) => new CorruptObjectError(`data/${entry.pack}`, `${label}${why}`);
  if (stored.length !== entry.length) throw new CorruptObjectError(`data/${entry.pack}`, `truncated at ${label}`);
  let sealed: Uint8Array;
  try {
    sealed = openSealed(encryptKey, stored);
  } catch {
    throw corrupt(' fails authentication');
  }
  const checked = (plain: Uint8Array): T => {
    if (!Buffer.from(hashBlob(plain)).equals(Buffer.from(entry.id))) throw corrupt(' does not match its id');
    return use(plain);
  };
  if (!entry.compressed) return checked(sealed);
  if (!reuse) {
    let plain: Uint8Array;
    try {
      plain = decompress(sealed, entry.rawLength);
    } catch (err) {
      throw corrupt(`: ${(err as Error).message}`);
    }
    return checked(plain);
  }
  // A decompression error, not one from checking or using the plaintext, names the blob.
  let decompressed = false;
  try {
    return withDecompressed(sealed, entry.rawLength, (plain) => {
      decompressed = true;
      return checked(plain);
    });
  } catch (err) {
    if (decompressed) throw err;
    throw corrupt(`: ${(err as Error).message}`);
  }
}
