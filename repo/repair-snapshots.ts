/**
 * `cairn repair snapshots`, as restic's: makes file snapshots that reference blobs the
 * repository no longer has consistent again, so that `check` passes and `prune` can run.
 *
 * A blob is missing when no index file in effect lists it in a pack that is present with
 * the listed size (check's structural view). For each chosen file snapshot:
 *  - a file whose content has missing blobs keeps the blobs that remain, in order, and its
 *    size becomes theirs (restic's "removed missing content"): the readable parts survive,
 *    but everything after the first gap moves up;
 *  - a directory whose tree blob is missing, or cannot be decrypted or parsed, becomes an
 *    empty directory with its own metadata (restic does the same);
 *  - a snapshot whose root tree is missing or unreadable cannot be repaired: it is
 *    reported, for `cairn forget`;
 *  - an image snapshot is only reported when it is broken: its map references data blobs
 *    directly, and leaving them out would change the image's bytes at their offsets.
 * The trees above a change are saved anew, every other tree keeps its id, and the new
 * snapshots are saved (and the originals removed) exactly as `cairn rewrite` does.
 */
import { NotFoundError } from '../backends/backend.js';
import { CorruptObjectError } from './errors/corrupt-object-error.js';
import { toHex } from './hex.js';
import { listPacks, loadIndexFiles } from './index-files.js';
import { unindexedBlobs } from './pack-header.js';
import { referencedBlobs } from './references.js';
import { Repository } from './repository.js';
import { replacementSnapshot, replaceSnapshots, rewriteTree } from './rewrite.js';
import { Snapshot, SnapshotRef } from './snapshot.js';
import { TreeNode } from './tree.js';

/** One file or directory changed in a snapshot, and why. */
export type RepairChange =
  | {
      path: string;
      type: 'file';
      reason: 'missing-content';
      /** Data blobs the file had, and how many of them are missing. */
      blobs: number;
      missingBlobs: number;
      sizeBefore: number;
      sizeAfter: number;
    }
  | {
      path: string;
      type: 'dir';
      reason: 'missing-tree' | 'damaged-tree';
      tree: string;
      detail: string;
    };

export type RepairPlan =
  | { ref: SnapshotRef; outcome: 'unchanged' }
  /** Broken, but not by something this command can repair: a missing root tree, an image snapshot. */
  | { ref: SnapshotRef; outcome: 'unrepairable'; reason: string }
  | { ref: SnapshotRef; outcome: 'repaired'; changes: RepairChange[]; snapshot: Snapshot };

/** A pack the index lists that is gone, or is not the size the index says. */
export interface LostPack {
  pack: string;
  detail: string;
}

export interface RepairSnapshotsOptions {
  /** Remove each original snapshot once its repaired one is saved. */
  forget: boolean;
  /** Called once, before the snapshots are walked, with the packs the index lists that are gone. */
  onLostPacks?: (packs: LostPack[]) => void;
  onPlanned?: (plan: RepairPlan) => void;
  onSaved?: (plan: RepairPlan & { outcome: 'repaired' }, id: string) => void;
}

/** restic's tag for a repaired snapshot kept next to its original. */
const REPAIR_TAG = 'repaired';

/** The repair cannot go on without changing the index first (which this command does not do). */
export class RepairNeedsIndexError extends Error {
  constructor(message: string) {
    super(`${message}; nothing was changed`);
    this.name = 'RepairNeedsIndexError';
  }
}

/**
 * Repairs each of `refs` that needs it. In a dry run (`repo.dryRun`) the plans are made and
 * nothing is written. Returns every plan, in the order of `refs`.
 */
export async function repairSnapshots(repo: Repository, refs: SnapshotRef[], opts: RepairSnapshotsOptions): Promise<RepairPlan[]> {
  const view = await blobView(repo);
  opts.onLostPacks?.(view.lostPacks);
  if (view.lostPacks.length > 0 && !repo.dryRun) {
    // New trees are deduplicated against the index: a tree that the index still places in
    // a lost pack (an empty directory's, say) would be referenced, not written again.
    throw new RepairNeedsIndexError(
      `the index lists ${view.lostPacks.length} pack${view.lostPacks.length === 1 ? '' : 's'} that ${view.lostPacks.length === 1 ? 'is' : 'are'} gone or damaged (data/${view.lostPacks[0].pack}${view.lostPacks.length > 1 ? ', ...' : ''}): run \`cairn repair index\` first, then \`cairn repair snapshots\` again`,
    );
  }
  const unchangedTrees = new Set<string>();
  const plans: RepairPlan[] = [];
  for (const ref of refs) {
    const plan = await planRepair(repo, ref, view, unchangedTrees, opts.forget);
    opts.onPlanned?.(plan);
    plans.push(plan);
  }
  await replaceSnapshots(repo, plans.flatMap((p) => (p.outcome === 'repaired' ? [p] : [])), opts.forget, opts.onSaved);
  return plans;
}

interface BlobView {
  /** Plaintext length of every blob with a copy in a pack that is present with its listed size. */
  sound: Map<string, number>;
  lostPacks: LostPack[];
  /** Blobs of packs that no index lists: blob id to pack. */
  unindexed: Map<string, string>;
}

/** Which blobs the repository has, as check's structural pass decides it (no pack is downloaded). */
async function blobView(repo: Repository): Promise<BlobView> {
  const index = await loadIndexFiles(repo);
  const present = await listPacks(repo);
  const sound = new Map<string, number>();
  const lostPacks: LostPack[] = [];
  for (const p of index.packs.values()) {
    const size = present.get(p.id);
    if (size !== p.size) {
      lostPacks.push({ pack: p.id, detail: size === undefined ? `is missing (listed in index/${p.indexFile})` : `has ${size} bytes, index/${p.indexFile} says ${p.size}` });
      continue;
    }
    for (const b of p.blobs) sound.set(toHex(b.id), b.rawLength);
  }
  lostPacks.sort((a, b) => a.pack.localeCompare(b.pack));
  // A blob no index lists may still be in a pack that an interrupted backup left: then
  // `repair index` recovers it, and removing it from snapshots would lose it for nothing.
  return { sound, lostPacks, unindexed: await unindexedBlobs(repo, index.packs, present) };
}

class UnreadableRootError extends Error {}

async function planRepair(repo: Repository, ref: SnapshotRef, view: BlobView, unchangedTrees: Set<string>, forget: boolean): Promise<RepairPlan> {
  const short = ref.id.slice(0, 8);
  /** Whether the repository has blob `id`; stops the repair when only an unindexed pack holds it. */
  const has = (id: string) => {
    if (view.sound.has(id)) return true;
    const pack = view.unindexed.get(id);
    if (pack) {
      throw new RepairNeedsIndexError(
        `snapshot ${short} uses blob ${id}, which is in data/${pack}, a pack no index lists: run \`cairn repair index\` first (it indexes that pack), then \`cairn repair snapshots\` again`,
      );
    }
    return false;
  };

  if (ref.snapshot.kind !== 'files') return planImage(repo, ref, has);
  const root = ref.snapshot.tree;
  const forgetIt = `remove it with \`cairn forget ${short}\``;
  if (!has(root)) return { ref, outcome: 'unrepairable', reason: `its root tree ${root} is missing, so nothing in it can be read: ${forgetIt}` };

  const changes: RepairChange[] = [];
  let emptyTree: Promise<string> | undefined;
  const emptyDir = async (node: TreeNode) => ({ ...node, subtree: await (emptyTree ??= repo.saveTree({ nodes: [] })) });
  let tree;
  try {
    tree = await rewriteTree(repo, root, {
      unchangedTrees,
      node: async (node, p) => {
        if (node.type === 'dir' && node.subtree && !has(node.subtree)) {
          changes.push({ path: p.toString('utf8'), type: 'dir', reason: 'missing-tree', tree: node.subtree, detail: 'no index lists it' });
          return emptyDir(node);
        }
        if (node.type !== 'file' || !node.content) return node;
        const kept = node.content.filter((c) => has(c));
        if (kept.length === node.content.length) return node;
        const size = kept.reduce((n, c) => n + view.sound.get(c)!, 0);
        changes.push({ path: p.toString('utf8'), type: 'file', reason: 'missing-content', blobs: node.content.length, missingBlobs: node.content.length - kept.length, sizeBefore: node.size, sizeAfter: size });
        return { ...node, content: kept, size };
      },
      failedTree: (id, p, err) => {
        // Indexed, but it does not decrypt or parse. Any other failure (the storage did not
        // answer) stops the repair: an empty directory in its place would lose it for good.
        if (!(err instanceof CorruptObjectError) && !(err instanceof NotFoundError)) throw err;
        const detail = err instanceof CorruptObjectError ? err.detail : err.message;
        if (p.length === 0) throw new UnreadableRootError(`its root tree ${id} cannot be read (${detail}), so nothing in it can be read: ${forgetIt}`);
        changes.push({ path: p.toString('utf8'), type: 'dir', reason: 'damaged-tree', tree: id, detail });
        return [];
      },
    });
  } catch (err) {
    if (err instanceof UnreadableRootError) return { ref, outcome: 'unrepairable', reason: err.message };
    throw err;
  }
  if (!tree) return { ref, outcome: 'unchanged' };
  // What a directory that became empty held is unknown (its tree is gone), so the totals
  // lose only the bytes of the files that lost content.
  const bytes = changes.reduce((n, c) => n + (c.type === 'file' ? Math.max(0, c.sizeBefore - c.sizeAfter) : 0), 0);
  const snapshot = replacementSnapshot(ref, await repo.saveTree(tree), { forget, tag: REPAIR_TAG, less: { files: 0, dirs: 0, bytes } });
  return { ref, outcome: 'repaired', changes, snapshot };
}

/** An image snapshot is left alone; when it references a missing blob it is reported. */
async function planImage(repo: Repository, ref: SnapshotRef, has: (id: string) => boolean): Promise<RepairPlan> {
  const short = ref.id.slice(0, 8);
  let missing: string | undefined;
  try {
    const used = await referencedBlobs(repo, ref.snapshot);
    missing = [...used.trees, ...used.data].find((id) => !has(id));
  } catch (err) {
    if (err instanceof RepairNeedsIndexError) throw err;
    missing = (err as Error).message;
  }
  if (missing === undefined) return { ref, outcome: 'unchanged' };
  return {
    ref,
    outcome: 'unrepairable',
    reason:
      `an image snapshot that needs a missing blob (${missing.length === 64 ? missing : missing.split('. ')[0]}): its map references data blobs directly, so this command cannot repair it. ` +
      `Restore what still reads (\`cairn restore ${short}\` names what fails, \`cairn dump\` and \`cairn restore --include\` take single files), then remove it with \`cairn forget ${short}\``,
  };
}
