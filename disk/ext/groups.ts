/** Block group descriptors: where each group's bitmaps and inode table lie. */
import { u16, u32 } from '../bytes.js';
import { DiskFormatError } from '../types.js';
import { INCOMPAT_64BIT, INCOMPAT_META_BG, groupFirstBlock, groupHasSuper, has, type Superblock } from './superblock.js';

export const BG_INODE_UNINIT = 0x1;
export const BG_BLOCK_UNINIT = 0x2;

/** 4 Mi groups is 512 TiB with 4 KiB blocks; more means a corrupt superblock. */
const MAX_GROUPS = 1 << 22;

/** Descriptors kept in typed arrays: a large file system has millions of groups. */
export class GroupTable {
  readonly blockBitmap: Float64Array;
  readonly inodeBitmap: Float64Array;
  readonly inodeTable: Float64Array;
  readonly flags: Uint16Array;

  constructor(readonly count: number) {
    this.blockBitmap = new Float64Array(count);
    this.inodeBitmap = new Float64Array(count);
    this.inodeTable = new Float64Array(count);
    this.flags = new Uint16Array(count);
  }

  /** Decodes descriptor `g` from `buf` at `off`. */
  set(g: number, buf: Uint8Array, off: number, is64: boolean): void {
    const hi = (o: number) => (is64 ? u32(buf, off + o) * 0x100000000 : 0);
    this.blockBitmap[g] = u32(buf, off) + hi(0x20);
    this.inodeBitmap[g] = u32(buf, off + 0x04) + hi(0x24);
    this.inodeTable[g] = u32(buf, off + 0x08) + hi(0x28);
    this.flags[g] = u16(buf, off + 0x12);
  }
}

export function checkGroupCount(sb: Superblock, sourceSize: number): void {
  if (sb.groupCount > MAX_GROUPS || sb.groupCount * sb.descSize > sourceSize) {
    throw new DiskFormatError(`ext superblock is corrupt: ${sb.groupCount} block groups cannot fit the source`);
  }
}

/** The block that holds descriptor `g` (meta_bg moves later ones next to their groups). */
export function descriptorBlock(sb: Superblock, g: number): number {
  const perBlock = sb.blockSize / sb.descSize;
  const metaGroup = Math.floor(g / perBlock);
  if (!has(sb.incompat, INCOMPAT_META_BG) || metaGroup < sb.firstMetaBg) {
    return sb.firstDataBlock + 1 + metaGroup;
  }
  const first = metaGroup * perBlock;
  let offset = groupHasSuper(sb, first) ? 1 : 0;
  if (sb.blockSize === 1024 && metaGroup === 0 && sb.firstDataBlock === 0) offset++;
  return groupFirstBlock(sb, first) + offset;
}

export function is64(sb: Superblock): boolean {
  return has(sb.incompat, INCOMPAT_64BIT);
}

/** Blocks one group's inode table spans. */
export function inodeTableBlocks(sb: Superblock): number {
  return Math.ceil((sb.inodesPerGroup * sb.inodeSize) / sb.blockSize);
}
