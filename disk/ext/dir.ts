/** Linear directory blocks. Hashed (htree) directories are read the same way: their index
 * blocks look like empty entries, so a linear scan sees every name. */
import { u8, u16, u32 } from '../bytes.js';

export interface DirEntry {
  ino: number;
  name: Uint8Array;
}

const HEADER = 8;

/**
 * Entries of one directory block (or inline-data area). A malformed entry ends the scan
 * of this block with a warning; the entries before it are kept.
 */
export function parseDirBlock(buf: Uint8Array, blockSize: number, hasFileType: boolean, warn: (m: string) => void, where: string): DirEntry[] {
  const out: DirEntry[] = [];
  let off = 0;
  while (off + HEADER <= buf.length) {
    const ino = u32(buf, off);
    const recLen = recordLength(u16(buf, off + 4), blockSize);
    const nameLen = hasFileType ? u8(buf, off + 6) : u16(buf, off + 6);
    if (recLen < HEADER || recLen % 4 !== 0 || off + recLen > buf.length || HEADER + nameLen > recLen) {
      warn(`${where}: malformed entry at offset ${off} (rec_len ${recLen}, name_len ${nameLen}); rest of block skipped`);
      break;
    }
    if (ino !== 0 && nameLen > 0) out.push({ ino, name: Uint8Array.from(buf.subarray(off + HEADER, off + HEADER + nameLen)) });
    off += recLen;
  }
  return out;
}

/** With 64 KiB blocks a whole-block entry does not fit 16 bits; the kernel encodes it. */
function recordLength(raw: number, blockSize: number): number {
  if (blockSize < 65536) return raw;
  if (raw === 0xffff || raw === 0) return blockSize;
  return (raw & 0xfffc) | ((raw & 3) << 16);
}

export function isDotOrDotDot(name: Uint8Array): boolean {
  return (name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e);
}
