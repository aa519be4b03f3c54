/** The on-disk inode: pure parsing into the fields this reader uses. */
import { i32, u16, u32, slice } from '../bytes.js';
import type { NodeType } from '../types.js';

export const EXT4_HUGE_FILE_FL = 0x40000;
export const EXT4_EXTENTS_FL = 0x80000;
export const EXT4_EA_INODE_FL = 0x200000;
export const EXT4_INLINE_DATA_FL = 0x10000000;

export const I_BLOCK_SIZE = 60;
const GOOD_OLD_INODE_SIZE = 128;

export interface Inode {
  ino: number;
  mode: number;
  type: NodeType | null;
  uid: number;
  gid: number;
  /** Low 32 bits and high 32 bits of i_size; which apply depends on the type and features. */
  sizeLo: number;
  sizeHi: number;
  links: number;
  /** i_blocks (512-byte units, or blocks with HUGE_FILE_FL), low 48 bits. */
  blocks: number;
  flags: number;
  /** The 60-byte i_block area: block map, extent root, inline data or symlink target. */
  iBlock: Uint8Array;
  fileAcl: number;
  atimeNs: bigint;
  ctimeNs: bigint;
  mtimeNs: bigint;
  /** The bytes after the fixed fields and i_extra_isize: in-inode extended attributes. */
  xattrArea: Uint8Array;
}

const TYPES: Record<number, NodeType> = {
  0x1: 'fifo', 0x2: 'chardev', 0x4: 'dir', 0x6: 'blockdev', 0x8: 'file', 0xa: 'symlink', 0xc: 'socket',
};

/** Parses one raw inode of `raw.length` (the file system's inode size) bytes. */
export function parseInode(raw: Uint8Array, ino: number): Inode {
  const mode = u16(raw, 0x00);
  let extraIsize = 0;
  if (raw.length > GOOD_OLD_INODE_SIZE) {
    extraIsize = u16(raw, 0x80);
    // A damaged i_extra_isize must not move the xattr area out of the inode.
    if (extraIsize % 4 !== 0 || GOOD_OLD_INODE_SIZE + extraIsize > raw.length) extraIsize = 0;
  }
  const extra = (field: number) => (extraIsize >= field - GOOD_OLD_INODE_SIZE + 4 ? u32(raw, field) : 0);
  const xattrStart = GOOD_OLD_INODE_SIZE + extraIsize;
  return {
    ino,
    mode,
    type: TYPES[mode >> 12] ?? null,
    uid: u16(raw, 0x02) | (u16(raw, 0x78) << 16),
    gid: u16(raw, 0x18) | (u16(raw, 0x7a) << 16),
    sizeLo: u32(raw, 0x04),
    sizeHi: u32(raw, 0x6c),
    links: u16(raw, 0x1a),
    blocks: u32(raw, 0x1c) + u16(raw, 0x74) * 0x100000000,
    flags: u32(raw, 0x20),
    iBlock: slice(raw, 0x28, I_BLOCK_SIZE),
    fileAcl: u32(raw, 0x68) + u16(raw, 0x76) * 0x100000000,
    atimeNs: timestamp(i32(raw, 0x08), extra(0x8c)),
    ctimeNs: timestamp(i32(raw, 0x0c), extra(0x84)),
    mtimeNs: timestamp(i32(raw, 0x10), extra(0x88)),
    xattrArea: raw.subarray(xattrStart),
  };
}

/** The low 2 bits of the extra word extend the epoch; the upper 30 are nanoseconds. */
function timestamp(seconds: number, extra: number): bigint {
  const s = BigInt(seconds) + (BigInt(extra & 3) << 32n);
  const ns = Math.min(extra >>> 2, 999_999_999);
  return s * 1_000_000_000n + BigInt(ns);
}

/** Device numbers from i_block: the old 8:8 encoding in word 0, else the new one in word 1. */
export function deviceNumbers(iBlock: Uint8Array): { major: number; minor: number } {
  const old = u32(iBlock, 0);
  if (old !== 0) return { major: (old >>> 8) & 0xff, minor: old & 0xff };
  const v = u32(iBlock, 4);
  return { major: (v >>> 8) & 0xfff, minor: (v & 0xff) | ((v >>> 12) & 0xfff00) };
}
