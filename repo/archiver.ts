/**
 * File-tree backup: walks the given paths, reuses the content of files unchanged since the
 * parent snapshot, sends the rest to the chunk workers, and writes one tree per directory.
 * The snapshot is written last, after every pack and index file it needs.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChunkPool, ChunkResult, SourceReadError } from './chunk-pool.js';
import { nodeFromStat, nodeType, unchangedSince } from './node-metadata.js';
import { Repository } from './repository.js';
import { Semaphore } from '../backends/concurrency.js';
import { Snapshot, SnapshotRef, SnapshotSummary } from './snapshot.js';
import { encodeBytes, nameBytes, sameNodes, TreeNode } from './tree.js';
import { resolveParent } from './snapshot-select.js';
import { readXattrs } from './xattrs.js';
import { joinPath } from './path-bytes.js';
import { SourceWalk, WalkFailedError } from './source-walk.js';
import type { DirListing, EntryStat, ListedEntry } from './dir-listing.js';
import { DirRecorder, KnownDir, KnownDirs, knownDirsFingerprint, listingDigest } from './known-dirs.js';
import type { WalkTotals } from './walk-protocol.js';

/** What to back up: the walk of the source needs these and nothing of the repository. */
export interface BackupSource {
  paths: string[];
  excludes?: string[];
  /** Exclude patterns matched without regard to case (--iexclude). */
  iexcludes?: string[];
  excludeCaches?: boolean;
  oneFileSystem?: boolean;
  /** Regular files larger than this are left out, except those named in `paths`. */
  maxFileSize?: number;
}

export interface BackupRunOptions {
  tags?: string[];
  host?: string;
  /** Parent snapshot id; undefined picks the latest with the same host and paths; null uses none. */
  parent?: string | null;
  time?: Date;
  onProgress?: (p: BackupProgress) => void;
  onFileError?: (path: string, err: Error) => void;
  /** Count files and bytes ahead of the backup, for an ETA. */
  scanTotals?: boolean;
  /** Save no snapshot when the tree is the parent's, as restic's --skip-if-unchanged. */
  skipIfUnchanged?: boolean;
}

export type BackupOptions = BackupSource & BackupRunOptions;

export interface BackupProgress {
  files: number;
  dirs: number;
  bytes: number;
  errors: number;
  totalFiles?: number;
  totalBytes?: number;
  addedBytes: number;
  currentPath?: string;
}

export interface BackupResult {
  id: string;
  snapshot: Snapshot;
  /** Set when no snapshot was saved because nothing changed since this one (the parent). */
  unchangedSince?: string;
}

/**
 * Saves a backup's snapshot, unless it was asked to skip one that would only repeat its
 * parent. The tree holds every name, content id and metadata field (directory access
 * times too, which readdir moves about once a day), so an equal tree id is an unchanged
 * source.
 */
export async function saveBackupSnapshot(repo: Repository, snapshot: Snapshot, parent: SnapshotRef | undefined, skipIfUnchanged = false): Promise<BackupResult> {
  if (skipIfUnchanged && parent && parent.snapshot.tree === snapshot.tree) return { id: parent.id, snapshot, unchangedSince: parent.id };
  return { id: await repo.saveSnapshot(snapshot), snapshot };
}

/**
 * A backup whose walk of the source has begun. The walk needs no repository, so a command
 * starts it as soon as the key is derived, before it reads the config and the index and
 * takes the lock: in an unchanged or slightly changed backup, the cold walk is the
 * longest thread of work.
 */
export class PreparedBackup {
  private readonly paths: string[];
  private readonly roots: RootPlan;
  private readonly walk: SourceWalk;

  constructor(source: BackupSource) {
    this.paths = source.paths.map((p) => path.resolve(p));
    this.roots = planRoots(this.paths);
    const { excludes = [], iexcludes = [], excludeCaches = false, oneFileSystem = false, maxFileSize } = source;
    this.walk = new SourceWalk(this.roots.targets, { excludes, iexcludes, excludeCaches, oneFileSystem, maxFileSize });
  }

  /** Runs the backup into `repo`, and stops the walk when it ends, however it ends. */
  async run(repo: Repository, opts: BackupRunOptions = {}): Promise<BackupResult> {
    const pool = new ChunkPool(repo);
    try {
      return await this.archive(repo, pool, opts);
    } finally {
      await Promise.all([pool.close(), this.cancel()]);
    }
  }

  private async archive(repo: Repository, pool: ChunkPool, opts: BackupRunOptions): Promise<BackupResult> {
    const started = Date.now();
    const { paths } = this;
    const host = opts.host ?? os.hostname();
    const tags = opts.tags ?? [];
    const parent = await resolveParent(repo, host, paths, opts.parent);
    const fingerprint = knownDirsFingerprint(repo.hashBlob);
    const known = parent && (await KnownDirs.load(repo.cacheDir, parent.snapshot.tree, repo.hashBlob, fingerprint));
    const recorder = new DirRecorder();
    const archiver = new Archiver(repo, pool, this.walk, opts, known, recorder);
    if (opts.scanTotals) this.walk.count((t) => archiver.setTotals(t));
    const tree = await archiver.saveRoots(this.roots, parent?.snapshot.tree);
    pool.throwIfFailed();
    await repo.flush();
    const summary: SnapshotSummary = {
      ...archiver.counts,
      totalFiles: archiver.progress.files,
      totalBytes: archiver.progress.bytes,
      addedBytes: repo.added.storedBytes,
      addedRawBytes: repo.added.rawBytes,
      errors: archiver.progress.errors,
      durationSeconds: (Date.now() - started) / 1000,
    };
    const snapshot: Snapshot = {
      version: 1,
      time: (opts.time ?? new Date(started)).toISOString(),
      host,
      user: os.userInfo().username,
      paths,
      tags,
      parent: parent?.id,
      kind: 'files',
      tree,
      summary,
    };
    const result = await saveBackupSnapshot(repo, snapshot, parent, opts.skipIfUnchanged);
    if (!repo.dryRun) await recorder.save(repo.cacheDir, tree, parent?.snapshot.tree, repo.hashBlob, fingerprint);
    return result;
  }

  /** Stops the walk: for a backup that will not run, as `run` stops it itself. */
  cancel(): Promise<void> {
    return this.walk.stop();
  }
}

export function backup(repo: Repository, opts: BackupOptions): Promise<BackupResult> {
  return new PreparedBackup(opts).run(repo, opts);
}

/**
 * The walk's metadata calls (readdir, lstat, readlink) run on a worker thread
 * (SourceWalk), which posts each directory's listing; this thread builds nodes and trees
 * from them. Going through each listing can run long without awaiting (unchanged files,
 * free queue places), so the loop yields to the event loop every YIELD_EVERY entries.
 */
const YIELD_EVERY = 256;
/**
 * Files the walk may have found and not yet finished. lstat outruns reading and
 * compressing, so without a bound a first backup queued whole directories of files, each
 * with its stat and node: a heap snapshot 14 s into the bench's first backup held 18,700
 * stats, and 38 MB more live heap than with the bound.
 */
const QUEUED_FILES = 512;

/**
 * What walking an entry gives: its result, ready once every file below it is chunked.
 * Boxed, so that awaiting the walk does not await the result.
 */
interface Walked<T> {
  result: Promise<T>;
}

/** An entry of a directory being walked: its node, or the promise of it (null: left out). */
type Entered = TreeNode | null | Promise<TreeNode | null>;

/** The backup's paths by component; `target` marks a path given to back up. */
interface Trie {
  children: Map<string, Trie>;
  target?: string;
}

/** The paths as a trie, and the targets in the order they are saved (and walked). */
interface RootPlan {
  root: Trie;
  targets: string[];
}

/** A path inside another is saved, and walked, as part of it. */
function planRoots(paths: string[]): RootPlan {
  const root: Trie = { children: new Map() };
  for (const p of paths) {
    let t = root;
    for (const part of p.split('/').filter(Boolean)) {
      if (!t.children.has(part)) t.children.set(part, { children: new Map() });
      t = t.children.get(part)!;
    }
    t.target = p;
  }
  const targets: string[] = [];
  const order = (t: Trie) => (t.target !== undefined ? targets.push(t.target) : t.children.forEach(order));
  order(root);
  return { root, targets };
}

class Archiver {
  readonly progress: BackupProgress = { files: 0, dirs: 0, bytes: 0, errors: 0, addedBytes: 0 };
  readonly counts = { filesNew: 0, filesChanged: 0, filesUnchanged: 0, dirs: 0 };
  private readonly slots: Semaphore;
  private readonly queuedFiles = new Semaphore(QUEUED_FILES);
  private readonly hardLinks = new Map<string, Promise<ChunkResult>>();

  constructor(
    private readonly repo: Repository,
    private readonly pool: ChunkPool,
    private readonly walk: SourceWalk,
    private readonly opts: BackupRunOptions,
    /** The parent snapshot's directories as recorded by the backup that made it. */
    private readonly knownDirs: KnownDirs | undefined,
    private readonly recorder: DirRecorder,
  ) {
    this.slots = new Semaphore(pool.capacity);
  }

  setTotals(t: WalkTotals) {
    this.progress.totalFiles = t.files;
    this.progress.totalBytes = t.bytes;
    this.report();
  }

  private report(current?: string) {
    this.progress.addedBytes = this.repo.added.storedBytes;
    this.progress.currentPath = current;
    this.opts.onProgress?.(this.progress);
  }

  /**
   * After the chunk pool failed, every file fails with its error: the backup fails with it
   * once the walk ends (PreparedBackup), instead of one warning per file.
   */
  private fileError(p: string, err: Error) {
    if (this.pool.failed) return;
    this.progress.errors++;
    this.opts.onFileError?.(p, err);
  }

  /** The snapshot's root tree holds each path under its full absolute path, as restic does. */
  async saveRoots({ root, targets }: RootPlan, parentTree: string | undefined): Promise<string> {
    const listing = await this.walk.roots();
    const listed = new Map(targets.map((p, i) => [p, listing.entry(i)]));
    return this.saveRootTrees(root, listed, parentTree);
  }

  private async saveRootTrees(root: Trie, listed: Map<string, ListedEntry>, parentTree: string | undefined): Promise<string> {
    // Like walkDir: each path is walked in turn, and none waits for the files of the one
    // before to finish.
    const save = async (t: Trie, dir: string, prevTree: string | undefined): Promise<Walked<string>> => {
      const prev = await this.loadPrev(prevTree);
      const pending: Promise<TreeNode | null>[] = [];
      // Awaited below, after the walk of the paths that follow; see walkDir.
      const add = (node: Promise<TreeNode | null>) => {
        node.catch(() => {});
        pending.push(node);
      };
      for (const [name, child] of t.children) {
        const abs = path.join(dir, name);
        const prevNode = prev.byName.get(Buffer.from(name).toString('latin1'));
        if (child.target !== undefined) {
          const entry = listed.get(child.target)!;
          if (entry.error) {
            this.fileError(abs, entry.error);
            continue;
          }
          add((await this.walkEntry(Buffer.from(abs), { ...entry, name: Buffer.from(name) }, prevNode)).result);
        } else {
          let st: EntryStat;
          try {
            st = await fs.lstat(abs, { bigint: true });
          } catch (err) {
            this.fileError(abs, err as Error);
            continue;
          }
          const node = nodeFromStat(encodeBytes(Buffer.from(name)), 'dir', st);
          const { result } = await save(child, abs, prevNode?.type === 'dir' ? prevNode.subtree : undefined);
          add(result.then((id) => Object.assign(node, { subtree: id })));
        }
      }
      const result = Promise.all(pending).then((nodes) => this.repo.saveTree({ nodes: nodes.filter((n): n is TreeNode => n !== null) }));
      result.catch(() => {});
      return { result };
    };
    // Backing up `/` itself: the root tree is the tree of `/`.
    const id = root.target !== undefined ? await this.saveRootDir(listed.get(root.target)!, parentTree) : await (await save(root, '/', parentTree)).result;
    this.report();
    return id;
  }

  private async saveRootDir(entry: ListedEntry, parentTree: string | undefined): Promise<string> {
    if (entry.error) throw entry.error;
    this.counts.dirs++;
    this.progress.dirs++;
    return (await this.walkDir(Buffer.from('/'), parentTree)).result;
  }

  /**
   * The parent's tree: its nodes by name (latin1 of the name's bytes), and its node list
   * when it loaded (none without a parent or when it is damaged).
   */
  private async loadPrev(treeId: string | undefined): Promise<{ byName: Map<string, TreeNode>; nodes?: TreeNode[] }> {
    const byName = new Map<string, TreeNode>();
    if (!treeId) return { byName };
    try {
      const { nodes } = await this.repo.loadTree(treeId);
      for (const n of nodes) byName.set(nameBytes(n).toString('latin1'), n);
      return { byName, nodes };
    } catch {
      // A damaged parent only costs re-reading files; the new snapshot does not depend on it.
      return { byName };
    }
  }

  /**
   * Walks an entry (a directory with everything below it) and gives its node, which is
   * ready once every file below it is chunked. Only the walk is awaited here. `entry` has
   * a stat: the caller reports an entry the walk could not stat.
   */
  private async walkEntry(abs: Buffer, entry: ListedEntry, prev: TreeNode | undefined): Promise<Walked<TreeNode | null>> {
    const st = entry.stat!;
    const type = nodeType(st.mode);
    if (!type) return { result: Promise.resolve(null) };
    const name = encodeBytes(entry.name);
    if (type === 'file') return { result: this.saveFile(abs, nodeFromStat(name, 'file', st), prev) };
    if (type === 'dir') {
      const node = this.dirNode(abs, entry, prev);
      const subtree = entry.otherDevice ? this.repo.saveTree({ nodes: [] }) : (await this.walkDir(abs, prev?.type === 'dir' ? prev.subtree : undefined)).result;
      return { result: subtree.then((id) => Object.assign(node, { subtree: id })) };
    }
    const node = nodeFromStat(name, type, st);
    if (type === 'symlink') {
      const target = encodeBytes(entry.linkTarget!);
      node.linkTarget = target.text;
      node.linkTargetRaw = target.raw;
    }
    return { result: Promise.resolve(node) };
  }

  /** A directory's node but for its subtree, counted as it is reached. */
  private dirNode(abs: Buffer, entry: ListedEntry, prev: TreeNode | undefined): TreeNode {
    const node = nodeFromStat(encodeBytes(entry.name), 'dir', entry.stat!);
    // As for files, an xattr change changes ctime: listing every directory's xattrs cost
    // a slightly changed backup 80 ms of this thread.
    node.xattrs = prev?.type === 'dir' && prev.ctime === node.ctime && prev.inode === node.inode ? prev.xattrs : this.xattrsOf(abs);
    this.counts.dirs++;
    this.progress.dirs++;
    return node;
  }

  /**
   * Walks a directory, depth first: queues its files for chunking and walks its
   * subdirectories. Gives its tree id, ready once every file below it is chunked.
   *
   * The walk waits for a place in the file queue, never for files to finish. When it
   * waited for a subdirectory's files before going on (with up to 8 subdirectories walked
   * at once to make up for it), runs of small directories left a first backup of the
   * bench tree with 5 to 60 files in flight for seconds at a time, and the chunk workers
   * idle; now the queue stays full (QUEUED_FILES). One walk, depth first, also queues
   * files in the tree's order, which is the order packs store them in and restore and
   * dump read them in: with 8 or 64 walked at once, dumping the tree took 12-29% longer.
   */
  private async walkDir(abs: Buffer, prevTree: string | undefined): Promise<Walked<string>> {
    const known = prevTree === undefined ? undefined : this.knownDirs?.get(prevTree);
    // The parent's tree loads while the listing arrives, unless a record may spare loading
    // it (loadPrev never rejects, so a failed listing leaves nothing unhandled).
    const loading = known ? undefined : this.loadPrev(prevTree);
    const listing = await this.walk.list(abs);
    listing.check();
    const digest = listingDigest(this.repo.hashBlob, listing);
    if (known && digest && Buffer.from(digest).equals(known.digest)) {
      const walked = await this.walkKnownDir(abs, listing, prevTree!, known, digest);
      if (walked) return walked;
    }
    const prev = await (loading ?? this.loadPrev(prevTree));
    const pending = await this.walkEntries(abs, listing, prev.byName);
    const result = Promise.all(pending).then((all) => this.saveDir(all, prevTree, prev.nodes, digest));
    // Awaited by the parent's tree; this keeps a failure meanwhile from going unhandled.
    result.catch(() => {});
    return { result };
  }

  /**
   * Queues a listing's files and walks its subdirectories, giving each entry's node. With
   * `subtrees` (one per subdirectory, in listing order), the subdirectories were walked
   * already and give those trees.
   */
  private async walkEntries(abs: Buffer, listing: DirListing, prev: Map<string, TreeNode>, subtrees?: (string | null)[]): Promise<Entered[]> {
    const pending: Entered[] = [];
    let subdirs = 0;
    for (let i = 0; i < listing.length; i++) {
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise<void>((r) => setImmediate(r));
      const entry = listing.entry(i);
      if (entry.error) {
        this.fileError(joinPath(abs, entry.name).toString(), entry.error);
        continue;
      }
      const prevNode = prev.get(entry.name.toString('latin1'));
      const type = nodeType(entry.stat!.mode);
      if (type === 'file') {
        const node = nodeFromStat(encodeBytes(entry.name), 'file', entry.stat!);
        // Settled here, with no task, path or queue place: most files of a slightly
        // changed backup.
        if (this.keptFromParent(node, prevNode)) {
          pending.push(node);
          continue;
        }
        // Not awaited: files of this directory are chunked while the walk goes on. A file
        // task never waits for the walk, so waiting here for a queue place cannot deadlock.
        // Most files take a place at once, so the walk awaits only when the queue is full.
        if (!this.queuedFiles.tryAcquire()) await this.queuedFiles.acquire();
        const task = this.saveFile(joinPath(abs, entry.name), node, prevNode).finally(() => this.queuedFiles.release());
        // Awaited with the directory's other nodes once the walk below it is done, which for
        // the top directories is the whole backup: a failure meanwhile (a full disk) must not
        // count as unhandled.
        task.catch(() => {});
        pending.push(task);
      } else if (type === 'dir' && subtrees) {
        const node = this.dirNode(joinPath(abs, entry.name), entry, prevNode);
        const id = subtrees[subdirs++];
        pending.push(id === null ? null : Object.assign(node, { subtree: id }));
      } else {
        const p = joinPath(abs, entry.name);
        pending.push((await this.walkGuarded(p, () => this.walkEntry(p, entry, prevNode))).result);
      }
    }
    return pending;
  }

  /**
   * `walk` of the entry at `p`, where a failure below it (other than the whole walk's) is
   * reported and leaves the entry out: its result is then null.
   */
  private async walkGuarded<T>(p: Buffer, walk: () => Promise<Walked<T>>): Promise<Walked<T | null>> {
    const skip = (err: unknown) => {
      if (err instanceof WalkFailedError) throw err;
      this.fileError(p.toString(), err as Error);
      return null;
    };
    try {
      return { result: (await walk()).result.catch(skip) };
    } catch (err) {
      return { result: Promise.resolve(skip(err)) };
    }
  }

  /**
   * A directory's tree from its nodes: the parent's tree when every node is as it recorded
   * (comparing them costs less than serializing and hashing them: a fifth of the main
   * thread's work in an unchanged backup). With the listing's digest, and every entry
   * saved, the tree is recorded for the next backup (known-dirs.ts).
   */
  private async saveDir(all: (TreeNode | null)[], prevTree: string | undefined, prevNodes: TreeNode[] | undefined, digest: Uint8Array | undefined): Promise<string> {
    const nodes = all.filter((n): n is TreeNode => n !== null);
    const tree = prevTree !== undefined && prevNodes && sameNodes(nodes, prevNodes) ? prevTree : await this.repo.saveTree({ nodes }, prevTree);
    if (digest && nodes.length === all.length) this.recorder.add(tree, digest, nodes.filter((n) => n.type === 'dir').map((n) => n.subtree!));
    return tree;
  }

  /**
   * A directory listed exactly as when the parent's tree of it was made: its files are
   * counted as unchanged, and only its subdirectories are walked. Its tree is the parent's
   * when theirs are too; else it is the parent's with their new subtrees. Gives nothing,
   * having walked nothing, when the record does not fit the listing.
   */
  private async walkKnownDir(abs: Buffer, listing: DirListing, prevTree: string, known: KnownDir, digest: Uint8Array): Promise<Walked<string> | undefined> {
    const dirs: number[] = [];
    for (let i = 0; i < listing.length; i++) if (nodeType(listing.mode(i)) === 'dir') dirs.push(i);
    if (dirs.length !== known.subtrees.length) return undefined;
    const counted = { files: 0, bytes: 0 };
    const walks: Promise<string | null>[] = [];
    for (let i = 0; i < listing.length; i++) {
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise<void>((r) => setImmediate(r));
      const type = nodeType(listing.mode(i));
      if (type === 'file') {
        const bytes = Number(listing.size(i));
        counted.files++;
        counted.bytes += bytes;
        this.counts.filesUnchanged++;
        this.done(bytes);
      } else if (type === 'dir') {
        this.counts.dirs++;
        this.progress.dirs++;
        const prev = known.subtrees[walks.length];
        const p = joinPath(abs, listing.name(i));
        walks.push(listing.otherDevice(i) ? Promise.resolve(prev) : (await this.walkGuarded(p, () => this.walkDir(p, prev))).result);
      }
    }
    const result = Promise.all(walks).then(async (subtrees) => {
      if (subtrees.every((id, k) => id === known.subtrees[k])) {
        this.recorder.add(prevTree, digest, known.subtrees);
        return prevTree;
      }
      const prev = await this.loadPrev(prevTree);
      const names = dirs.map((i) => listing.name(i).toString('latin1'));
      const prevDirs = prev.nodes?.filter((n) => n.type === 'dir') ?? [];
      if (prev.nodes && prevDirs.length === names.length && prevDirs.every((n, k) => nameBytes(n).toString('latin1') === names[k])) {
        let k = 0;
        const nodes = prev.nodes.map((n) => {
          if (n.type !== 'dir') return n;
          const id = subtrees[k++];
          return id === null ? null : { ...n, subtree: id };
        });
        return this.saveDir(nodes, prevTree, prev.nodes, digest);
      }
      // The parent's tree is damaged, or does not fit the record: its nodes are made from
      // the listing, as without a record (its files read again), and counted that way.
      this.counts.filesUnchanged -= counted.files;
      this.progress.files -= counted.files;
      this.progress.bytes -= counted.bytes;
      this.counts.dirs -= dirs.length;
      this.progress.dirs -= dirs.length;
      return this.saveDir(await Promise.all(await this.walkEntries(abs, listing, new Map(), subtrees)), prevTree, undefined, digest);
    });
    result.catch(() => {});
    return { result };
  }

  private xattrsOf(abs: Buffer) {
    try {
      return readXattrs(abs);
    } catch (err) {
      this.fileError(`${abs.toString()} (extended attributes)`, err as Error);
      return undefined;
    }
  }

  /**
   * Whether the file is as the parent snapshot recorded it: then `node` takes the recorded
   * content and xattrs (changing an xattr changes ctime), and counts as unchanged.
   */
  private keptFromParent(node: TreeNode, prev: TreeNode | undefined): boolean {
    if (!unchangedSince(prev, node)) return false;
    node.xattrs = prev.xattrs;
    node.content = prev.content;
    this.counts.filesUnchanged++;
    this.done(node.size);
    return true;
  }

  /** `node` is the file's node from its lstat; it gets the content. */
  private async saveFile(abs: Buffer, node: TreeNode, prev: TreeNode | undefined): Promise<TreeNode | null> {
    if (this.keptFromParent(node, prev)) return node;
    node.xattrs = this.xattrsOf(abs);
    await this.slots.acquire();
    try {
      const linkKey = node.links > 1 ? `${node.device}:${node.inode}` : undefined;
      let result = linkKey ? this.hardLinks.get(linkKey) : undefined;
      if (!result) {
        result = this.pool.chunkFile(abs, node.size, node.uid);
        if (linkKey) this.hardLinks.set(linkKey, result);
      }
      const r = await result;
      node.content = r.content;
      node.size = r.size;
      if (prev?.type === 'file') this.counts.filesChanged++;
      else this.counts.filesNew++;
      this.done(r.size, abs);
      return node;
    } catch (err) {
      if (err instanceof SourceReadError) {
        this.fileError(abs.toString(), err);
        return null;
      }
      throw err;
    } finally {
      this.slots.release();
    }
  }

  private lastReport = 0;
  private done(bytes: number, p?: Buffer) {
    this.progress.files++;
    this.progress.bytes += bytes;
    const now = Date.now();
    if (now - this.lastReport > 100) {
      this.lastReport = now;
      this.report(p?.toString());
    }
  }

}
