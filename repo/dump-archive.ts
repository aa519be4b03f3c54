/**
 * A snapshot directory as an archive stream (`cairn dump SNAPSHOT DIR`, as restic's): tar
 * (every entry below it with its metadata, hard links as links to the first name) or zip
 * (directories, files and symlinks), in the snapshot's name order. Blobs are read a few
 * pack ranges ahead of the writer, across files, so that many small files from S3 take a
 * GET per range, not one each in turn.
 */
import { Repository } from './repository.js';
import { rfc3339ToNs } from './time-format.js';
import { padding, TAR_END, TarEntry, tarHeader } from './tar-format.js';
import { centralDirectory, dataDescriptor, deflatePiece, localHeader, WrittenEntry } from './zip-format.js';
import { crc32 } from 'node:zlib';
import { deviceNumbers, TreeNode } from './tree.js';
import { walkTree } from './tree-walk.js';
import { IndexedBlob } from './blob.js';
import { CorruptObjectError } from './errors/corrupt-object-error.js';
import { readRun } from './pack-ranges.js';

/** Pack reads started ahead of the writer: each is at most 4 MiB, or one larger blob. */
const RUNS_AHEAD = 8;
const LOOKUP_BATCH = 256;
/** Writes to the sink are gathered up to this size. */
const WRITE_BYTES = 256 * 1024;
/** Entries the walk may be ahead of the writer, so that loads can start for files to come. */
const ENTRIES_AHEAD = 256;

export type ArchiveFormat = 'tar' | 'zip';

export interface DumpStats {
  entries: number;
  bytes: number;
}

/**
 * Writes the directory `dir` (its node; `name`: its path in the archive, empty for the
 * snapshot root) and everything below it to `sink` as an archive.
 */
export async function dumpArchive(repo: Repository, dir: TreeNode, name: Buffer, format: ArchiveFormat, sink: (b: Uint8Array) => Promise<void>): Promise<DumpStats> {
  const stats: DumpStats = { entries: 0, bytes: 0 };
  // Headers, padding and small files go out together: three writes per file cost more
  // than the copy into one buffer.
  const gathered: Uint8Array[] = [];
  let gatheredBytes = 0;
  const flush = async () => {
    if (gatheredBytes > 0) await sink(Buffer.concat(gathered, gatheredBytes));
    gathered.length = 0;
    gatheredBytes = 0;
  };
  const write = async (b: Uint8Array) => {
    if (b.length >= WRITE_BYTES) {
      await flush();
      return sink(b);
    }
    gathered.push(b);
    gatheredBytes += b.length;
    if (gatheredBytes >= WRITE_BYTES) await flush();
  };
  const writer = format === 'zip' ? new ZipWriter() : new TarWriter();
  const blobs = new BlobReader(repo);
  /** The first name of each hard-linked file, by device and inode. */
  const firstNames = new Map<string, Buffer>();
  const pending: { entry: TarEntry; blobs: number }[] = [];

  const emit = async ({ entry, blobs: count }: { entry: TarEntry; blobs: number }) => {
    const head = writer.begin(entry);
    if (!head) return;
    await write(head);
    stats.entries++;
    if (entry.type !== 'file') return;
    let written = 0;
    for (let i = 0; i < count; i++) {
      const data = await blobs.next();
      written += data.length;
      if (written > entry.size) break;
      await write(writer.content(data, i === count - 1));
    }
    if (written !== entry.size) throw new CorruptObjectError(`snapshot file ${entry.path.toString()}`, `its blobs hold ${written} bytes, the tree says ${entry.size}`);
    await write(writer.end());
    stats.bytes += entry.size;
  };
  const queue = (path: Buffer, node: TreeNode) => {
    let linkTo: Buffer | undefined;
    if (node.type === 'file' && node.links > 1 && writer.hardLinks) {
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
  await write(writer.finish());
  await flush();
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

/** What a format makes of each entry; entries arrive in order, a file's content between begin and end. */
interface ArchiveWriter {
  /** Whether a later name of a hard-linked file is written as a link (without content). */
  readonly hardLinks: boolean;
  /** The bytes before the entry's content, all of them for an entry without content; none: the format leaves it out. */
  begin(e: TarEntry): Uint8Array | undefined;
  content(piece: Uint8Array, last: boolean): Uint8Array;
  end(): Uint8Array;
  finish(): Uint8Array;
}

class TarWriter implements ArchiveWriter {
  readonly hardLinks = true;
  private size = 0;

  begin(e: TarEntry): Uint8Array {
    this.size = e.size;
    return tarHeader(e);
  }

  content(piece: Uint8Array): Uint8Array {
    return piece;
  }

  end(): Uint8Array {
    return padding(this.size);
  }

  finish(): Uint8Array {
    return TAR_END;
  }
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** Zip holds directories, files and symlinks; a hard link is written as a file of its own. */
class ZipWriter implements ArchiveWriter {
  readonly hardLinks = false;
  private offset = 0;
  private readonly written: WrittenEntry[] = [];
  private current?: WrittenEntry;

  begin(e: TarEntry): Uint8Array | undefined {
    const base = { mtimeNs: e.mtimeNs, offset: this.offset, crc: 0, size: 0, compressedSize: 0 };
    const perm = e.mode & 0o7777;
    if (e.type === 'dir') return this.whole({ ...base, name: Buffer.concat([e.path, Buffer.from('/')]), mode: S_IFDIR | perm, deflated: false }, Buffer.alloc(0));
    if (e.type === 'symlink') return this.whole({ ...base, name: e.path, mode: S_IFLNK | 0o777, deflated: false }, e.link!);
    if (e.type !== 'file') return undefined;
    this.current = { ...base, name: e.path, mode: S_IFREG | perm, deflated: true };
    return this.count(localHeader(this.current));
  }

  content(piece: Uint8Array, last: boolean): Uint8Array {
    const c = this.current!;
    c.crc = crc32(piece, c.crc);
    c.size += piece.length;
    const out = deflatePiece(piece, last);
    c.compressedSize += out.length;
    return this.count(out);
  }

  end(): Uint8Array {
    const c = this.current!;
    // An empty file's stream still needs its final block.
    const tail = c.size === 0 ? this.content(new Uint8Array(0), true) : new Uint8Array(0);
    this.written.push(c);
    this.current = undefined;
    return Buffer.concat([tail, this.count(dataDescriptor(c))]);
  }

  finish(): Uint8Array {
    return centralDirectory(this.written, this.offset);
  }

  /** An entry whose data is known at once: stored, header, data and descriptor together. */
  private whole(w: WrittenEntry, data: Buffer): Uint8Array {
    w.crc = crc32(data);
    w.size = w.compressedSize = data.length;
    this.written.push(w);
    return this.count(Buffer.concat([localHeader(w), data, dataDescriptor(w)]));
  }

  private count(b: Buffer): Buffer {
    this.offset += b.length;
    return b;
  }
}

/**
 * The content blobs of the files to come, in the order the writer takes them. Runs of
 * blobs that lie together in a pack (a backup writes a directory's small files side by
 * side) are read with one ranged read, a few runs ahead of the writer.
 */
class BlobReader {
  private readonly ids: string[] = [];
  /** Index in `ids` of the first blob whose read has not started. */
  private unread = 0;
  /** Index entries of ids[unread...], as far as they were looked up. */
  private located: IndexedBlob[] = [];
  private readonly ready: { data: Promise<Uint8Array>; endsRun: boolean }[] = [];
  private runs = 0;

  constructor(private readonly repo: Repository) {}

  push(id: string): void {
    this.ids.push(id);
  }

  async next(): Promise<Uint8Array> {
    await this.readAhead();
    const b = this.ready.shift();
    if (!b) throw new Error('internal error: no blob queued');
    if (b.endsRun) this.runs--;
    return b.data;
  }

  private async readAhead(): Promise<void> {
    while (this.runs < RUNS_AHEAD && this.unread < this.ids.length) {
      // A run may go on past what was looked up: look up a batch more first.
      if (this.located.length < LOOKUP_BATCH && this.unread + this.located.length < this.ids.length) await this.lookUpMore();
      const { count, start, end } = readRun(this.located, 0);
      const run = this.located.splice(0, count);
      const pack = run[0].pack;
      const bytes = this.repo.backend.load({ type: 'data', name: pack }, start, end - start);
      for (const [k, e] of run.entries()) {
        const data = bytes.then((b) => this.repo.openBlob(e, b.subarray(e.offset - start, e.offset - start + e.length)));
        // Awaited in its turn; this keeps a failure from going unhandled if the dump stops first.
        data.catch(() => {});
        this.ready.push({ data, endsRun: k === count - 1 });
      }
      this.runs++;
      this.unread += count;
      // The ids of a long dump add up (a blob per megabyte of a disk image): drop those read.
      if (this.unread >= LOOKUP_BATCH) {
        this.ids.splice(0, this.unread);
        this.unread = 0;
      }
    }
  }

  private async lookUpMore(): Promise<void> {
    const from = this.unread + this.located.length;
    this.located.push(...(await this.repo.locateBlobs(this.ids.slice(from, from + LOOKUP_BATCH))));
  }
}
