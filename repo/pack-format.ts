/**
 * Pure encoding of pack headers and of the blob entries shared with index files.
 * A pack is `blob ... blob | sealed header | u32 LE length of the sealed header`.
 */
import { BlobEntry, BlobType } from './blob.js';

export const ENTRY_BYTES = 46;
const HEADER_VERSION = 1;
const FLAG_ZSTD = 1;
const TYPE_CODES: Record<BlobType, number> = { data: 0, tree: 1 };
const CODE_TYPES: BlobType[] = ['data', 'tree'];

export function writeEntry(view: DataView, bytes: Uint8Array, at: number, e: BlobEntry): void {
  view.setUint8(at, TYPE_CODES[e.type]);
  view.setUint8(at + 1, e.compressed ? FLAG_ZSTD : 0);
  bytes.set(e.id, at + 2);
  view.setUint32(at + 34, e.offset, true);
  view.setUint32(at + 38, e.length, true);
  view.setUint32(at + 42, e.rawLength, true);
}

/** Throws a plain Error on bad fields; callers wrap it with the object's name. */
export function readEntry(view: DataView, bytes: Uint8Array, at: number): BlobEntry {
  const type = CODE_TYPES[view.getUint8(at)];
  if (!type) throw new Error(`unknown blob type ${view.getUint8(at)}`);
  const flags = view.getUint8(at + 1);
  if (flags & ~FLAG_ZSTD) throw new Error(`unknown blob flags ${flags}`);
  return {
    type,
    compressed: (flags & FLAG_ZSTD) !== 0,
    id: bytes.slice(at + 2, at + 34),
    offset: view.getUint32(at + 34, true),
    length: view.getUint32(at + 38, true),
    rawLength: view.getUint32(at + 42, true),
  };
}

export function encodePackHeader(entries: BlobEntry[]): Uint8Array {
  const out = new Uint8Array(5 + entries.length * ENTRY_BYTES);
  const view = new DataView(out.buffer);
  view.setUint8(0, HEADER_VERSION);
  view.setUint32(1, entries.length, true);
  entries.forEach((e, i) => writeEntry(view, out, 5 + i * ENTRY_BYTES, e));
  return out;
}

/** The length of a pack's sealed header, from the pack's size and its last 4 bytes. */
export function sealedHeaderLength(packSize: number, last4: Uint8Array): number {
  if (packSize < 4 || last4.length !== 4) throw new Error('pack too short');
  const len = new DataView(last4.buffer, last4.byteOffset, 4).getUint32(0, true);
  if (len + 4 > packSize) throw new Error('header length points outside the pack');
  return len;
}

/** `packSize` bounds every entry: a header cannot point outside its own pack. */
export function decodePackHeader(header: Uint8Array, packSize: number): BlobEntry[] {
  if (header.length < 5) throw new Error('pack header too short');
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (view.getUint8(0) !== HEADER_VERSION) throw new Error(`unknown pack header version ${view.getUint8(0)}`);
  const count = view.getUint32(1, true);
  if (header.length !== 5 + count * ENTRY_BYTES) throw new Error(`pack header length ${header.length} does not match ${count} entries`);
  const entries: BlobEntry[] = [];
  for (let i = 0; i < count; i++) {
    const e = readEntry(view, header, 5 + i * ENTRY_BYTES);
    if (e.offset + e.length > packSize) throw new Error(`blob ${i} lies outside the pack`);
    entries.push(e);
  }
  return entries;
}
