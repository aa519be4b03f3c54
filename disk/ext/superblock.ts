/** The ext2/3/4 superblock: pure parsing and sanity checks. */
import { u16, u32 } from '../bytes.js';
import { DiskFormatError } from '../types.js';

export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 1024;
const MAGIC = 0xef53;

export const COMPAT_SPARSE_SUPER2 = 0x200;

export const INCOMPAT_FILETYPE = 0x2;
export const INCOMPAT_RECOVER = 0x4;
export const INCOMPAT_JOURNAL_DEV = 0x8;
export const INCOMPAT_META_BG = 0x10;
export const INCOMPAT_EXTENTS = 0x40;
export const INCOMPAT_64BIT = 0x80;
export const INCOMPAT_MMP = 0x100;
export const INCOMPAT_FLEX_BG = 0x200;
export const INCOMPAT_EA_INODE = 0x400;
export const INCOMPAT_CSUM_SEED = 0x2000;
export const INCOMPAT_LARGEDIR = 0x4000;
export const INCOMPAT_INLINE_DATA = 0x8000;
export const INCOMPAT_ENCRYPT = 0x10000;
export const INCOMPAT_CASEFOLD = 0x20000;

/**
 * Incompatible features this reader understands; any other (compression, dirdata, unknown
 * bits) makes the layout unknowable.
 */
const KNOWN_INCOMPAT =
  INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_META_BG | INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_MMP |
  INCOMPAT_FLEX_BG | INCOMPAT_EA_INODE | INCOMPAT_CSUM_SEED | INCOMPAT_LARGEDIR | INCOMPAT_INLINE_DATA |
  INCOMPAT_ENCRYPT | INCOMPAT_CASEFOLD;

export const RO_COMPAT_SPARSE_SUPER = 0x1;
export const RO_COMPAT_GDT_CSUM = 0x10;
export const RO_COMPAT_BIGALLOC = 0x200;
export const RO_COMPAT_METADATA_CSUM = 0x400;

export interface Superblock {
  inodesCount: number;
  blocksCount: number;
  firstDataBlock: number;
  blockSize: number;
  /** Allocation unit of the block bitmaps: a block, or a cluster with bigalloc. */
  clusterSize: number;
  blocksPerGroup: number;
  clustersPerGroup: number;
  inodesPerGroup: number;
  inodeSize: number;
  groupCount: number;
  descSize: number;
  firstMetaBg: number;
  reservedGdtBlocks: number;
  backupBgs: [number, number];
  compat: number;
  incompat: number;
  roCompat: number;
}

export function hasExtMagic(sb: Uint8Array): boolean {
  return sb.length >= 0x3a && u16(sb, 0x38) === MAGIC;
}

function fail(why: string): never {
  throw new DiskFormatError(`ext superblock is corrupt: ${why}`);
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** Parses and checks the superblock against the source size; throws DiskFormatError. */
export function parseSuperblock(b: Uint8Array, warn: (m: string) => void): Superblock {
  if (b.length < SUPERBLOCK_SIZE) fail('short read');
  if (!hasExtMagic(b)) fail('bad magic');
  const logBlock = u32(b, 0x18);
  if (logBlock > 6) fail(`block size 2^${10 + logBlock} is out of range`);
  const blockSize = 1024 << logBlock;
  const compat = u32(b, 0x5c);
  const incompat = u32(b, 0x60);
  const roCompat = u32(b, 0x64);
  const unknown = (incompat & ~KNOWN_INCOMPAT) >>> 0;
  if (incompat & INCOMPAT_JOURNAL_DEV) fail('this is an external journal device, not a file system');
  if (unknown) throw new DiskFormatError(`ext file system uses unsupported incompatible features 0x${unknown.toString(16)}`);
  if (incompat & INCOMPAT_RECOVER) warn('the journal needs recovery; reading without replaying it, recent changes may be missing');

  const is64 = (incompat & INCOMPAT_64BIT) !== 0;
  const blocksCount = u32(b, 0x04) + (is64 ? u32(b, 0x150) * 0x100000000 : 0);
  const firstDataBlock = u32(b, 0x14);
  if (firstDataBlock > 1 || (blockSize > 1024 && firstDataBlock !== 0)) fail(`first data block ${firstDataBlock}`);
  if (blocksCount <= firstDataBlock) fail(`block count ${blocksCount}`);
  if (!Number.isSafeInteger(blocksCount * blockSize)) fail('file system size beyond 2^53 bytes');

  let clusterSize = blockSize;
  if (roCompat & RO_COMPAT_BIGALLOC) {
    const logCluster = u32(b, 0x1c);
    if (logCluster < logBlock || logCluster > logBlock + 16) fail(`cluster size 2^${10 + logCluster}`);
    clusterSize = 1024 * 2 ** logCluster;
  }
  const ratio = clusterSize / blockSize;
  const clustersPerGroup = ratio > 1 ? u32(b, 0x24) : u32(b, 0x20);
  const blocksPerGroup = u32(b, 0x20);
  if (clustersPerGroup < 8 || clustersPerGroup > blockSize * 8) fail(`${clustersPerGroup} clusters per group`);
  if (blocksPerGroup !== clustersPerGroup * ratio) fail(`${blocksPerGroup} blocks per group does not match the cluster count`);
  const inodesPerGroup = u32(b, 0x28);
  if (inodesPerGroup < 1 || inodesPerGroup > blockSize * 8) fail(`${inodesPerGroup} inodes per group`);

  const revLevel = u32(b, 0x4c);
  const inodeSize = revLevel === 0 ? 128 : u16(b, 0x58);
  if (inodeSize < 128 || inodeSize > blockSize || !isPowerOfTwo(inodeSize)) fail(`inode size ${inodeSize}`);
  let descSize = 32;
  if (is64) {
    descSize = u16(b, 0xfe);
    if (descSize < 64 || descSize > 1024 || !isPowerOfTwo(descSize)) fail(`group descriptor size ${descSize}`);
  }

  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  const inodesCount = u32(b, 0x00);
  if (inodesCount < 2 || inodesCount > groupCount * inodesPerGroup) fail(`${inodesCount} inodes for ${groupCount} groups`);

  return {
    inodesCount, blocksCount, firstDataBlock, blockSize, clusterSize, blocksPerGroup, clustersPerGroup,
    inodesPerGroup, inodeSize, groupCount, descSize,
    firstMetaBg: u32(b, 0x104),
    reservedGdtBlocks: u16(b, 0xce),
    backupBgs: [u32(b, 0x24c), u32(b, 0x250)],
    compat, incompat, roCompat,
  };
}

/** Whether group `g` carries a superblock backup (and so a copy of the descriptor table). */
export function groupHasSuper(sb: Superblock, g: number): boolean {
  if (g === 0) return true;
  if (sb.compat & COMPAT_SPARSE_SUPER2) return g === sb.backupBgs[0] || g === sb.backupBgs[1];
  if (g === 1 || !(sb.roCompat & RO_COMPAT_SPARSE_SUPER)) return true;
  if (g % 2 === 0) return false;
  return isPowerOf(g, 3) || isPowerOf(g, 5) || isPowerOf(g, 7);
}

function isPowerOf(n: number, base: number): boolean {
  let x = base;
  while (x < n) x *= base;
  return x === n;
}

export function groupFirstBlock(sb: Superblock, g: number): number {
  return sb.firstDataBlock + g * sb.blocksPerGroup;
}

export function has(flags: number, bit: number): boolean {
  return (flags & bit) !== 0;
}
