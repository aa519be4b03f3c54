/**
 * Prune: removes what no snapshot references. The caller holds the exclusive lock, so no
 * backup can start referencing a blob while it is being removed.
 *
 * Order makes an interruption at any moment harmless:
 *  1. repacked blobs go into new packs (until step 2 nothing lists them: unreferenced);
 *  2. ONE new index file lists every kept blob and supersedes every old index file,
 *     so readers switch from the old view to the new one in a single write; it also
 *     supersedes whatever those superseded, so an index file deleted by any earlier prune
 *     and put back by someone holding the storage stays ignored;
 *  3. the old index files are deleted;
 *  4. only then are packs deleted (none of them is listed by the new index).
 */
import { BlobEntry, BlobType } from './blob.js';
import { IndexedPack } from './index-format.js';
import { listPacks, loadIndexFiles, ListedPack, removeIndexFiles, writeSupersedingIndex } from './index-files.js';
import { toHex } from './hex.js';
import { CryptoPool } from './crypto-pool.js';
import { CorruptObjectError } from './errors/corrupt-object-error.js';
import { LockHandle } from './lock.js';
import { FinishedPack, PackWriter, packDestination } from './pack-writer.js';
import { referencedBlobs, ReferencedBlobs } from './references.js';
import { Repository } from './repository.js';
import { mapLimit } from '../backends/concurrency.js';

export type PruneStep = 'index' | 'snapshots' | 'plan' | 'repack' | 'write-index' | 'delete-index' | 'delete-packs' | 'done';

export interface PruneOptions {
  /** Repack a pack when more than this share of its bytes is unused (0.05 = 5%). */
  maxUnused: number;
  dryRun?: boolean;
  /** The exclusive lock held by the caller; checked before anything is deleted. */
  lock?: LockHandle;
  onStep?: (step: PruneStep) => void;
}

export interface PruneStats {
  snapshots: number;
  packs: number;
  /** Bytes of all packs before pruning. */
  totalBytes: number;
  usedBlobs: number;
  unusedBlobs: number;
  unusedBytes: number;
  deletePacks: number;
  deleteBytes: number;
  repackPacks: number;
  repackBytes: number;
  unreferencedPacks: number;
  unreferencedBytes: number;
  /** Filled in after the run (zero for a dry run). */
  newPacks: number;
  newPackBytes: number;
  bytesFreed: number;
  indexFilesReplaced: number;
  /** Temporary files of saves that a crash cut short (local repositories), removed too. */
  leftoverFiles: number;
  leftoverBytes: number;
}

export class PruneAbortedError extends Error {
  constructor(message: string) {
    super(`prune stopped before changing anything: ${message}`);
    this.name = 'PruneAbortedError';
  }
}

interface Plan {
  keep: ListedPack[];
  repack: { pack: ListedPack; blobs: BlobEntry[] }[];
  /** Listed packs to delete whole (no used blob), and packs that no index lists. */
  remove: string[];
  rewriteIndex: boolean;
  stats: PruneStats;
}

export async function prune(repo: Repository, opts: PruneOptions): Promise<PruneStats> {
  const step = (s: PruneStep) => opts.onStep?.(s);
  step('index');
  await repo.syncIndex();
  const index = await loadIndexFiles(repo);
  for (const [name, f] of index.files) {
    if (index.superseded.has(name)) continue; // replaced by a repair that was interrupted; deleted below
    if (f instanceof CorruptObjectError) throw new PruneAbortedError(`index/${name} cannot be read (${f.detail}); run \`cairn repair index\``);
    if (f instanceof Error) throw new PruneAbortedError(`index/${name} cannot be read (${f.message})`);
  }
  const present = await listPacks(repo);

  step('snapshots');
  const snapshots = await repo.listSnapshots((err) => {
    throw new PruneAbortedError(`${err.message.split('. Run')[0]}: a damaged snapshot may reference blobs; remove it with \`cairn forget ID\` first`);
  });
  const used = new ReferencedBlobs();
  for (const s of snapshots) {
    try {
      await referencedBlobs(repo, s.snapshot, used);
    } catch (err) {
      throw new PruneAbortedError(`snapshot ${s.id.slice(0, 8)}: ${(err as Error).message.split('. Run')[0]}; run \`cairn check\` to see what it affects, and \`cairn repair snapshots\` (after \`cairn repair index\` if packs are gone) to remove it from the snapshots that need it`);
    }
  }

  step('plan');
  const plan = makePlan(index.packs, present, used, opts.maxUnused);
  plan.stats.snapshots = snapshots.length;
  plan.rewriteIndex ||= index.superseded.size > 0;
  if (opts.dryRun || (!plan.rewriteIndex && plan.remove.length === 0)) {
    const s = plan.stats;
    await removeLeftovers(repo, opts, s);
    s.bytesFreed = s.deleteBytes + s.unreferencedBytes + s.repackBytes - plan.repack.reduce((n, r) => n + r.blobs.reduce((m, b) => m + b.length, 0), 0);
    return s;
  }

  step('repack');
  const fresh = await repackBlobs(repo, plan.repack);
  plan.stats.newPacks = fresh.length;
  plan.stats.newPackBytes = fresh.reduce((n, p) => n + p.size, 0);

  if (plan.rewriteIndex) {
    step('write-index');
    opts.lock?.assertHeld();
    const packs: IndexedPack[] = [...plan.keep.map(({ id, size, blobs }) => ({ id, size, blobs })), ...fresh];
    const old = await writeSupersedingIndex(repo, index, packs);
    plan.stats.indexFilesReplaced = old.length;

    step('delete-index');
    await removeIndexFiles(repo, old);
  }

  step('delete-packs');
  opts.lock?.assertHeld();
  await mapLimit(plan.remove, 8, async (name) => repo.backend.remove({ type: 'data', name }));
  await removeLeftovers(repo, opts, plan.stats);
  plan.stats.bytesFreed = plan.stats.deleteBytes + plan.stats.repackBytes + plan.stats.unreferencedBytes - plan.stats.newPackBytes;

  step('done');
  await repo.syncIndex();
  return plan.stats;
}

/** Under the exclusive lock no save is in progress: every temporary file is a crash's. */
async function removeLeftovers(repo: Repository, opts: PruneOptions, stats: PruneStats) {
  if (!opts.dryRun) opts.lock?.assertHeld();
  const { files, bytes } = await repo.backend.removeLeftovers(opts.dryRun ?? false);
  stats.leftoverFiles = files;
  stats.leftoverBytes = bytes;
}

function makePlan(listed: Map<string, ListedPack>, present: Map<string, number>, used: ReferencedBlobs, maxUnused: number): Plan {
  const stats: PruneStats = {
    snapshots: 0, packs: present.size, totalBytes: sum(present.values()), usedBlobs: used.size, unusedBlobs: 0, unusedBytes: 0,
    deletePacks: 0, deleteBytes: 0, repackPacks: 0, repackBytes: 0, unreferencedPacks: 0, unreferencedBytes: 0,
    newPacks: 0, newPackBytes: 0, bytesFreed: 0, indexFilesReplaced: 0, leftoverFiles: 0, leftoverBytes: 0,
  };
  // A used blob stored twice (two backups raced to store it) keeps one copy: the one in
  // the pack that is otherwise most used, so the other copy's pack can go.
  const usedShare = new Map([...listed.values()].map((p) => [p, p.blobs.filter((b) => used.has(toHex(b.id))).length / Math.max(1, p.blobs.length)]));
  const order = [...listed.values()].sort((a, b) => usedShare.get(b)! - usedShare.get(a)! || a.id.localeCompare(b.id));
  const kept = new Set<string>();
  const unusable: string[] = [];
  const plan: Plan = { keep: [], repack: [], remove: [], rewriteIndex: false, stats };

  for (const p of order) {
    const size = present.get(p.id);
    const usable = size === p.size;
    const keepBlobs = p.blobs.filter((b) => {
      const id = toHex(b.id);
      if (!used.has(id) || kept.has(id)) return false;
      if (usable) kept.add(id);
      return usable;
    });
    if (!usable) {
      // Fatal only if a used blob has no sound copy elsewhere (checked below).
      if (p.blobs.some((b) => used.has(toHex(b.id)))) unusable.push(`pack ${p.id} ${size === undefined ? 'is missing' : `has ${size} bytes, the index says ${p.size}`}`);
      plan.rewriteIndex = true;
      if (size !== undefined) plan.remove.push(p.id);
      continue;
    }
    const unusedBytes = p.blobs.reduce((n, b) => n + b.length, 0) - keepBlobs.reduce((n, b) => n + b.length, 0);
    stats.unusedBlobs += p.blobs.length - keepBlobs.length;
    stats.unusedBytes += unusedBytes;
    if (keepBlobs.length === 0) {
      plan.remove.push(p.id);
      plan.rewriteIndex = true;
      stats.deletePacks++;
      stats.deleteBytes += p.size;
    } else if (unusedBytes > 0 && unusedBytes / p.size > maxUnused) {
      plan.repack.push({ pack: p, blobs: keepBlobs });
      plan.remove.push(p.id);
      plan.rewriteIndex = true;
      stats.repackPacks++;
      stats.repackBytes += p.size;
    } else {
      plan.keep.push(p);
    }
  }
  const lost = [...used.trees, ...used.data].filter((id) => !kept.has(id));
  if (lost.length > 0) {
    const what = [`${lost.length} used blobs have no sound copy (e.g. ${lost[0]})`, ...unusable];
    throw new PruneAbortedError(
      `${what.join('; ')}; run \`cairn check\` to see which snapshots are affected, then ${unusable.length > 0 ? '`cairn repair index` and ' : ''}\`cairn repair snapshots\` to remove the missing blobs from them`,
    );
  }
  for (const [id, size] of present) {
    if (!listed.has(id)) {
      plan.remove.push(id);
      stats.unreferencedPacks++;
      stats.unreferencedBytes += size;
    }
  }
  return plan;
}

/**
 * Packs read ahead of the one being copied. With one, reads waited behind the fsynced
 * writes of the new packs; with four, a 1.2 GiB repack here took 2.2 s instead of 3.5 s.
 */
const FETCH_AHEAD = 4;
/** New packs written at once: their fsyncs (or uploads) overlap; 8 beat 4 by 10% here. */
const REPACK_UPLOADS = 8;

/**
 * Copies the kept blobs' stored bytes as they are (no re-encryption) into new packs.
 * Every pack read and written is hashed (SHA-256) in worker threads: on the main thread,
 * or on the thread pool with the copy that takes, hashing was a third of prune's time.
 */
async function repackBlobs(repo: Repository, work: Plan['repack']): Promise<FinishedPack[]> {
  if (work.length === 0) return [];
  const pool = new CryptoPool(repo.key);
  try {
    return await repackWith(repo, pool, work);
  } finally {
    await pool.close();
  }
}

async function repackWith(repo: Repository, pool: CryptoPool, work: Plan['repack']): Promise<FinishedPack[]> {
  const fresh: FinishedPack[] = [];
  const writer = (type: BlobType) =>
    new PackWriter(
      type,
      repo.config.packSize,
      repo.key.encrypt,
      // Whole packs even where the backend takes pieces: the namer hashes each in a worker.
      packDestination(repo.backend),
      (p) => fresh.push(p),
      REPACK_UPLOADS,
      (bytes) => pool.objectName(bytes),
    );
  const writers = { data: writer('data'), tree: writer('tree') };
  const fetch = async (pack: ListedPack) => {
    const { name, bytes } = await pool.objectName(await repo.backend.load({ type: 'data', name: pack.id }));
    if (name !== pack.id) {
      throw new PruneAbortedError(`pack ${pack.id} does not match its SHA-256 (damaged); run \`cairn check --read-data\``);
    }
    return bytes;
  };
  // The next packs are fetched and verified while this one is copied: memory stays at a
  // few packs, and reading, hashing and writing overlap.
  const ahead: Promise<Uint8Array>[] = [];
  for (let i = 0; i < work.length; i++) {
    while (ahead.length < FETCH_AHEAD && i + ahead.length < work.length) {
      const p = fetch(work[i + ahead.length].pack);
      // Awaited in its turn; this keeps a failure meanwhile from going unhandled.
      p.catch(() => {});
      ahead.push(p);
    }
    const bytes = await ahead.shift()!;
    const { blobs } = work[i];
    for (const b of blobs) {
      await writers[b.type].add({ id: b.id, stored: bytes.subarray(b.offset, b.offset + b.length), rawLength: b.rawLength, compressed: b.compressed });
    }
  }
  await writers.data.flush();
  await writers.tree.flush();
  return fresh;
}

function sum(values: Iterable<number>): number {
  let n = 0;
  for (const v of values) n += v;
  return n;
}
