import { filetimeToNs, mftRefRecord, mftRefSequence, safeU64, u32, u8, utf16 } from './bytes.js';

export const NAMESPACE_DOS = 2;

export interface FileName {
  parent: number;
  name: string;
  namespace: number;
}

/** A $FILE_NAME value (also the key of $I30 index entries); null if too short. */
export function parseFileName(v: Uint8Array): FileName | null {
  if (v.length < 66) return null;
  const length = u8(v, 64);
  if (66 + length * 2 > v.length) return null;
  return { parent: mftRefRecord(v, 0), name: utf16(v, 66, length), namespace: u8(v, 65) };
}

export interface StandardInformation {
  createdNs: bigint;
  modifiedNs: bigint;
  changedNs: bigint;
  accessedNs: bigint;
  attributes: number;
}

export function parseStandardInformation(v: Uint8Array): StandardInformation | null {
  if (v.length < 48) return null;
  return {
    createdNs: filetimeToNs(v, 0),
    modifiedNs: filetimeToNs(v, 8),
    changedNs: filetimeToNs(v, 16),
    accessedNs: filetimeToNs(v, 24),
    attributes: u32(v, 32),
  };
}

export interface IndexEntry {
  record: number;
  sequence: number;
  fileName: FileName | null;
  /** VCN of the child index block, when the entry has one. */
  subnode: number | null;
}

const ENTRY_HAS_SUBNODE = 0x01;
const ENTRY_LAST = 0x02;

/**
 * Entries of an index node: `b` holds the node header at `headerAt` (entries offset and
 * used length, both relative to the header). Bounded by the node and by entry sizes.
 */
export function parseIndexNode(b: Uint8Array, headerAt: number, warn: (message: string) => void): IndexEntry[] {
  const out: IndexEntry[] = [];
  const end = Math.min(b.length, headerAt + u32(b, headerAt + 4));
  let pos = headerAt + u32(b, headerAt);
  while (pos + 16 <= end) {
    const length = u32(b, pos + 8) & 0xffff;
    const keyLength = u32(b, pos + 10) & 0xffff;
    const flags = u32(b, pos + 12) & 0xffff;
    if (length < 16 || pos + length > end || 16 + keyLength > length) {
      warn('malformed index entry');
      break;
    }
    const subnode = flags & ENTRY_HAS_SUBNODE ? safeU64(b, pos + length - 8) : null;
    out.push({
      record: mftRefRecord(b, pos),
      sequence: mftRefSequence(b, pos),
      fileName: flags & ENTRY_LAST ? null : parseFileName(b.subarray(pos + 16, pos + 16 + keyLength)),
      subnode,
    });
    if (flags & ENTRY_LAST) break;
    pos += length;
  }
  return out;
}
