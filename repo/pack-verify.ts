/**
 * Verifying one downloaded pack against its index listing: its name is its SHA-256, its
 * header decrypts and matches the index, and every blob decrypts and hashes to its id.
 * No I/O, so it runs in worker threads (repo/crypto-worker.ts) as well.
 */
import { open as openSealed } from '../crypto/aead.js';
import { BlobEntry } from './blob.js';
import { openStoredBlob } from './blob-open.js';
import { objectNameHere, toHex } from './hex.js';
import { decodePackHeader, sealedHeaderLength } from './pack-format.js';

export interface PackVerdict {
  /** Problems in words, empty when the pack is sound. */
  faults: string[];
  /** Ids (hex) of blobs that fail to decrypt or do not match their id. */
  damaged: string[];
}

/** The blob list in a whole pack's own header, and where the header starts. Throws a plain Error. */
export function wholePackHeader(encryptKey: Uint8Array, bytes: Uint8Array): { entries: BlobEntry[]; start: number } {
  const len = sealedHeaderLength(bytes.length, bytes.subarray(Math.max(0, bytes.length - 4)));
  const start = bytes.length - 4 - len;
  return { entries: decodePackHeader(openSealed(encryptKey, bytes.subarray(start, bytes.length - 4)), bytes.length), start };
}

export function verifyPackBytes(encryptKey: Uint8Array, hashBlob: (d: Uint8Array) => Uint8Array, pack: { id: string; blobs: BlobEntry[] }, bytes: Uint8Array): PackVerdict {
  const faults: string[] = [];
  let tiled = false;
  try {
    const { entries: header, start } = wholePackHeader(encryptKey, bytes);
    const key = (b: BlobEntry) => `${b.type}:${toHex(b.id)}:${b.offset}:${b.length}:${b.rawLength}:${b.compressed}`;
    const listed = new Set(pack.blobs.map(key));
    if (header.length !== pack.blobs.length || !header.every((b) => listed.has(key(b)))) faults.push('its header does not match the index');
    tiled = tiles(header, start);
  } catch (err) {
    const m = (err as Error).message;
    faults.push(`its header cannot be read (${m === 'pack too short' || m.startsWith('header length') ? m : 'fails authentication'})`);
  }
  const damaged: string[] = [];
  const described: string[] = [];
  for (const b of pack.blobs) {
    try {
      openStoredBlob(encryptKey, hashBlob, { ...b, pack: pack.id }, bytes.subarray(b.offset, b.offset + b.length), true);
    } catch {
      damaged.push(toHex(b.id));
      described.push(`${b.type} blob ${toHex(b.id)}`);
    }
  }
  if (described.length > 0) faults.push(`damaged: ${described.join(', ')}`);
  // When the blobs and the header cover every byte and all of them authenticate, the pack
  // is exactly what was written under that name, so its SHA-256 can only agree: it is
  // computed (a quarter of the work) only to describe a pack that failed otherwise.
  if (!tiled || faults.length > 0) {
    const actual = objectNameHere(bytes);
    if (actual !== pack.id) faults.unshift(`its SHA-256 is ${actual}, not its name`);
  }
  return { faults, damaged };
}

/** Whether the blobs, laid end to end from offset 0, fill exactly the bytes before the header. */
function tiles(blobs: BlobEntry[], headerStart: number): boolean {
  let end = 0;
  for (const b of [...blobs].sort((x, y) => x.offset - y.offset)) {
    if (b.offset !== end) return false;
    end += b.length;
  }
  return end === headerStart;
}
