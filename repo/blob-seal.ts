/**
 * Sealing a blob for a pack: zstd when that shrinks it, then encryption. The counterpart
 * of blob-open.ts; shared by the chunk workers and the repository's own blobs (trees,
 * image maps), so both store blobs the same way.
 */
import { seal } from '../crypto/aead.js';
import { withCompressed } from './compression.js';

export interface SealedBlob {
  id: Uint8Array;
  stored: Uint8Array;
  rawLength: number;
  compressed: boolean;
}

export function sealBlob(encryptKey: Uint8Array, id: Uint8Array, data: Uint8Array): SealedBlob {
  return withCompressed(data, (packed) => ({ id, stored: seal(encryptKey, packed ?? data), rawLength: data.length, compressed: packed !== null }));
}
