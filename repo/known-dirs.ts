/**
 * Known directories: for each tree a file backup made from a directory, the digest of
 * that directory's listing (names, lstat fields, link targets) and the subtrees of its
 * subdirectories, in listing order. When a later backup lists a directory with the digest
 * recorded for the parent snapshot's tree of it, every file there is unchanged and every
 * node would be made as before, so the backup keeps that tree without loading, comparing
 * or serializing it, and only walks the subdirectories.
 *
 * The records live in the local cache, one file per snapshot tree (`dirs/<tree id>`),
 * written once the snapshot is saved. They are only a shortcut: a missing, damaged or
 * outdated file means the trees are loaded and compared, as without it. A keyed hash
 * seals each file, so a flipped bit cannot slip a wrong subtree into a snapshot.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DirListing } from './dir-listing.js';
import { fromHex, toHex } from './hex.js';
import { nameTables } from './user-names.js';
import { removeDeadWritersFiles, WRITER_PATTERN, writerTag } from './dead-writers.js';

const MAGIC = Buffer.from('cairnKD1');
const ID = 32;
/** Files kept, the new one among them: one per line of backups (host and paths), with room. */
const KEEP_FILES = 16;
const FILE_NAME = /^[0-9a-f]{64}$/;
/** A file being written by save(), with its writer. */
const TEMPORARY_NAME = new RegExp(`^[0-9a-f]{64}\\.${WRITER_PATTERN}\\.tmp$`);

export type Hasher = (data: Uint8Array) => Uint8Array;

export interface KnownDir {
  digest: Uint8Array;
  subtrees: string[];
}

/**
 * What makes the same listing give other nodes: this code's version of them, and the
 * user and group names that nodes record beside uid and gid.
 */
export function knownDirsFingerprint(hash: Hasher): Uint8Array {
  return hash(Buffer.from(`cairn known dirs 1\0${nameTables()}`));
}

const LISTING_PREFIX = Buffer.from('cairn dir listing\0');

/**
 * A listing's digest, apart from any blob id of the same bytes; none for a listing with
 * an entry that failed (DirListing.digestParts).
 */
export function listingDigest(hash: Hasher, listing: DirListing): Uint8Array | undefined {
  const parts = listing.digestParts();
  return parts && hash(Buffer.concat([LISTING_PREFIX, ...parts]));
}

export function recordsDir(cacheDir: string): string {
  return path.join(cacheDir, 'dirs');
}

/** The records of the directories under one snapshot tree. */
export class KnownDirs {
  constructor(private readonly dirs: Map<string, KnownDir>) {}

  get(tree: string): KnownDir | undefined {
    return this.dirs.get(tree);
  }

  /** The records for `tree`, or none when its file is missing, damaged or made for other names. */
  static async load(cacheDir: string, tree: string, hash: Hasher, fingerprint: Uint8Array): Promise<KnownDirs | undefined> {
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(path.join(recordsDir(cacheDir), tree));
    } catch {
      return undefined;
    }
    return parseRecords(bytes, hash, fingerprint);
  }
}

function parseRecords(bytes: Buffer, hash: Hasher, fingerprint: Uint8Array): KnownDirs | undefined {
  const head = MAGIC.length + ID;
  if (bytes.length < head + ID || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const body = bytes.subarray(0, bytes.length - ID);
  if (!Buffer.from(hash(body)).equals(bytes.subarray(body.length))) return undefined;
  if (!bytes.subarray(MAGIC.length, head).equals(fingerprint)) return undefined;
  const dirs = new Map<string, KnownDir>();
  let at = head;
  while (at < body.length) {
    if (at + 2 * ID + 4 > body.length) return undefined;
    const tree = toHex(body.subarray(at, at + ID));
    const digest = body.subarray(at + ID, at + 2 * ID);
    const count = body.readUInt32LE(at + 2 * ID);
    at += 2 * ID + 4;
    if (at + count * ID > body.length) return undefined;
    const subtrees: string[] = [];
    for (let i = 0; i < count; i++, at += ID) subtrees.push(toHex(body.subarray(at, at + ID)));
    dirs.set(tree, { digest, subtrees });
  }
  return new KnownDirs(dirs);
}

/** Collects the records of one backup's directories, and saves them with its snapshot. */
export class DirRecorder {
  private readonly records: Buffer[] = [];

  add(tree: string, digest: Uint8Array, subtrees: string[]): void {
    const count = Buffer.alloc(4);
    count.writeUInt32LE(subtrees.length);
    this.records.push(Buffer.concat([fromHex(tree), digest, count, ...subtrees.map(fromHex)]));
  }

  /**
   * Writes the records for `tree` (the saved snapshot's), then removes the file of the
   * parent's tree, which the next backup of these paths no longer needs, and the oldest
   * files beyond KEEP_FILES. A cache that cannot be written only costs speed, so failures
   * are ignored.
   */
  async save(cacheDir: string, tree: string, parentTree: string | undefined, hash: Hasher, fingerprint: Uint8Array): Promise<void> {
    const dir = recordsDir(cacheDir);
    const body = Buffer.concat([MAGIC, fingerprint, ...this.records]);
    const file = path.join(dir, tree);
    const tmp = `${file}.${writerTag()}.tmp`;
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      await fs.writeFile(tmp, Buffer.concat([body, hash(body)]), { mode: 0o600 });
      await fs.rename(tmp, file);
      if (parentTree !== undefined && parentTree !== tree) await fs.rm(path.join(dir, parentTree), { force: true });
      await removeOldest(dir);
    } catch {
      await fs.rm(tmp, { force: true }).catch(() => {});
    }
  }
}

/** Removes the oldest files beyond KEEP_FILES, and what killed processes left half-written. */
async function removeOldest(dir: string): Promise<void> {
  const all = await fs.readdir(dir);
  await removeDeadWritersFiles(dir, all, TEMPORARY_NAME);
  const names = all.filter((n) => FILE_NAME.test(n));
  if (names.length <= KEEP_FILES) return;
  const dated = await Promise.all(names.map(async (n) => ({ n, t: (await fs.stat(path.join(dir, n))).mtimeMs })));
  dated.sort((a, b) => b.t - a.t);
  await Promise.all(dated.slice(KEEP_FILES).map(({ n }) => fs.rm(path.join(dir, n), { force: true })));
}
