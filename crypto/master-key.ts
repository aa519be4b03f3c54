/**
 * The repository master key: random, never derived from a password. Each password wraps
 * it in its own key file, so passwords can be added or removed without re-encrypting data.
 */
import { randomBytes } from 'node:crypto';

export interface MasterKey {
  /** Key for sealing every object and blob. */
  encrypt: Uint8Array;
  /** Key for keyed-BLAKE3 blob ids; independent of `encrypt` so neither use weakens the other. */
  blobId: Uint8Array;
}

const PART_BYTES = 32;
export const MASTER_KEY_BYTES = 2 * PART_BYTES;

/**
 * A fresh master key. Given `blobId` (another repository's, for `init --from-repo`), only
 * the encryption key is fresh: both repositories then give a chunk the same id, which is
 * what lets snapshots be copied between them without rewriting their trees.
 */
export function newMasterKey(blobId?: Uint8Array): MasterKey {
  if (blobId !== undefined && blobId.length !== PART_BYTES) throw new RangeError(`a blob-id key must be ${PART_BYTES} bytes`);
  return { encrypt: new Uint8Array(randomBytes(PART_BYTES)), blobId: blobId ? Uint8Array.from(blobId) : new Uint8Array(randomBytes(PART_BYTES)) };
}

/** encrypt (32) || blobId (32). The caller should wipe the result once it is sealed. */
export function encodeMasterKey(k: MasterKey): Uint8Array {
  if (k.encrypt.length !== PART_BYTES || k.blobId.length !== PART_BYTES) {
    throw new RangeError(`master key parts must be ${PART_BYTES} bytes each`);
  }
  const out = new Uint8Array(MASTER_KEY_BYTES);
  out.set(k.encrypt, 0);
  out.set(k.blobId, PART_BYTES);
  return out;
}

/** Copies the parts out, so the caller may wipe `bytes` afterwards. */
export function decodeMasterKey(bytes: Uint8Array): MasterKey {
  if (bytes.length !== MASTER_KEY_BYTES) {
    throw new Error(`master key must be ${MASTER_KEY_BYTES} bytes, got ${bytes.length}`);
  }
  return { encrypt: bytes.slice(0, PART_BYTES), blobId: bytes.slice(PART_BYTES) };
}

/** Zero-fills key material. JavaScript may have copied it elsewhere; this is best effort. */
export function wipe(...arrays: Uint8Array[]): void {
  for (const a of arrays) a.fill(0);
}
