/**
 * Pure encoding of index files (before sealing): which blobs are in which pack.
 * `CIX1 | u32 superseded count | superseded index ids (32 B each) | u32 pack count |
 *  per pack: pack id (32 B), u64 pack size, u32 blob count, blob entries`.
 */
import { BlobEntry } from './blob.js';
import { ENTRY_BYTES, readEntry, writeEntry } from './pack-format.js';
import { fromHex, toHex } from './hex.js';

const MAGIC = 'CIX1';

export interface IndexedPack {
  id: string;
  size: number;
  blobs: BlobEntry[];
}

export interface IndexFile {
  /** Index files this one replaces (written by prune); readers ignore those. */
  supersedes: string[];
  packs: IndexedPack[];
}

export function encodeIndex(idx: IndexFile): Uint8Array {
  let size = 4 + 4 + idx.supersedes.length * 32 + 4;
  for (const p of idx.packs) size += 32 + 8 + 4 + p.blobs.length * ENTRY_BYTES;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(Buffer.from(MAGIC), 0);
  let at = 4;
  view.setUint32(at, idx.supersedes.length, true);
  at += 4;
  for (const s of idx.supersedes) {
    out.set(fromHex(s), at);
    at += 32;
  }
  view.setUint32(at, idx.packs.length, true);
  at += 4;
  for (const p of idx.packs) {
    out.set(fromHex(p.id), at);
    view.setBigUint64(at + 32, BigInt(p.size), true);
    view.setUint32(at + 40, p.blobs.length, true);
    at += 44;
    for (const b of p.blobs) {
      writeEntry(view, out, at, b);
      at += ENTRY_BYTES;
    }
  }
  return out;
}

export function decodeIndex(bytes: Uint8Array): IndexFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (at: number, n: number) => {
    if (at + n > bytes.length) throw new Error('index file truncated');
  };
  need(0, 8);
  if (Buffer.from(bytes.subarray(0, 4)).toString('latin1') !== MAGIC) throw new Error('not an index file');
  let at = 4;
  const superseded = view.getUint32(at, true);
  at += 4;
  need(at, superseded * 32);
  const supersedes: string[] = [];
  for (let i = 0; i < superseded; i++, at += 32) supersedes.push(toHex(bytes.subarray(at, at + 32)));
  need(at, 4);
  const packCount = view.getUint32(at, true);
  at += 4;
  const packs: IndexedPack[] = [];
  for (let i = 0; i < packCount; i++) {
    need(at, 44);
    const id = toHex(bytes.subarray(at, at + 32));
    const size = Number(view.getBigUint64(at + 32, true));
    const count = view.getUint32(at + 40, true);
    at += 44;
    need(at, count * ENTRY_BYTES);
    const blobs: BlobEntry[] = [];
    for (let j = 0; j < count; j++, at += ENTRY_BYTES) {
      const b = readEntry(view, bytes, at);
      if (b.offset + b.length > size) throw new Error(`blob entry points outside pack ${id}`);
      blobs.push(b);
    }
    packs.push({ id, size, blobs });
  }
  if (at !== bytes.length) throw new Error('trailing bytes after index');
  return { supersedes, packs };
}
