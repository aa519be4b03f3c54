/** Extended attribute entries, in the inode body or in an external block. */
import { u8, u16, u32, slice } from '../bytes.js';

const XATTR_MAGIC = 0xea020000;
const BLOCK_HEADER = 32;
const ENTRY_HEADER = 16;

export interface XattrEntry {
  nameIndex: number;
  name: Uint8Array;
  /** The value, or null when it lives in a separate inode (`valueInode`). */
  value: Uint8Array | null;
  valueInode: number;
  valueSize: number;
}

/** Name prefixes by index; other indexes (ACLs, system.*) are not user-visible here. */
export const XATTR_PREFIXES: Record<number, string> = { 1: 'user.', 4: 'trusted.', 6: 'security.' };
export const XATTR_INDEX_SYSTEM = 7;

/** Attributes stored after i_extra_isize; values are relative to the first entry. */
export function parseInodeXattrs(area: Uint8Array, warn: (m: string) => void, where: string): XattrEntry[] {
  if (area.length < 4 || u32(area, 0) !== XATTR_MAGIC) return [];
  const body = area.subarray(4);
  return parseEntries(body, 0, body, warn, where);
}

/** Attributes of an external block; values are relative to the block start. */
export function parseBlockXattrs(block: Uint8Array, warn: (m: string) => void, where: string): XattrEntry[] {
  if (block.length < BLOCK_HEADER || u32(block, 0) !== XATTR_MAGIC) {
    warn(`${where}: bad xattr block magic`);
    return [];
  }
  if (u32(block, 8) !== 1) warn(`${where}: xattr block claims ${u32(block, 8)} blocks; reading one`);
  return parseEntries(block, BLOCK_HEADER, block, warn, where);
}

function parseEntries(table: Uint8Array, start: number, values: Uint8Array, warn: (m: string) => void, where: string): XattrEntry[] {
  const out: XattrEntry[] = [];
  let off = start;
  // Each entry takes at least 16 bytes, so the loop ends within the table.
  while (off + 4 <= table.length && u32(table, off) !== 0) {
    if (off + ENTRY_HEADER > table.length) {
      warn(`${where}: truncated xattr entry`);
      break;
    }
    const nameLen = u8(table, off);
    const nameIndex = u8(table, off + 1);
    const valueOffs = u16(table, off + 2);
    const valueInode = u32(table, off + 4);
    const valueSize = u32(table, off + 8);
    if (off + ENTRY_HEADER + nameLen > table.length) {
      warn(`${where}: xattr name runs past its area`);
      break;
    }
    const name = Uint8Array.from(table.subarray(off + ENTRY_HEADER, off + ENTRY_HEADER + nameLen));
    let value: Uint8Array | null = null;
    if (valueInode === 0) {
      if (valueOffs + valueSize > values.length) {
        warn(`${where}: xattr value runs past its area; skipped`);
      } else {
        value = Uint8Array.from(slice(values, valueOffs, valueSize));
      }
    }
    if (valueInode !== 0 || value) out.push({ nameIndex, name, value, valueInode, valueSize });
    off += (ENTRY_HEADER + nameLen + 3) & ~3;
  }
  return out;
}
