/**
 * An open repository: its keys, config, index (through the local cache), blob reads and
 * writes, and snapshots. Writing order makes crashes harmless: packs, then the index
 * files that list them, then the snapshot that references them.
 */
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Backend, listNames, NotFoundError } from '../backends/backend.js';
import { SnapshotFileCache } from './snapshot-file-cache.js';
import { mapLimit, Semaphore } from '../backends/concurrency.js';
import { blobHasherKind, createBlobHasher } from '../crypto/blob-id.js';
import { MasterKey, newMasterKey } from '../crypto/master-key.js';
import { KdfParams } from '../crypto/kdf.js';
import { ChunkerParams } from '../chunker/params.js';
import { BlobType, IndexedBlob } from './blob.js';
import { newConfig, RepoConfig, validateConfig } from './config.js';
import { CorruptObjectError } from './errors/corrupt-object-error.js';
import { CryptoPool } from './crypto-pool.js';
import { RepositoryNotFoundError } from './errors/repository-not-found-error.js';
import { WrongPasswordError } from './errors/wrong-password-error.js';
import { openStoredBlob } from './blob-open.js';
import { fromHex, objectName, toHex } from './hex.js';
import type { IndexCache } from './index-cache.js';
import { loadCompression } from './compression.js';
import { decodeIndex, encodeIndex, IndexedPack } from './index-format.js';
import { createKeyFile, parseKeyFile, saveKeyFile, unwrapKeyFile } from './key-file.js';
import { FinishedPack, PackWriter, packDestination } from './pack-writer.js';
import { sealBlob, type SealedBlob } from './blob-seal.js';
import { openJson, sealFile, sealJson, openFile } from './sealed-file.js';
import { parseTree, serializeTree, Tree } from './tree.js';
import { Snapshot, SnapshotRef, validateSnapshot } from './snapshot.js';

export interface OpenOptions {
  cacheDir?: string;
  /** Packs uploaded concurrently. */
  connections?: number;
  /** When given, a damaged index file is reported here and skipped instead of failing the open (check uses this). */
  onIndexError?: (name: string, err: Error) => void;
  /**
   * false: the caller reads the index itself (syncIndex) once it holds a lock. A prune
   * that holds the exclusive lock meanwhile deletes index files it has replaced, and an
   * open that listed them would fail to load them.
   */
  syncIndex?: boolean;
  /** Work for this thread while the key is derived on another (see deriveKey); it must not throw. */
  whileDeriving?: () => void;
  /**
   * Runs once the key is derived and the derivation's 64 MiB are freed, before the rest
   * of the open (config, index, lock): work that needs no repository starts here without
   * adding its memory to the derivation's.
   */
  afterKeyDerived?: () => void;
}

export interface InitOptions extends OpenOptions {
  chunker?: ChunkerParams;
  packSize?: number;
  kdf?: Partial<KdfParams>;
  /** Another repository's blob-id key (`init --from-repo`); fresh when absent. */
  blobIdKey?: Uint8Array;
}

/**
 * Trees are read in aligned pages of their packs, kept in memory after one read. A backup
 * writes a directory's trees after those below it, so walking a subtree mostly stays
 * within a few neighbouring pages: one read per page instead of one per directory.
 * Whole packs were cached before: walking 7 of 30 daily snapshots of /usr, whose trees lay
 * in 30 packs, read 6.7 GB (concurrent walks evicted each other's packs) in 5 s; pages of
 * 1 MiB read 319 MB in 357 reads in 2.2 s (256 KiB: 96 MB, 440 reads, 1.9 s, but a
 * restore from S3, which waits on each read, took a second longer than with 1 MiB).
 */
const TREE_PAGE_BYTES = 1024 * 1024;
const TREE_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * Data blobs are opened in worker threads once a command has read this many stored bytes
 * of them: a long dump, mount read or image restore then decrypts and hashes on every
 * core, while a short one does not pay for starting the workers. Blobs smaller than
 * POOL_MIN_BLOB cost less to open than to send to a worker.
 */
const POOL_AFTER_BYTES = 16 * 1024 * 1024;
const POOL_MIN_BLOB = 64 * 1024;

/**
 * Index entries pending in memory before they are written out as one index file. Each
 * costs about 1 KB of heap until then (at 100,000, every entry of the bench's first
 * backup stayed to the end), and a backup killed midway loses the packs no index file
 * lists yet.
 */
const INDEX_FLUSH_BLOBS = 16_384;

/**
 * Index files fetched at once, and decoded into the cache at once, when the cache catches
 * up. A stored file of 10,000 entries is about 400 KB, decoded about 10 MB, and LevelDB
 * takes about 50 ms to ingest it: with 8 decoded at once the 10-million-blob bench peaked
 * at 330 MiB RSS, with 2 at 250-274 MiB, in the same time.
 */
const INDEX_FETCHES = 8;
const INDEX_INGESTS = 2;

export function defaultCacheDir(): string {
  if (process.env.CAIRN_CACHE_DIR) return process.env.CAIRN_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'cairn');
}

export class Repository {
  /** Blobs written in this session that no index file in the cache lists yet. */
  private readonly sessionBlobs = new Map<string, IndexedBlob | null>();
  private pendingPacks: FinishedPack[] = [];
  private pendingBlobCount = 0;
  private writers?: { data: PackWriter; tree: PackWriter };
  private indexWrite: Promise<void> = Promise.resolve();
  /** Pages of tree packs by `pack:page`, least recently used first. */
  private readonly treePages = new Map<string, Promise<Uint8Array>>();
  private treePageBytes = 0;
  /** Worker threads for opening data blobs, started once a command reads enough to gain from them. */
  private cryptoPool?: CryptoPool;
  private dataBytesOpened = 0;
  readonly hashBlob: (data: Uint8Array) => Uint8Array;
  /** Stored bytes and plaintext bytes of blobs added in this session. */
  readonly added = { blobs: 0, storedBytes: 0, rawBytes: 0 };
  /**
   * `backup --dry-run`: blobs are still hashed, compressed and sealed, and counted in
   * `added`, so the summary says what the backup would add; but no pack, index file or
   * snapshot is written.
   */
  dryRun = false;
  private onIndexError?: (name: string, err: Error) => void;

  private constructor(
    readonly backend: Backend,
    readonly key: MasterKey,
    readonly config: RepoConfig,
    readonly index: IndexCache,
    readonly keyName: string,
    hasher: (data: Uint8Array) => Uint8Array,
    private readonly connections: number,
    /** This repository's directory in the local cache. */
    readonly cacheDir: string,
  ) {
    this.hashBlob = hasher;
    this.snapshotFiles = new SnapshotFileCache(path.join(cacheDir, 'snapshots'));
  }

  private readonly snapshotFiles: SnapshotFileCache;

  static async init(backend: Backend, password: string, opts: InitOptions = {}): Promise<Repository> {
    // Creating first (it is idempotent) lets init make the S3 bucket the check needs.
    await backend.create();
    if (await backend.isRepository()) throw new Error(`a repository already exists at ${backend.location()}`);
    const config = validateConfig(newConfig(toHex(randomBytes(32)), opts));
    const master = newMasterKey(opts.blobIdKey);
    const keyName = await saveKeyFile(backend, await createKeyFile(master, password, opts.kdf));
    await backend.save({ type: 'config', name: '' }, sealJson(master.encrypt, config));
    return Repository.finishOpen(backend, master, config, keyName, opts);
  }

  static async open(backend: Backend, password: string, opts: OpenOptions = {}): Promise<Repository> {
    if (!(await backend.isRepository())) throw new RepositoryNotFoundError(backend.location());
    // What opening needs next loads while the key is derived: the index cache's LevelDB,
    // zstd and BLAKE3 took about 50 ms of every start, before or after the derivation.
    // The config and the list of index files are asked for meanwhile too: from a remote
    // store each is a round trip the open otherwise waits for after the derivation.
    let stored: Promise<Uint8Array> | undefined;
    let indexFiles: Promise<string[]> | undefined;
    const { master, keyName } = await findKey(backend, password, () => {
      import('./index-cache.js').catch(() => {});
      try {
        loadCompression();
        blobHasherKind();
      } catch {
        // Reported where they are used.
      }
      stored = awaitedLater(backend.load({ type: 'config', name: '' }));
      if (opts.syncIndex !== false) indexFiles = awaitedLater(listNames(backend, 'index'));
      opts.whileDeriving?.();
    });
    opts.afterKeyDerived?.();
    const config = validateConfig(openJson(master.encrypt, await (stored ?? backend.load({ type: 'config', name: '' })), 'config'));
    return Repository.finishOpen(backend, master, config, keyName, opts, indexFiles);
  }

  private static async finishOpen(backend: Backend, master: MasterKey, config: RepoConfig, keyName: string, opts: OpenOptions, indexFiles?: Promise<string[]>) {
    const cacheDir = path.join(opts.cacheDir ?? defaultCacheDir(), config.id);
    const { IndexCache } = await import('./index-cache.js');
    const index = await IndexCache.open(cacheDir);
    const repo = new Repository(backend, master, config, index, keyName, await createBlobHasher(master.blobId), opts.connections ?? 5, cacheDir);
    repo.onIndexError = opts.onIndexError;
    if (opts.syncIndex === false) return repo;
    try {
      await repo.syncIndex(indexFiles);
    } catch (err) {
      await index.close();
      throw err;
    }
    return repo;
  }

  /**
   * Reads index files the cache has not seen. If an index file the cache has read is gone,
   * or is superseded by one that prune wrote, the cache may point at deleted packs, so it
   * is rebuilt from the index files in effect (those no present index file supersedes).
   */
  async syncIndex(listed?: Promise<string[]>): Promise<void> {
    const present = new Set(await (listed ?? listNames(this.backend, 'index')));
    let known = await this.index.knownIndexFiles();
    if ([...known.keys()].some((n) => !present.has(n))) {
      await this.index.clear();
      known = new Map();
    }
    const ingesting = new Semaphore(INDEX_INGESTS);
    const damaged = new Map<string, CorruptObjectError>();
    const read = async (names: string[], skip: Set<string>) =>
      mapLimit(names, INDEX_FETCHES, async (name) => {
        if (skip.has(name)) {
          await this.index.skipIndexFile(name);
          return;
        }
        const stored = await this.backend.load({ type: 'index', name });
        await ingesting.run(async () => {
          let idx;
          try {
            idx = this.decodeIndexFile(name, stored);
          } catch (err) {
            if (!(err instanceof CorruptObjectError)) throw err;
            damaged.set(name, err);
            return;
          }
          await this.index.addIndexFile(name, idx.packs, idx.supersedes);
          known.set(name, { supersedes: idx.supersedes, skipped: false });
        });
      });
    await read([...present].filter((n) => !known.has(n)), new Set());
    const superseded = supersededFiles([...known.values()].map((k) => k.supersedes));
    for (const [name, err] of damaged) {
      // A damaged file that a readable one supersedes (a repair interrupted before it
      // deleted the old files) no longer matters.
      if (superseded.has(name)) await this.index.skipIndexFile(name);
      else if (this.onIndexError) this.onIndexError(name, err);
      else throw err;
    }
    if ([...known].some(([n, k]) => superseded.has(n) && !k.skipped)) {
      // Only after an interrupted prune: read again, leaving out what was superseded.
      await this.index.clear();
      known = new Map();
      await read([...present], superseded);
    }
  }

  async loadIndexFile(name: string) {
    return this.decodeIndexFile(name, await this.backend.load({ type: 'index', name }));
  }

  private decodeIndexFile(name: string, stored: Uint8Array) {
    const label = `index/${name}`;
    try {
      return decodeIndex(openFile(this.key.encrypt, stored, label));
    } catch (err) {
      // The packs still say which blobs they hold, so a damaged index file loses nothing.
      const detail = err instanceof CorruptObjectError ? err.detail : (err as Error).message;
      throw new CorruptObjectError(label, detail, 'Run `cairn repair index` to rebuild the index from the packs');
    }
  }

  /**
   * Drops the packs being filled, with their temporary files, and refuses blobs from now
   * on: for a run that failed or was interrupted.
   */
  async abortWrites(): Promise<void> {
    await Promise.all([this.writers?.data.abort(), this.writers?.tree.abort()]);
  }

  async close(): Promise<void> {
    await this.abortWrites();
    await this.cryptoPool?.close();
    await this.index.close();
    await this.backend.close();
  }

  // ---- reading blobs ----

  async lookupBlob(id: Uint8Array): Promise<IndexedBlob | undefined> {
    const s = this.sessionBlobs.get(toHex(id));
    if (s) return s;
    return this.index.lookup(id);
  }

  /** Batched lookupBlob. */
  async lookupBlobs(ids: Uint8Array[]): Promise<(IndexedBlob | undefined)[]> {
    const found = await this.index.lookupMany(ids);
    return ids.map((id, i) => this.sessionBlobs.get(toHex(id)) ?? found[i]);
  }

  /** Batched lookupBlob of blobs that must be there: a missing one is an error that names it. */
  async locateBlobs(ids: string[]): Promise<IndexedBlob[]> {
    const found = await this.lookupBlobs(ids.map((id) => fromHex(id)));
    return found.map((e, i) => e ?? missingBlob(ids[i]));
  }

  /** Decrypts, decompresses and checks the id of a blob: a swapped or damaged blob is caught here. */
  async loadBlob(id: Uint8Array | string): Promise<Uint8Array> {
    const bid = typeof id === 'string' ? fromHex(id) : id;
    const entry = (await this.lookupBlob(bid)) ?? missingBlob(toHex(bid));
    const stored = await this.loadStored(entry);
    if (entry.type === 'data' && entry.length >= POOL_MIN_BLOB) {
      this.dataBytesOpened += entry.length;
      if (this.dataBytesOpened > POOL_AFTER_BYTES) {
        this.cryptoPool ??= new CryptoPool(this.key);
        return this.cryptoPool.openBlob(entry, stored);
      }
    }
    return this.openBlob(entry, stored);
  }

  /** A blob's stored (sealed) bytes; trees come from cached pages of their packs. */
  async loadStored(entry: IndexedBlob): Promise<Uint8Array> {
    const h = { type: 'data' as const, name: entry.pack };
    const page = Math.floor(entry.offset / TREE_PAGE_BYTES);
    // A tree that crosses a page boundary (a large directory) is read by itself.
    if (entry.type !== 'tree' || Math.floor((entry.offset + entry.length - 1) / TREE_PAGE_BYTES) !== page) return this.backend.load(h, entry.offset, entry.length);
    const start = entry.offset - page * TREE_PAGE_BYTES;
    return (await this.treePage(entry.pack, page)).subarray(start, start + entry.length);
  }

  private treePage(pack: string, page: number): Promise<Uint8Array> {
    const key = `${pack}:${page}`;
    let p = this.treePages.get(key);
    if (p) {
      this.treePages.delete(key);
      this.treePages.set(key, p);
      return p;
    }
    // Backends stop short at the end of an object, so the last page is simply shorter.
    p = this.backend.load({ type: 'data', name: pack }, page * TREE_PAGE_BYTES, TREE_PAGE_BYTES);
    this.treePages.set(key, p);
    p.then(
      (bytes) => {
        this.treePageBytes += bytes.length;
        while (this.treePageBytes > TREE_CACHE_BYTES && this.treePages.size > 1) {
          const [oldest, op] = this.treePages.entries().next().value as [string, Promise<Uint8Array>];
          this.treePages.delete(oldest);
          void op.then((b) => (this.treePageBytes -= b.length), () => {});
        }
      },
      () => this.treePages.delete(key),
    );
    return p;
  }

  openBlob(entry: IndexedBlob, stored: Uint8Array): Uint8Array {
    return openStoredBlob(this.key.encrypt, this.hashBlob, entry, stored);
  }

  async loadTree(id: string): Promise<Tree> {
    const bytes = await this.loadBlob(id);
    try {
      return parseTree(bytes);
    } catch (err) {
      throw new CorruptObjectError(`tree ${id}`, (err as Error).message);
    }
  }

  // ---- writing blobs ----

  private packWriters() {
    if (!this.writers) {
      const make = (type: BlobType) =>
        new PackWriter(type, this.config.packSize, this.key.encrypt, packDestination(this.backend), (p) => this.packStored(p), this.connections);
      this.writers = { data: make('data'), tree: make('tree') };
    }
    return this.writers;
  }

  /**
   * Which of these ids must be stored: not in the index and not already written in this
   * session. Ids reported as needed are reserved, so a concurrent caller with the same
   * content does not store it twice.
   */
  async reserveNew(ids: Uint8Array[]): Promise<boolean[]> {
    const need = ids.map((id) => !this.sessionBlobs.has(toHex(id)));
    const ask = ids.filter((_, i) => need[i]);
    const found = await this.index.lookupMany(ask);
    let j = 0;
    return ids.map((id, i) => {
      if (!need[i]) return false;
      if (found[j++]) return false;
      const hex = toHex(id);
      if (this.sessionBlobs.has(hex)) return false; // reserved by a concurrent call meanwhile
      this.sessionBlobs.set(hex, null);
      return true;
    });
  }

  /** Stores a blob reserved by reserveNew. */
  async addSealed(type: BlobType, b: SealedBlob): Promise<void> {
    this.added.blobs++;
    this.added.storedBytes += b.stored.length;
    this.added.rawBytes += b.rawLength;
    if (this.dryRun) return;
    await this.packWriters()[type].add(b);
  }

  /**
   * Hashes, deduplicates and stores a blob written from the main thread (trees, maps).
   * `stored` names a blob known to be in the repository (a parent snapshot's tree): when
   * the new blob has that id, the index lookup is skipped.
   */
  async saveBlob(type: BlobType, data: Uint8Array, stored?: string): Promise<string> {
    const id = this.hashBlob(data);
    if (stored !== undefined && toHex(id) === stored) return stored;
    const [needed] = await this.reserveNew([id]);
    if (needed) {
      await this.addSealed(type, sealBlob(this.key.encrypt, id, data));
    }
    return toHex(id);
  }

  async saveTree(tree: Tree, stored?: string): Promise<string> {
    return this.saveBlob('tree', serializeTree(tree), stored);
  }

  private packStored(p: FinishedPack): void {
    for (const b of p.blobs) this.sessionBlobs.set(toHex(b.id), { ...b, pack: p.id });
    this.pendingPacks.push(p);
    this.pendingBlobCount += p.blobs.length;
    if (this.pendingBlobCount >= INDEX_FLUSH_BLOBS) {
      this.indexWrite = this.indexWrite.then(() => this.writeIndex());
    }
  }

  private async writeIndex(): Promise<void> {
    const packs: IndexedPack[] = this.pendingPacks;
    if (packs.length === 0) return;
    this.pendingPacks = [];
    this.pendingBlobCount = 0;
    const stored = sealFile(this.key.encrypt, encodeIndex({ supersedes: [], packs }));
    const name = await objectName(stored);
    await this.backend.save({ type: 'index', name }, stored);
    await this.index.addIndexFile(name, packs);
    for (const p of packs) for (const b of p.blobs) this.sessionBlobs.delete(toHex(b.id));
  }

  /** Uploads every pending pack and the index files that list them. */
  async flush(): Promise<void> {
    if (this.writers) {
      await Promise.all([this.writers.data.flush(), this.writers.tree.flush()]);
    }
    await this.indexWrite;
    await this.writeIndex();
  }

  // ---- snapshots ----

  /** In a dry run nothing is saved, and the id is empty. */
  async saveSnapshot(s: Snapshot): Promise<string> {
    if (this.dryRun) return '';
    const stored = sealJson(this.key.encrypt, s);
    const name = await objectName(stored);
    await this.backend.save({ type: 'snapshots', name }, stored);
    return name;
  }

  /**
   * A snapshot, from the local cache when it has the file. `fromStore` reads the store's
   * copy whatever the cache holds: for check, which must find a damaged file there.
   */
  async loadSnapshot(id: string, fromStore = false): Promise<Snapshot> {
    if (!fromStore) {
      const cached = await this.snapshotFiles.get(id);
      if (cached) {
        try {
          return this.decodeSnapshot(id, cached);
        } catch {
          await this.snapshotFiles.remove(id);
        }
      }
    }
    const stored = await this.backend.load({ type: 'snapshots', name: id });
    const snapshot = this.decodeSnapshot(id, stored);
    await this.snapshotFiles.put(id, stored);
    return snapshot;
  }

  private decodeSnapshot(id: string, stored: Uint8Array): Snapshot {
    const label = `snapshots/${id}`;
    const json = openJson(this.key.encrypt, stored, label);
    try {
      return validateSnapshot(json);
    } catch (err) {
      throw new CorruptObjectError(label, (err as Error).message);
    }
  }

  /** All snapshots, oldest first. A damaged snapshot is reported through onError and left out. */
  async listSnapshots(onError?: (err: Error) => void, fromStore = false): Promise<SnapshotRef[]> {
    const names = await listNames(this.backend, 'snapshots');
    await this.snapshotFiles.keepOnly(names);
    const refs: SnapshotRef[] = [];
    await mapLimit(names, 16, async (id) => {
      try {
        refs.push({ id, snapshot: await this.loadSnapshot(id, fromStore) });
      } catch (err) {
        if (!onError || err instanceof NotFoundError) throw err;
        onError(err as Error);
      }
    });
    return refs.sort((a, b) => Date.parse(a.snapshot.time) - Date.parse(b.snapshot.time) || a.id.localeCompare(b.id));
  }
}

/**
 * `p`, marked as handled for now: a request sent ahead is awaited only if the open gets
 * that far (a wrong password ends it first), and its failure must not end the process
 * as an unhandled rejection meanwhile. Whoever awaits it still gets the error.
 */
function awaitedLater<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** `meanwhile` runs once, during the first derivation (see deriveKey). */
async function findKey(backend: Backend, password: string, meanwhile?: () => void): Promise<{ master: MasterKey; keyName: string }> {
  const names = await listNames(backend, 'keys');
  const damaged: string[] = [];
  for (const name of names) {
    let master: MasterKey | null;
    try {
      const kf = parseKeyFile(await backend.load({ type: 'keys', name }), `keys/${name}`);
      const once = meanwhile;
      meanwhile = undefined;
      master = await unwrapKeyFile(kf, password, once);
    } catch (err) {
      // One damaged key file must not lock out the others.
      damaged.push(`keys/${name}: ${(err as Error).message}`);
      continue;
    }
    if (master) return { master, keyName: name };
  }
  if (damaged.length > 0 && damaged.length === names.length) {
    throw new CorruptObjectError(damaged.map((d) => d.split(':')[0]).join(', '), `no usable key file (${damaged.join('; ')})`);
  }
  throw new WrongPasswordError(backend.location(), names);
}

/** Index files that another index file supersedes; their entries must not be used. */
export function supersededFiles(lists: string[][]): Set<string> {
  return new Set(lists.flat());
}

function missingBlob(id: string): never {
  throw new CorruptObjectError(`blob ${id}`, 'not in the index (missing)');
}
