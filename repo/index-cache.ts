/**
 * The local LevelDB cache of the repository index: blob id -> where it is stored, plus the
 * names of the index files already read into it. Index files in the repository are the
 * truth; this cache only saves re-reading them, so memory stays flat however large the
 * repository grows. It holds blob and pack ids only, never names or contents.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { BlobEntry, BlobType, IndexedBlob } from './blob.js';
import { fromHex, toHex } from './hex.js';
import { removeDeadWritersFiles, WRITER_PATTERN, writerTag } from './dead-writers.js';

const BLOB = 0x62; // 'b' + blob id
const FILE = 0x66; // 'f' + index file name
const VALUE_BYTES = 46;
// First byte of a FILE value: its entries were read, or skipped because it is superseded.
const READ = 0;
const SKIPPED = 1;

export interface KnownIndexFile {
  supersedes: string[];
  skipped: boolean;
}

type DB = ClassicLevel<Buffer, Buffer>;

export class IndexCache {
  private constructor(
    private readonly db: DB,
    private readonly dir: string,
    /** Set when another process holds the shared cache and this one is private and temporary. */
    private readonly temporary: boolean,
  ) {}

  /**
   * LevelDB admits one process at a time; a second concurrent cairn process gets a
   * private cache that it builds from the index files and deletes when done.
   */
  static async open(dir: string): Promise<IndexCache> {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await removeDeadPrivateCaches(dir);
    const shared = path.join(dir, 'index.ldb');
    try {
      return new IndexCache(await openDb(shared), shared, false);
    } catch (err) {
      if (!isLockedError(err)) throw err;
      const priv = path.join(dir, `index.${writerTag()}.${Date.now()}.tmp.ldb`);
      return new IndexCache(await openDb(priv), priv, true);
    }
  }

  /**
   * Synchronous gets: a lookup is a few microseconds in LevelDB's block cache, while each
   * asynchronous call costs some 50 µs of main-thread time in the thread-pool round trip,
   * and backup asks once per file.
   */
  async lookupMany(ids: Uint8Array[]): Promise<(IndexedBlob | undefined)[]> {
    return ids.map((id) => {
      const v = this.db.getSync(blobKey(id));
      return v ? decodeValue(id, v) : undefined;
    });
  }

  async lookup(id: Uint8Array): Promise<IndexedBlob | undefined> {
    return (await this.lookupMany([id]))[0];
  }

  /** Index files already read, each with the index files it supersedes. */
  async knownIndexFiles(): Promise<Map<string, KnownIndexFile>> {
    const files = new Map<string, KnownIndexFile>();
    for await (const [key, value] of this.db.iterator({ gt: Buffer.from([FILE]), lt: Buffer.from([FILE + 1]) })) {
      const supersedes: string[] = [];
      for (let at = 1; at + 32 <= value.length; at += 32) supersedes.push(toHex(value.subarray(at, at + 32)));
      files.set(key.subarray(1).toString('latin1'), { supersedes, skipped: value[0] === SKIPPED });
    }
    return files;
  }

  /** Marks a superseded index file as seen without using its entries. */
  async skipIndexFile(name: string): Promise<void> {
    await this.db.put(fileKey(name), Buffer.from([SKIPPED]));
  }

  /** Records every blob of an index file and marks the file as read, atomically. */
  async addIndexFile(name: string, packs: { id: string; blobs: BlobEntry[] }[], supersedes: string[] = []): Promise<void> {
    let batch = this.db.batch();
    let n = 0;
    for (const p of packs) {
      const pack = fromHex(p.id);
      for (const b of p.blobs) {
        batch.put(blobKey(b.id), encodeValue(pack, b));
        // Bounded batches keep memory flat when an index file is huge.
        if (++n % 50_000 === 0) {
          await batch.write();
          batch = this.db.batch();
        }
      }
    }
    batch.put(fileKey(name), Buffer.concat([Buffer.from([READ]), ...supersedes.map((s) => fromHex(s))]));
    await batch.write();
  }

  async clear(): Promise<void> {
    await this.db.clear();
  }

  async close(): Promise<void> {
    await this.db.close();
    if (this.temporary) await fs.rm(this.dir, { recursive: true, force: true });
  }

  /** Approximate number of cached blobs, for stats (scans keys; not for hot paths). */
  async countBlobs(): Promise<number> {
    let n = 0;
    for await (const _ of this.db.keys({ gt: Buffer.from([BLOB]), lt: Buffer.from([BLOB + 1]) })) n++;
    return n;
  }

  async *entries(): AsyncIterable<IndexedBlob> {
    for await (const [k, v] of this.db.iterator({ gt: Buffer.from([BLOB]), lt: Buffer.from([BLOB + 1]) })) {
      yield decodeValue(k.subarray(1), v);
    }
  }
}

/**
 * Table files LevelDB keeps open (its default is 1,000). It maps open tables into memory,
 * and the pages that lookups touch count in the process's RSS until the table is closed.
 * With 10 million blobs (452 tables) and every table open, lookups pushed RSS to 954 MiB;
 * with 250 it stayed at 140-194 MiB, at 12-31k instead of 35-164k lookups/s. An index up to
 * about 5 million blobs fits in 250 tables, so only larger ones pay that. It also keeps
 * LevelDB's descriptors well under the common limit of 1,024 open files per process.
 */
const OPEN_TABLES = 250;

async function openDb(location: string): Promise<DB> {
  const db = new ClassicLevel<Buffer, Buffer>(location, { keyEncoding: 'buffer', valueEncoding: 'buffer', maxOpenFiles: OPEN_TABLES });
  await db.open();
  return db;
}

/** A private cache's name, with the writer that made it. */
const PRIVATE_CACHE = new RegExp(`^index\\.${WRITER_PATTERN}\\.\\d+\\.tmp\\.ldb$`);

/**
 * A process that dies (kill -9) cannot delete its private cache, a copy of the whole
 * index: the next process to open the cache does.
 */
async function removeDeadPrivateCaches(dir: string): Promise<void> {
  await removeDeadWritersFiles(dir, await fs.readdir(dir).catch(() => []), PRIVATE_CACHE);
}

function isLockedError(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string; message?: string } };
  return e.code === 'LEVEL_DATABASE_NOT_OPEN' && (e.cause?.code === 'LEVEL_LOCKED' || /lock/i.test(String(e.cause?.message ?? '')));
}

function blobKey(id: Uint8Array): Buffer {
  const k = Buffer.allocUnsafe(1 + id.length);
  k[0] = BLOB;
  k.set(id, 1);
  return k;
}

function fileKey(name: string): Buffer {
  return Buffer.concat([Buffer.from([FILE]), Buffer.from(name, 'latin1')]);
}

function encodeValue(pack: Uint8Array, b: BlobEntry): Buffer {
  const v = Buffer.allocUnsafe(VALUE_BYTES);
  v.set(pack, 0);
  v[32] = b.type === 'tree' ? 1 : 0;
  v[33] = b.compressed ? 1 : 0;
  v.writeUInt32LE(b.offset, 34);
  v.writeUInt32LE(b.length, 38);
  v.writeUInt32LE(b.rawLength, 42);
  return v;
}

function decodeValue(id: Uint8Array, v: Buffer): IndexedBlob {
  const type: BlobType = v[32] === 1 ? 'tree' : 'data';
  return {
    id: Uint8Array.from(id),
    pack: toHex(v.subarray(0, 32)),
    type,
    compressed: v[33] === 1,
    offset: v.readUInt32LE(34),
    length: v.readUInt32LE(38),
    rawLength: v.readUInt32LE(42),
  };
}
