/**
 * One read-only file system over a repository, shared by the FUSE, WebDAV and NBD front
 * ends. The namespace (namespace.ts) leads to snapshots; below a snapshot, directories
 * are its trees. An image snapshot's root also holds `disk.img`, the raw image.
 */
import type { ReadAt } from '../disk/source.js';
import { openImageSnapshot } from '../repo/image-reader.js';
import { Repository } from '../repo/repository.js';
import { Snapshot, SnapshotRef } from '../repo/snapshot.js';
import { NodeType, TreeNode } from '../repo/tree.js';
import { BlobStore, readContent } from './content.js';
import { LruCache } from './lru.js';
import { buildNamespace, NsDir, NsEntry, resolveNamespace, splitPath } from './namespace.js';

export type ErrorCode = 'ENOENT' | 'ENOTDIR' | 'EISDIR' | 'EIO' | 'EINVAL';

export class VfsError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'VfsError';
  }
}

type DirRef = { type: 'ns'; ns: NsDir } | { type: 'tree'; ref: SnapshotRef; tree: string; path: string; isImageRoot: boolean };
type DataRef = { type: 'blobs'; content: string[] } | { type: 'image'; ref: SnapshotRef; source: ReadAt };

export interface VNode {
  ino: number;
  kind: NodeType;
  /** Permission bits (07777), without the type. */
  perm: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  rdev: number;
  mtimeMs: number;
  atimeMs: number;
  ctimeMs: number;
  linkTarget?: string;
  dir?: DirRef;
  data?: DataRef;
}

export type OpenImage = (repo: Repository, snapshot: Snapshot, id: string) => Promise<ReadAt>;

export interface VfsOptions {
  /** Bytes of decrypted blobs kept in memory. */
  cacheBytes?: number;
  /** How to read an image snapshot's raw bytes (repo/image-reader.ts). */
  openImage?: OpenImage;
  /** Seconds before a listing of the namespace reloads the snapshot list. */
  refreshSeconds?: number;
}

export const DISK_IMAGE_NAME = 'disk.img';
const S_IFMT: Record<NodeType, number> = { file: 0o100000, dir: 0o040000, symlink: 0o120000, chardev: 0o020000, blockdev: 0o060000, fifo: 0o010000, socket: 0o140000 };

/** st_mode: type and permission bits. */
export function statMode(n: VNode): number {
  return S_IFMT[n.kind] | n.perm;
}

/** An open file: remembers where the last read ended, to fetch ahead only for sequential reads. */
export interface FileHandle {
  readonly node: VNode;
  read(offset: number, length: number): Promise<Buffer>;
}

const READ_AHEAD_BLOBS = 4;
/**
 * Paths resolved to their nodes, at most this many; when full, the map starts again. The
 * FUSE front end names every file by its full path in each call (getattr, open, ...), and
 * walking it directory by directory took about 90 µs of main-thread time per file when
 * the bench's tree was read through the mount.
 */
const RESOLVED_PATHS = 100_000;

export class Vfs {
  private ns: NsDir;
  private loadedAt: number;
  private refreshing?: Promise<void>;
  private readonly inodes = new Map<string, number>();
  private readonly store: BlobStore;
  private readonly children: LruCache<string, Map<string, VNode>>;
  private readonly offsetTables: LruCache<number, number[]>;
  private readonly images = new Map<string, Promise<ReadAt>>();
  /** Valid for the current namespace only: emptied when the snapshot list is reloaded. */
  private readonly resolved = new Map<string, VNode>();
  private readonly uid = process.getuid?.() ?? 0;
  private readonly gid = process.getgid?.() ?? 0;

  private constructor(
    readonly repo: Repository,
    refs: SnapshotRef[],
    private readonly opts: VfsOptions,
  ) {
    this.ns = buildNamespace(refs);
    this.loadedAt = Date.now();
    this.inodes.set('n:', 1);
    this.store = new BlobStore(repo, opts.cacheBytes ?? 128 * 1024 * 1024);
    this.children = new LruCache(200_000, (m) => m.size + 1);
    this.offsetTables = new LruCache(4_000_000, (t) => t.length);
  }

  static async create(repo: Repository, opts: VfsOptions = {}): Promise<Vfs> {
    return new Vfs(repo, await repo.listSnapshots((err) => process.stderr.write(`skipping a snapshot: ${err.message}\n`)), opts);
  }

  /** Reloads the snapshot list if it is older than refreshSeconds (new backups appear). */
  async refresh(force = false): Promise<void> {
    const age = (Date.now() - this.loadedAt) / 1000;
    if (!force && age < (this.opts.refreshSeconds ?? 30)) return;
    this.refreshing ??= (async () => {
      try {
        const refs = await this.repo.listSnapshots(() => {});
        this.ns = buildNamespace(refs);
        this.resolved.clear();
        this.loadedAt = Date.now();
      } finally {
        this.refreshing = undefined;
      }
    })();
    await this.refreshing;
  }

  private ino(key: string): number {
    let n = this.inodes.get(key);
    if (n === undefined) {
      n = this.inodes.size + 1;
      this.inodes.set(key, n);
    }
    return n;
  }

  async lookup(path: string): Promise<VNode> {
    const hit = this.resolved.get(path);
    if (hit) return hit;
    const ns = this.ns;
    const node = await this.walk(path);
    // A walk that a reload overtook may have resolved against the old snapshot list.
    if (this.ns !== ns) return node;
    if (this.resolved.size >= RESOLVED_PATHS) this.resolved.clear();
    this.resolved.set(path, node);
    return node;
  }

  private async walk(path: string): Promise<VNode> {
    const parts = splitPath(path);
    if (!parts) throw new VfsError('EINVAL', `${path}: '..' is not allowed`);
    const found = resolveNamespace(this.ns, parts);
    if (!found) throw new VfsError('ENOENT', `${path}: no such file or directory`);
    let node = this.nsNode(found.entry);
    for (const part of found.rest) {
      if (node.kind !== 'dir') throw new VfsError('ENOTDIR', `${path}: not a directory`);
      const next = (await this.list(node)).get(part);
      if (!next) throw new VfsError('ENOENT', `${path}: no such file or directory`);
      node = next;
    }
    return node;
  }

  /** A directory's entries by name. */
  async list(node: VNode): Promise<Map<string, VNode>> {
    const d = node.dir;
    if (!d) throw new VfsError('ENOTDIR', 'not a directory');
    if (d.type === 'ns') {
      const m = new Map<string, VNode>();
      for (const [name, e] of d.ns.children) m.set(name, this.nsNode(e));
      return m;
    }
    return this.children.get(`${d.ref.id}:${d.path}`, async () => {
      const m = new Map<string, VNode>();
      let tree;
      try {
        tree = await this.repo.loadTree(d.tree);
      } catch (err) {
        throw new VfsError('EIO', (err as Error).message);
      }
      for (const n of tree.nodes) m.set(n.name, this.treeNode(d.ref, `${d.path}/${n.name}`, n));
      if (d.isImageRoot) {
        // The partitions stay browsable even when the raw image cannot be opened.
        try {
          m.set(DISK_IMAGE_NAME, await this.diskImageNode(d.ref));
        } catch (err) {
          process.stderr.write(`${(err as Error).message}\n`);
        }
      }
      return m;
    });
  }

  /** Re-reads the snapshot list first when a namespace directory is listed. */
  async readdir(node: VNode): Promise<Map<string, VNode>> {
    if (node.dir?.type === 'ns') {
      await this.refresh();
      const now = resolveNamespace(this.ns, splitPath(node.dir.ns.path) ?? []);
      if (!now) return new Map();
      node = this.nsNode(now.entry);
    }
    return this.list(node);
  }

  open(node: VNode): FileHandle {
    const data = node.data;
    if (node.kind === 'dir') throw new VfsError('EISDIR', 'is a directory');
    if (!data) throw new VfsError('EINVAL', `a ${node.kind} has no content to read`);
    if (data.type === 'image') {
      return { node, read: async (offset, length) => Buffer.from(await data.source.read(offset, Math.max(0, Math.min(length, data.source.size - offset)))) };
    }
    let nextOffset: number | undefined;
    return {
      node,
      read: async (offset, length) => {
        if (length <= 0 || offset >= node.size) return Buffer.alloc(0);
        const starts = await this.offsetTables.get(node.ino, () => this.store.offsets(data.content));
        // Kernel readahead may reorder neighbouring requests: near enough counts as sequential.
        const sequential = nextOffset === undefined ? offset === 0 : Math.abs(offset - nextOffset) <= 4 * 1024 * 1024;
        nextOffset = offset + length;
        try {
          return await readContent(this.store, data.content, starts, offset, length, sequential ? READ_AHEAD_BLOBS : 0);
        } catch (err) {
          throw new VfsError('EIO', (err as Error).message);
        }
      },
    };
  }

  private nsNode(e: NsEntry): VNode {
    const base = { perm: 0o555, uid: this.uid, gid: this.gid, size: 0, rdev: 0, mtimeMs: e.mtimeMs, atimeMs: e.mtimeMs, ctimeMs: e.mtimeMs };
    if (e.type === 'link') return { ...base, perm: 0o777, ino: this.ino(`n:${e.path}`), kind: 'symlink', nlink: 1, size: e.target.length, linkTarget: e.target };
    if (e.type === 'dir') {
      const subdirs = [...e.children.values()].filter((c) => c.type !== 'link').length;
      return { ...base, ino: this.ino(`n:${e.path}`), kind: 'dir', nlink: 2 + subdirs, dir: { type: 'ns', ns: e } };
    }
    return {
      ...base,
      perm: 0o755,
      ino: this.ino(`s:${e.ref.id}:`),
      kind: 'dir',
      nlink: 2,
      dir: { type: 'tree', ref: e.ref, tree: e.ref.snapshot.tree, path: '', isImageRoot: e.ref.snapshot.kind === 'image' },
    };
  }

  private treeNode(ref: SnapshotRef, path: string, n: TreeNode): VNode {
    // Hard links in the original share an inode number here too.
    const key = n.type === 'file' && n.links > 1 ? `h:${ref.id}:${n.device}:${n.inode}` : `s:${ref.id}:${path}`;
    const v: VNode = {
      ino: this.ino(key),
      kind: n.type,
      perm: n.mode & 0o7777,
      uid: n.uid,
      gid: n.gid,
      size: n.type === 'symlink' ? Buffer.byteLength(n.linkTarget ?? '') : n.size,
      nlink: n.links || 1,
      rdev: n.rdev ?? 0,
      mtimeMs: Date.parse(n.mtime),
      atimeMs: Date.parse(n.atime),
      ctimeMs: Date.parse(n.ctime),
    };
    if (n.type === 'symlink') v.linkTarget = n.linkTarget ?? '';
    if (n.type === 'dir' && n.subtree) v.dir = { type: 'tree', ref, tree: n.subtree, path, isImageRoot: false };
    if (n.type === 'file') v.data = { type: 'blobs', content: n.content ?? [] };
    return v;
  }

  private async diskImageNode(ref: SnapshotRef): Promise<VNode> {
    let p = this.images.get(ref.id);
    if (!p) {
      p = (this.opts.openImage ?? openImageSnapshot)(this.repo, ref.snapshot, ref.id);
      this.images.set(ref.id, p);
      p.catch(() => this.images.delete(ref.id));
    }
    let source: ReadAt;
    try {
      source = await p;
    } catch (err) {
      throw new VfsError('EIO', `cannot open the image of snapshot ${ref.id.slice(0, 8)}: ${(err as Error).message}`);
    }
    const t = Date.parse(ref.snapshot.time);
    return {
      ino: this.ino(`i:${ref.id}`),
      kind: 'file',
      perm: 0o444,
      uid: this.uid,
      gid: this.gid,
      size: source.size,
      nlink: 1,
      rdev: 0,
      mtimeMs: t,
      atimeMs: t,
      ctimeMs: t,
      data: { type: 'image', ref, source },
    };
  }
}

/**
 * Looks a path up following symlinks on the way, and at the end when `followLast`, for
 * front ends without symlinks (WebDAV). Relative targets resolve against their directory;
 * absolute targets point outside the mount and end the lookup with ENOENT.
 */
export async function lookupFollowing(vfs: Vfs, path: string, followLast = true): Promise<{ path: string; node: VNode }> {
  const MAX_HOPS = 32;
  let todo = path.split('/').filter((c) => c !== '' && c !== '.');
  let cur: string[] = [];
  let node = await vfs.lookup('/');
  for (let hops = 0; todo.length > 0; ) {
    const part = todo.shift()!;
    if (part === '..') {
      cur.pop();
      node = await vfs.lookup(`/${cur.join('/')}`);
      continue;
    }
    const next = await vfs.lookup(`/${[...cur, part].join('/')}`);
    if (next.kind === 'symlink' && (todo.length > 0 || followLast)) {
      if (++hops > MAX_HOPS) throw new VfsError('EINVAL', `${path}: too many levels of symbolic links`);
      const target = next.linkTarget ?? '';
      if (target.startsWith('/')) throw new VfsError('ENOENT', `${path}: the link points outside the snapshot (${target})`);
      todo = [...target.split('/').filter((c) => c !== '' && c !== '.'), ...todo];
      continue;
    }
    cur = [...cur, part];
    node = next;
  }
  return { path: `/${cur.join('/')}`, node };
}
