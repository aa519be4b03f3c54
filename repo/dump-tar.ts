/**
 * A snapshot directory as a tar stream (`cairn dump SNAPSHOT DIR`, as restic's): every
 * entry below it with its metadata, regular files with their content, hard links as links
 * to the first name, in the snapshot's name order. Blobs load a few ahead of the writer,
 * across files, so that many small files from S3 do not wait on one GET each in turn.
 */
import { Repository } from './repository.js';
import { rfc3339ToNs } from './time-format.js';
import { padding, TAR_END, TarEntry, tarHeader } from './tar-format.js';
import { deviceNumbers, TreeNode } from './tree.js';
import { walkTree } from './tree-walk.js';
import { CorruptObjectError } from './errors/corrupt-object-error.js';

/** Blob loads started ahead of the writer: each is at most one chunk (8 MiB by default). */
const BLOBS_AHEAD = 8;
/** Entries the walk may be ahead of the writer, so that loads can start for files to come. */
const ENTRIES_AHEAD = 256;

export interface DumpTarStats {
  entries: number;
  bytes: number;
}

/**
 * Writes the directory `dir` (its node; `name`: its path in the archive, empty for the
 * snapshot root) and everything below it to `write` as a tar archive.
 */
export async function dumpTar(repo: Repository, dir: TreeNode, name: Buffer, write: (b: Uint8Array) => Promise<void>): Promise<DumpTarStats> {
  const stats: DumpTarStats = { entries: 0, bytes: 0 };
  const blobs = new BlobQueue(repo);
  /** The first name of each hard-linked file, by device and inode. */
  const firstNames = new Map<string, Buffer>();
  const pending: { entry: TarEntry; blobs: number }[] = [];

  const emit = async ({ entry, blobs: count }: { entry: TarEntry; blobs: number }) => {
    await write(tarHeader(entry));
    stats.entries++;
    if (entry.type !== 'file') return;
    let written = 0;
    for (let i = 0; i < count; i++) {
      const data = await blobs.next();
      written += data.length;
      if (written > entry.size) break;
      await write(data);
    }
    if (written !== entry.size) throw new CorruptObjectError(`snapshot file ${entry.path.toString()}`, `its blobs hold ${written} bytes, the tree says ${entry.size}`);
    await write(padding(entry.size));
    stats.bytes += entry.size;
  };
  const queue = (path: Buffer, node: TreeNode) => {
    let linkTo: Buffer | undefined;
    if (node.type === 'file' && node.links > 1) {
      const key = `${node.device}:${node.inode}`;
      linkTo = firstNames.get(key);
      if (!linkTo) firstNames.set(key, path);
    }
    const entry = tarEntry(path, node, linkTo);
    if (!entry) return;
    const content = entry.type === 'file' ? (node.content ?? []) : [];
    for (const id of content) blobs.push(id);
    pending.push({ entry, blobs: content.length });
  };

  if (name.length > 0) queue(name, dir);
  for await (const e of walkTree(repo, dir.subtree!)) {
    queue(name.length > 0 ? Buffer.concat([name, e.path]) : e.path.subarray(1), e.node);
    while (pending.length > ENTRIES_AHEAD) await emit(pending.shift()!);
  }
  while (pending.length > 0) await emit(pending.shift()!);
  await write(TAR_END);
  return stats;
}

/** The tar entry for a node; none for a socket, which an archive cannot hold (tar leaves them out too). */
function tarEntry(path: Buffer, n: TreeNode, hardLinkTo: Buffer | undefined): TarEntry | undefined {
  const base = { path, mode: n.mode, uid: n.uid, gid: n.gid, user: n.user, group: n.group, size: 0, mtimeNs: rfc3339ToNs(n.mtime), atimeNs: rfc3339ToNs(n.atime) };
  const xattrs = n.xattrs?.map((x) => ({ name: x.name, value: Buffer.from(x.value, 'base64') }));
  switch (n.type) {
    case 'file':
      return hardLinkTo ? { ...base, type: 'hardlink', link: hardLinkTo } : { ...base, type: 'file', size: n.size, xattrs };
    case 'dir':
      return { ...base, type: 'dir', xattrs };
    case 'symlink':
      return { ...base, type: 'symlink', link: n.linkTargetRaw !== undefined ? Buffer.from(n.linkTargetRaw, 'base64') : Buffer.from(n.linkTarget ?? '') };
    case 'chardev':
    case 'blockdev': {
      const { major, minor } = deviceNumbers(n.rdev);
      return { ...base, type: n.type, devMajor: major, devMinor: minor, xattrs };
    }
    case 'fifo':
      return { ...base, type: 'fifo', xattrs };
    default:
      return undefined;
  }
}

/** Blob loads in the order the writer will take them, at most BLOBS_AHEAD started and not taken. */
class BlobQueue {
  private readonly ids: string[] = [];
  private readonly started: Promise<Uint8Array>[] = [];

  constructor(private readonly repo: Repository) {}

  push(id: string): void {
    this.ids.push(id);
    this.pump();
  }

  async next(): Promise<Uint8Array> {
    this.pump();
    const p = this.started.shift();
    if (!p) throw new Error('internal error: no blob queued');
    this.pump();
    return p;
  }

  private pump(): void {
    while (this.started.length < BLOBS_AHEAD && this.ids.length > 0) {
      const p = this.repo.loadBlob(this.ids.shift()!);
      // Awaited in its turn; this keeps a failure from going unhandled if the dump stops first.
      p.catch(() => {});
      this.started.push(p);
    }
  }
}
