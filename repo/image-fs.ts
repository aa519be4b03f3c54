/**
 * File-system-aware image backup. Each recognized file system's files are chunked exactly
 * as a file backup chunks them (one CDC stream over the file's logical content), so the
 * same file gives the same blob ids in an image and in a file snapshot. The map points
 * the file's physical extents at ranges of those blobs; whatever no file covers
 * (metadata, slack, unrecognized partitions) is chunked as raw ranges, zeros as holes.
 */
import type { ReadAt } from '../disk/source.js';
import type { ByteRange, DiskNode, FileSystem, FileSystemProbe, PhysicalExtent } from '../disk/types.js';
import { readPartitionTable } from '../disk/partitions.js';
import { sliceSource } from '../disk/slice.js';
import { probeExt } from '../disk/ext.js';
import { probeFat } from '../disk/fat/index.js';
import { probeNtfs } from '../disk/ntfs/index.js';
import { intersectRanges, mergeRanges, subtractRanges } from './byte-ranges.js';
import { ChunkPool, ChunkResult } from './chunk-pool.js';
import { RangeChunker } from './image-chunking.js';
import { floorIndex, type MapExtent } from './image-map.js';
import type { ImageFileSystem, ImagePartition } from './image-snapshot.js';
import { Repository } from './repository.js';
import { Semaphore } from '../backends/concurrency.js';
import { nsToRfc3339 } from './time-format.js';
import { encodeBytes, TreeNode } from './tree.js';

export interface FsBackupOptions {
  usedOnly: boolean;
  warn: (message: string) => void;
  onRead: (bytes: number, files: number) => void;
}

export interface FsBackupResult {
  partitionTable: { scheme: 'mbr' | 'gpt' | 'none'; partitions: ImagePartition[] };
  fileSystems: ImageFileSystem[];
  tree: string;
  extents: MapExtent[];
  counts: { files: number; dirs: number };
}

/** ntfs before fat: an NTFS boot sector is close enough to a FAT one to confuse a lax check. */
const PROBES: [string, FileSystemProbe][] = [
  ['ext', probeExt],
  ['ntfs', probeNtfs],
  ['fat', probeFat],
];
const PIECE = 8 * 1024 * 1024;
const MAX_DEPTH = 4096;

interface Target extends ImageFileSystem {
  fs: FileSystem;
}

/** null when no file system is recognized (the caller falls back to plain mode). */
export async function fileSystemAwareBackup(repo: Repository, pool: ChunkPool, src: ReadAt, opts: FsBackupOptions): Promise<FsBackupResult | null> {
  let table: FsBackupResult['partitionTable'];
  try {
    table = await readPartitionTable(src, { onWarning: (m) => opts.warn(m) });
  } catch (err) {
    opts.warn(`the partition table cannot be read (${(err as Error).message}); the disk is read as one file system`);
    table = { scheme: 'none', partitions: [] };
  }
  const candidates = table.scheme === 'none' ? [{ dir: 'fs', start: 0, size: src.size }] : table.partitions.map((p) => ({ dir: `p${p.number}`, start: p.start, size: p.size }));
  const targets: Target[] = [];
  for (const c of candidates) {
    if (c.start >= src.size) continue;
    const slice = sliceSource(src, c.start, c.size);
    const found = await probe(slice, c.dir, opts.warn);
    if (found) targets.push({ ...c, size: slice.size, type: found.type, fs: found });
  }
  if (targets.length === 0) return null;

  const walker = new ImageWalker(repo, pool, src, opts);
  const nodes: TreeNode[] = [];
  for (const t of targets) nodes.push(await walker.saveFileSystem(t));
  const fileExtents = dropOverlaps(walker.extents);

  let rest = subtractRanges([{ offset: 0, length: src.size }], mergeRanges(fileExtents.map((e) => ({ offset: e.imageOffset, length: e.length }))));
  if (opts.usedOnly) rest = subtractRanges(rest, await freeSpace(targets, opts.warn));
  const raw = new RangeChunker(pool, (b) => opts.onRead(walker.bytes + b, walker.counts.files));
  await raw.add(src, rest);
  const extents = [...fileExtents, ...(await raw.finish())];
  return {
    partitionTable: table,
    fileSystems: targets.map(({ dir, type, start, size }) => ({ dir, type, start, size })),
    tree: await repo.saveTree({ nodes }),
    extents,
    counts: walker.counts,
  };
}

async function probe(slice: ReadAt, dir: string, warn: (m: string) => void): Promise<FileSystem | null> {
  for (const [name, p] of PROBES) {
    try {
      const fs = await p(slice, { onWarning: (m) => warn(`/${dir}: ${m}`) });
      if (fs) return fs;
    } catch (err) {
      warn(`/${dir}: looks like ${name} but cannot be read (${(err as Error).message}); stored as raw bytes`);
      return null;
    }
  }
  return null;
}

/** Image ranges the file systems mark free: the bytes --used-only leaves out. */
async function freeSpace(targets: Target[], warn: (m: string) => void): Promise<ByteRange[]> {
  const free: ByteRange[] = [];
  for (const t of targets) {
    try {
      const used = mergeRanges((await t.fs.usedRanges()).map((r) => ({ offset: t.start + r.offset, length: r.length })));
      free.push(...subtractRanges([{ offset: t.start, length: t.size }], intersectRanges(used, [{ offset: t.start, length: t.size }])));
    } catch (err) {
      warn(`/${t.dir}: the used blocks cannot be read (${(err as Error).message}); all of it is stored`);
    }
  }
  return mergeRanges(free);
}

/**
 * Two files claiming the same blocks (damage) hold the same image bytes there, so either
 * mapping is right; the first one in image order wins and the other is trimmed.
 */
function dropOverlaps(extents: MapExtent[]): MapExtent[] {
  const sorted = [...extents].sort((a, b) => a.imageOffset - b.imageOffset);
  const out: MapExtent[] = [];
  let end = 0;
  for (const e of sorted) {
    const cut = Math.max(0, end - e.imageOffset);
    if (cut >= e.length) continue;
    out.push(cut ? { imageOffset: e.imageOffset + cut, length: e.length - cut, blob: e.blob, blobOffset: e.blobOffset + cut } : e);
    end = e.imageOffset + e.length;
  }
  return out;
}

class ImageWalker {
  readonly extents: MapExtent[] = [];
  readonly counts = { files: 0, dirs: 0 };
  bytes = 0;
  private readonly slots: Semaphore;
  private readonly links = new Map<string, Promise<ChunkResult>>();

  constructor(
    private readonly repo: Repository,
    private readonly pool: ChunkPool,
    private readonly src: ReadAt,
    private readonly opts: FsBackupOptions,
  ) {
    this.slots = new Semaphore(pool.size * 2);
  }

  async saveFileSystem(t: Target): Promise<TreeNode> {
    const root = t.fs.root();
    const node = treeNode(root, Buffer.from(t.dir));
    node.subtree = await this.saveDir(t, root, `/${t.dir}`, 0, new Set([root.id]));
    return node;
  }

  private warn(path: string, what: string) {
    this.opts.warn(`${path}: ${what}`);
  }

  private async saveDir(t: Target, dir: DiskNode, path: string, depth: number, open: Set<number>): Promise<string> {
    this.counts.dirs++;
    let entries: DiskNode[] = [];
    try {
      entries = await t.fs.list(dir);
    } catch (err) {
      this.warn(path, `cannot list the directory (${(err as Error).message}); it is empty in the snapshot`);
    }
    const seen = new Set<string>();
    const pending: Promise<TreeNode | null>[] = [];
    for (const e of entries) {
      const name = Buffer.from(e.name);
      const p = `${path}/${name.toString('utf8')}`;
      const key = name.toString('latin1');
      if (name.length === 0 || key === '.' || key === '..' || name.includes(0x2f) || seen.has(key)) {
        this.warn(p, 'an invalid or repeated name; skipped');
        continue;
      }
      seen.add(key);
      const node = treeNode(e, name);
      if (e.type === 'dir') {
        if (open.has(e.id) || depth >= MAX_DEPTH) {
          this.warn(p, 'a directory loop or absurd nesting; skipped');
          continue;
        }
        open.add(e.id);
        node.subtree = await this.saveDir(t, e, p, depth + 1, open);
        open.delete(e.id);
        pending.push(Promise.resolve(node));
      } else if (e.type === 'file') {
        pending.push(this.saveFile(t, e, node, p));
      } else {
        if (e.type === 'symlink') {
          try {
            const target = encodeBytes(Buffer.from(await t.fs.readlink(e)));
            node.linkTarget = target.text;
            node.linkTargetRaw = target.raw;
          } catch (err) {
            this.warn(p, `cannot read the symlink (${(err as Error).message}); skipped`);
            continue;
          }
        }
        pending.push(Promise.resolve(node));
      }
    }
    const nodes = (await Promise.all(pending)).filter((n): n is TreeNode => n !== null);
    return this.repo.saveTree({ nodes });
  }

  private async saveFile(t: Target, file: DiskNode, node: TreeNode, path: string): Promise<TreeNode | null> {
    const linkKey = file.nlink > 1 ? `${t.dir}:${file.id}` : undefined;
    let result = linkKey ? this.links.get(linkKey) : undefined;
    if (!result) {
      result = this.chunkFile(t, file, path);
      if (linkKey) this.links.set(linkKey, result);
    }
    try {
      const r = await result;
      node.content = r.content;
      node.size = r.size;
      this.counts.files++;
      return node;
    } catch (err) {
      this.warn(path, `cannot read the file (${(err as Error).message}); left out of the snapshot`);
      return null;
    }
  }

  private async chunkFile(t: Target, file: DiskNode, path: string): Promise<ChunkResult> {
    await this.slots.acquire();
    try {
      if (file.size === 0) return { content: [], lengths: [], size: 0, newBytes: 0 };
      const extents = await this.checkedExtents(t, file, path);
      const read = async (pos: number, n: number) => {
        const piece = extents ? await this.readExtents(t, extents, pos, n) : await t.fs.readFile(file, pos, n);
        if (piece.length !== n) throw new Error(`read ${piece.length} bytes at ${pos}, expected ${n}`);
        this.bytes += n;
        this.opts.onRead(this.bytes, this.counts.files);
        return piece;
      };
      // A file of one piece goes in one message; the main thread posted 4.8 s of an
      // image backup's messages when every file was a stream.
      if (file.size <= PIECE) {
        const r = await this.pool.chunkBytes(await read(0, file.size));
        if (extents) this.mapExtents(t, extents, r);
        return r;
      }
      const stream = this.pool.chunkStream();
      for (let pos = 0; pos < file.size; pos += PIECE) await stream.write(await read(pos, Math.min(PIECE, file.size - pos)));
      const r = await stream.end();
      if (extents) this.mapExtents(t, extents, r);
      return r;
    } finally {
      this.slots.release();
    }
  }

  /**
   * The file's extents, or null to read it through readFile (content not in the map).
   * Extents that leave the file system, overlap, or run past the file are damage.
   */
  private async checkedExtents(t: Target, file: DiskNode, path: string): Promise<PhysicalExtent[] | null> {
    let extents: PhysicalExtent[] | null;
    try {
      extents = await t.fs.extents(file);
    } catch (err) {
      this.warn(path, `cannot map the file's blocks (${(err as Error).message}); read through the file system instead`);
      return null;
    }
    if (!extents) return null;
    let fileEnd = 0;
    for (const x of extents) {
      const ok = Number.isSafeInteger(x.fileOffset) && Number.isSafeInteger(x.diskOffset) && x.length > 0 && x.fileOffset >= fileEnd && x.fileOffset + x.length <= file.size && x.diskOffset >= 0 && x.diskOffset + x.length <= t.size;
      if (!ok) {
        this.warn(path, `block map points outside the file system or overlaps itself (at file offset ${x.fileOffset}); read through the file system instead`);
        return null;
      }
      fileEnd = x.fileOffset + x.length;
    }
    return extents;
  }

  /** Logical content [pos, pos + n) from the image: extents as they lie, zeros between. */
  private async readExtents(t: Target, extents: PhysicalExtent[], pos: number, n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    const end = pos + n;
    for (let i = Math.max(0, floorIndex(extents, pos, (x) => x.fileOffset)); i < extents.length && extents[i].fileOffset < end; i++) {
      const x = extents[i];
      const from = Math.max(pos, x.fileOffset);
      const to = Math.min(end, x.fileOffset + x.length);
      if (to <= from) continue;
      const bytes = await this.src.read(t.start + x.diskOffset + (from - x.fileOffset), to - from);
      if (bytes.length !== to - from) throw new Error(`the image ends inside the file's block at ${t.start + x.diskOffset}`);
      out.set(bytes, from - pos);
    }
    return out;
  }

  /** Points each physical extent at the blob ranges that hold its bytes. */
  private mapExtents(t: Target, extents: PhysicalExtent[], r: ChunkResult) {
    const starts: number[] = [];
    let at = 0;
    for (const len of r.lengths) {
      starts.push(at);
      at += len;
    }
    for (const x of extents) {
      let off = x.fileOffset;
      const end = x.fileOffset + x.length;
      for (let i = floorIndex(starts, off, (s) => s); off < end && i < starts.length; i++) {
        const take = Math.min(end, starts[i] + r.lengths[i]) - off;
        this.extents.push({ imageOffset: t.start + x.diskOffset + (off - x.fileOffset), length: take, blob: r.content[i], blobOffset: off - starts[i] });
        off += take;
      }
    }
  }
}

function makedev(major: number, minor: number): number {
  const M = BigInt(major);
  const m = BigInt(minor);
  return Number(((M & 0xfffn) << 8n) | ((M & ~0xfffn) << 32n) | (m & 0xffn) | ((m & ~0xffn) << 12n));
}

function treeNode(n: DiskNode, name: Buffer): TreeNode {
  const enc = encodeBytes(name);
  const xattrs = n.xattrs ? Object.entries(n.xattrs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => ({ name: k, value: Buffer.from(v).toString('base64') })) : undefined;
  return {
    name: enc.text,
    nameRaw: enc.raw,
    type: n.type,
    mode: n.mode & 0o7777,
    uid: n.uid,
    gid: n.gid,
    mtime: nsToRfc3339(n.mtimeNs),
    atime: nsToRfc3339(n.atimeNs),
    ctime: nsToRfc3339(n.ctimeNs),
    size: n.type === 'file' || n.type === 'symlink' ? n.size : 0,
    inode: n.id,
    device: 0,
    links: n.nlink,
    rdev: n.rdev && (n.type === 'chardev' || n.type === 'blockdev') ? makedev(n.rdev.major, n.rdev.minor) : undefined,
    xattrs: xattrs?.length ? xattrs : undefined,
  };
}
