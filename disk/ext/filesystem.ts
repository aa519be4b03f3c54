/** An ext2/3/4 file system over a ReadAt: opening, inodes, directories and file content. */
import type { ReadAt } from '../source.js';
import { DiskFormatError, type ByteRange, type DiskNode, type FileSystem, type OpenOptions, type PhysicalExtent } from '../types.js';
import { makeWarner, type Warn } from '../warnings.js';
import { BlockReader } from './block-cache.js';
import { mapBlockPointers } from './blockmap.js';
import { isDotOrDotDot, parseDirBlock } from './dir.js';
import { mapExtents } from './extents.js';
import { BG_INODE_UNINIT, GroupTable, checkGroupCount, descriptorBlock, inodeTableBlocks, is64 } from './groups.js';
import {
  EXT4_EA_INODE_FL, EXT4_EXTENTS_FL, EXT4_HUGE_FILE_FL, EXT4_INLINE_DATA_FL, I_BLOCK_SIZE, deviceNumbers, parseInode, type Inode,
} from './inode.js';
import { findRun, type Run } from './runs.js';
import {
  INCOMPAT_FILETYPE, INCOMPAT_INLINE_DATA, INCOMPAT_LARGEDIR, RO_COMPAT_GDT_CSUM, RO_COMPAT_METADATA_CSUM,
  SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, has, hasExtMagic, parseSuperblock, type Superblock,
} from './superblock.js';
import { used } from './used-ranges.js';
import { XATTR_INDEX_SYSTEM, XATTR_PREFIXES, parseBlockXattrs, parseInodeXattrs, type XattrEntry } from './xattr.js';

const ROOT_INO = 2;
/** One readFile call returns at most this much; larger reads must be split by the caller. */
export const MAX_READ = 256 << 20;
/** Directory data is read in batches of this many bytes. */
const DIR_BATCH = 1 << 20;
/** Symlink targets longer than this are damage (the kernel caps them at a block). */
const MAX_SYMLINK = 65536;
/** The VFS caps attribute values at 64 KiB. */
const MAX_XATTR_VALUE = 65536;
const INODE_CACHE = 4096;
const RUN_CACHE = 64;

export async function openExt(src: ReadAt, opts?: OpenOptions): Promise<FileSystem | null> {
  if (src.size < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) return null;
  const raw = await src.read(SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE);
  if (!hasExtMagic(raw)) return null;
  const warn = makeWarner(opts, 'ext');
  const sb = parseSuperblock(raw, warn);
  checkGroupCount(sb, src.size);
  if (sb.blocksCount * sb.blockSize > src.size) {
    warn(`file system (${sb.blocksCount * sb.blockSize} bytes) is larger than its source (${src.size} bytes); the image looks truncated`);
  }
  const blocks = new BlockReader(src, sb.blockSize, sb.blocksCount);
  const groups = await readGroups(sb, blocks);
  const fs = new ExtFileSystem(src, sb, groups, blocks, warn);
  await fs.init();
  return fs;
}

async function readGroups(sb: Superblock, blocks: BlockReader): Promise<GroupTable> {
  const table = new GroupTable(sb.groupCount);
  const perBlock = sb.blockSize / sb.descSize;
  for (let g = 0; g < sb.groupCount; g += perBlock) {
    let buf: Uint8Array;
    try {
      buf = await blocks.read(descriptorBlock(sb, g), 1);
    } catch (e) {
      throw new DiskFormatError(`ext group descriptors of group ${g} cannot be read: ${(e as Error).message}`);
    }
    for (let i = 0; i < perBlock && g + i < sb.groupCount; i++) table.set(g + i, buf, i * sb.descSize, is64(sb));
  }
  return table;
}

class ExtFileSystem implements FileSystem {
  readonly type = 'ext' as const;
  private rootNode!: DiskNode;
  private inodes = new Map<number, Inode>();
  private runCache = new Map<number, Run[]>();

  constructor(
    private src: ReadAt,
    private sb: Superblock,
    private groups: GroupTable,
    private blocks: BlockReader,
    private warn: Warn,
  ) {}

  async init(): Promise<void> {
    let root: Inode;
    try {
      root = await this.inode(ROOT_INO);
    } catch (e) {
      throw new DiskFormatError(`ext root directory cannot be read: ${(e as Error).message}`);
    }
    if (root.type !== 'dir') throw new DiskFormatError('ext root inode is not a directory');
    this.rootNode = await this.node(root, new Uint8Array(0));
  }

  root(): DiskNode {
    return this.rootNode;
  }

  async list(dir: DiskNode): Promise<DiskNode[]> {
    const inode = await this.inode(dir.id);
    if (inode.type !== 'dir') throw new Error(`ext: inode ${dir.id} is not a directory`);
    const out: DiskNode[] = [];
    for (const entry of await this.dirEntries(inode)) {
      if (isDotOrDotDot(entry.name)) continue;
      try {
        const child = await this.inode(entry.ino);
        if (child.type === null || child.links === 0) throw new DiskFormatError(`inode is not in use (mode 0o${child.mode.toString(8)})`);
        out.push(await this.node(child, entry.name));
      } catch (e) {
        this.warn(`directory inode ${dir.id}: entry "${Buffer.from(entry.name).toString('latin1')}" (inode ${entry.ino}) skipped: ${(e as Error).message}`);
      }
    }
    return out;
  }

  async extents(file: DiskNode): Promise<PhysicalExtent[] | null> {
    const inode = await this.inode(file.id);
    if (this.isInline(inode) || this.isFastSymlink(inode)) return null;
    const size = this.size(inode);
    const bs = this.sb.blockSize;
    const out: PhysicalExtent[] = [];
    for (const r of await this.runs(inode)) {
      if (r.uninit) continue;
      const fileOffset = r.logical * bs;
      const length = Math.min(r.count * bs, size - fileOffset);
      if (length <= 0) break;
      const last = out[out.length - 1];
      if (last && last.fileOffset + last.length === fileOffset && last.diskOffset + last.length === r.physical * bs) last.length += length;
      else out.push({ fileOffset, diskOffset: r.physical * bs, length });
    }
    return out;
  }

  async readFile(file: DiskNode, offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new Error(`ext: invalid read of ${length} bytes at ${offset}`);
    }
    const inode = await this.inode(file.id);
    const n = Math.max(0, Math.min(length, this.size(inode) - offset));
    if (n > MAX_READ) throw new Error(`ext: a single read is limited to ${MAX_READ} bytes; read in smaller pieces`);
    return this.content(inode, offset, n);
  }

  async readlink(link: DiskNode): Promise<Uint8Array> {
    const inode = await this.inode(link.id);
    if (inode.type !== 'symlink') throw new Error(`ext: inode ${link.id} is not a symlink`);
    const size = this.size(inode);
    if (size > MAX_SYMLINK) throw new DiskFormatError(`ext: symlink inode ${link.id} claims a ${size}-byte target`);
    return this.content(inode, 0, size);
  }

  usedRanges(): Promise<ByteRange[]> {
    return used(this.sb, this.groups, this.src.size, (n) => this.blocks.block(n), this.warn);
  }

  // --- inodes ---------------------------------------------------------------------------

  private async inode(ino: number): Promise<Inode> {
    const hit = this.inodes.get(ino);
    if (hit) return hit;
    const sb = this.sb;
    if (!Number.isInteger(ino) || ino < 1 || ino > sb.inodesCount) throw new DiskFormatError(`inode number ${ino} is out of range`);
    const g = Math.floor((ino - 1) / sb.inodesPerGroup);
    const uninitMeaningful = has(sb.roCompat, RO_COMPAT_GDT_CSUM) || has(sb.roCompat, RO_COMPAT_METADATA_CSUM);
    if (uninitMeaningful && this.groups.flags[g] & BG_INODE_UNINIT) throw new DiskFormatError(`inode ${ino} lies in an unused group`);
    const table = this.groups.inodeTable[g];
    if (table === 0 || table + inodeTableBlocks(sb) > sb.blocksCount) {
      throw new DiskFormatError(`inode table of group ${g} lies outside the file system`);
    }
    const byteOffset = ((ino - 1) % sb.inodesPerGroup) * sb.inodeSize;
    const block = await this.blocks.block(table + Math.floor(byteOffset / sb.blockSize));
    const within = byteOffset % sb.blockSize;
    const inode = parseInode(block.subarray(within, within + sb.inodeSize), ino);
    if (this.inodes.size >= INODE_CACHE) this.inodes.delete(this.inodes.keys().next().value as number);
    this.inodes.set(ino, inode);
    return inode;
  }

  /** i_size; the high word counts for regular files, and for directories with largedir. */
  private size(inode: Inode): number {
    const useHigh = inode.type === 'file' || has(this.sb.incompat, INCOMPAT_LARGEDIR);
    return inode.sizeLo + (useHigh ? inode.sizeHi * 0x100000000 : 0);
  }

  private async node(inode: Inode, name: Uint8Array): Promise<DiskNode> {
    const size = this.size(inode);
    // Logical block numbers are 32 bits, which bounds every valid size.
    if (size > 2 ** 32 * this.sb.blockSize) throw new DiskFormatError(`inode ${inode.ino} claims an impossible size ${size}`);
    const node: DiskNode = {
      id: inode.ino,
      name,
      type: inode.type!,
      mode: inode.mode & 0o7777,
      uid: inode.uid,
      gid: inode.gid,
      size,
      mtimeNs: inode.mtimeNs,
      atimeNs: inode.atimeNs,
      ctimeNs: inode.ctimeNs,
      nlink: inode.links,
    };
    if (node.type === 'chardev' || node.type === 'blockdev') node.rdev = deviceNumbers(inode.iBlock);
    const xattrs = await this.userXattrs(inode);
    if (xattrs) node.xattrs = xattrs;
    return node;
  }

  // --- content --------------------------------------------------------------------------

  private isInline(inode: Inode): boolean {
    return has(this.sb.incompat, INCOMPAT_INLINE_DATA) && has(inode.flags, EXT4_INLINE_DATA_FL);
  }

  /** A symlink whose target sits in i_block: it owns no blocks besides an xattr block. */
  private isFastSymlink(inode: Inode): boolean {
    if (inode.type !== 'symlink' || this.isInline(inode) || has(inode.flags, EXT4_EXTENTS_FL)) return false;
    const unit = has(inode.flags, EXT4_HUGE_FILE_FL) ? this.sb.blockSize : 512;
    const xattrBlocks = inode.fileAcl ? this.sb.clusterSize / unit : 0;
    return inode.blocks - xattrBlocks === 0;
  }

  private async content(inode: Inode, offset: number, n: number): Promise<Uint8Array> {
    if (n === 0) return new Uint8Array(0);
    if (this.isInline(inode) || this.isFastSymlink(inode)) {
      const data = this.isInline(inode) ? this.inlineData(inode) : inode.iBlock;
      const out = new Uint8Array(n);
      out.set(data.subarray(Math.min(offset, data.length), Math.min(offset + n, data.length)));
      if (offset + n > data.length) this.warn(`inode ${inode.ino}: size exceeds its in-inode data; the rest reads as zeros`);
      return out;
    }
    return this.mappedContent(inode, offset, n);
  }

  private async mappedContent(inode: Inode, offset: number, n: number): Promise<Uint8Array> {
    const bs = this.sb.blockSize;
    const out = new Uint8Array(n);
    const runs = await this.runs(inode);
    const end = offset + n;
    for (let i = Math.max(0, findRun(runs, Math.floor(offset / bs))); i < runs.length; i++) {
      const r = runs[i];
      const runStart = r.logical * bs;
      if (runStart >= end) break;
      const from = Math.max(offset, runStart);
      const to = Math.min(end, runStart + r.count * bs);
      if (to <= from || r.uninit) continue;
      const bytes = await this.src.read(r.physical * bs + (from - runStart), to - from);
      if (bytes.length !== to - from) this.warn(`inode ${inode.ino}: data at block ${r.physical} lies past the end of the source`);
      out.set(bytes.subarray(0, to - from), from - offset);
    }
    return out;
  }

  /** Block runs of an extent-mapped or block-mapped inode, cached for repeated reads. */
  private async runs(inode: Inode): Promise<Run[]> {
    // Device nodes keep their numbers in i_block; fifos and sockets own no blocks either.
    if (inode.type !== 'file' && inode.type !== 'dir' && inode.type !== 'symlink') return [];
    const hit = this.runCache.get(inode.ino);
    if (hit) return hit;
    const ctx = {
      blocksCount: this.sb.blocksCount,
      readBlock: (n: number) => this.blocks.block(n),
      warn: this.warn,
      logicalLimit: Math.ceil(this.size(inode) / this.sb.blockSize),
    };
    const runs = has(inode.flags, EXT4_EXTENTS_FL)
      ? await mapExtents(inode.iBlock, ctx, inode.ino)
      : await mapBlockPointers(inode.iBlock, this.sb.blockSize, ctx, inode.ino);
    if (this.runCache.size >= RUN_CACHE) this.runCache.delete(this.runCache.keys().next().value as number);
    this.runCache.set(inode.ino, runs);
    return runs;
  }

  /** Inline data: the 60 bytes of i_block, continued in the in-inode "system.data" attribute. */
  private inlineData(inode: Inode): Uint8Array {
    const more = this.inodeXattrs(inode).find((x) => x.nameIndex === XATTR_INDEX_SYSTEM && Buffer.from(x.name).toString('latin1') === 'data');
    const tail = more?.value ?? new Uint8Array(0);
    const out = new Uint8Array(I_BLOCK_SIZE + tail.length);
    out.set(inode.iBlock);
    out.set(tail, I_BLOCK_SIZE);
    return out;
  }

  // --- directories ----------------------------------------------------------------------

  private async dirEntries(inode: Inode) {
    const hasFileType = has(this.sb.incompat, INCOMPAT_FILETYPE);
    const where = `directory inode ${inode.ino}`;
    if (this.isInline(inode)) {
      // The first 4 bytes of inline directory data hold the parent inode instead of "..".
      const data = this.inlineData(inode);
      return [
        ...parseDirBlock(data.subarray(4, I_BLOCK_SIZE), this.sb.blockSize, hasFileType, this.warn, where),
        ...parseDirBlock(data.subarray(I_BLOCK_SIZE), this.sb.blockSize, hasFileType, this.warn, where),
      ];
    }
    const bs = this.sb.blockSize;
    const entries = [];
    for (const r of await this.runs(inode)) {
      if (r.uninit) continue;
      const perBatch = Math.max(1, Math.floor(DIR_BATCH / bs));
      for (let done = 0; done < r.count; done += perBatch) {
        const count = Math.min(perBatch, r.count - done);
        let data: Uint8Array;
        try {
          data = await this.blocks.read(r.physical + done, count);
        } catch (e) {
          this.warn(`${where}: ${(e as Error).message}`);
          continue;
        }
        for (let b = 0; b < count; b++) {
          entries.push(...parseDirBlock(data.subarray(b * bs, (b + 1) * bs), bs, hasFileType, this.warn, `${where} block ${r.logical + done + b}`));
        }
      }
    }
    return entries;
  }

  // --- extended attributes --------------------------------------------------------------

  private inodeXattrs(inode: Inode): XattrEntry[] {
    if (this.sb.inodeSize <= 128) return [];
    return parseInodeXattrs(inode.xattrArea, this.warn, `inode ${inode.ino} xattrs`);
  }

  /** user., trusted. and security. attributes from the inode body and the xattr block. */
  private async userXattrs(inode: Inode): Promise<Record<string, Uint8Array> | null> {
    const entries = this.inodeXattrs(inode);
    if (inode.fileAcl !== 0) {
      try {
        const block = await this.blocks.block(inode.fileAcl);
        entries.push(...parseBlockXattrs(block, this.warn, `inode ${inode.ino} xattr block ${inode.fileAcl}`));
      } catch (e) {
        this.warn(`inode ${inode.ino}: xattr block ${inode.fileAcl}: ${(e as Error).message}`);
      }
    }
    const out: Record<string, Uint8Array> = {};
    let any = false;
    for (const x of entries) {
      const prefix = XATTR_PREFIXES[x.nameIndex];
      if (!prefix) continue;
      const name = prefix + Buffer.from(x.name).toString('utf8');
      if (name in out) continue;
      const value = x.value ?? (await this.valueFromInode(inode.ino, x));
      if (!value) continue;
      out[name] = value;
      any = true;
    }
    return any ? out : null;
  }

  /** A large value kept in its own inode (ea_inode feature). */
  private async valueFromInode(owner: number, x: XattrEntry): Promise<Uint8Array | null> {
    try {
      if (x.valueSize > MAX_XATTR_VALUE) throw new DiskFormatError(`value of ${x.valueSize} bytes is too large`);
      const holder = await this.inode(x.valueInode);
      if (!has(holder.flags, EXT4_EA_INODE_FL) || holder.type !== 'file') throw new DiskFormatError(`inode ${x.valueInode} is not an xattr inode`);
      return await this.content(holder, 0, Math.min(x.valueSize, this.size(holder)));
    } catch (e) {
      this.warn(`inode ${owner}: xattr value in inode ${x.valueInode} skipped: ${(e as Error).message}`);
      return null;
    }
  }
}
