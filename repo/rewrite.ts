/**
 * Removing paths from existing file snapshots (`cairn rewrite`, as restic's): the trees
 * above a removed path are saved anew, every other tree keeps its id, and a new snapshot
 * replaces the old one (or, without `forget`, sits next to it). The removed content stays
 * in its packs until a prune finds that nothing references it any more.
 */
import { Excluder } from './exclude.js';
import { Repository } from './repository.js';
import { Snapshot, SnapshotRef } from './snapshot.js';
import { newTags } from './tag.js';
import { walkTree } from './tree-walk.js';
import { nameBytes, NodeType, TreeNode } from './tree.js';

/** A path left out of a snapshot, with what was at and below it. */
export interface RemovedPath {
  path: string;
  type: NodeType;
  files: number;
  dirs: number;
  /** Bytes of the files. */
  bytes: number;
}

export type RewritePlan =
  | { ref: SnapshotRef; outcome: 'skipped'; reason: string }
  | { ref: SnapshotRef; outcome: 'unchanged' }
  | { ref: SnapshotRef; outcome: 'rewritten'; removed: RemovedPath[]; snapshot: Snapshot };

/** restic's tag for a rewritten snapshot kept next to its original, so the two can be told apart. */
const REWRITE_TAG = 'rewrite';

export interface RewriteOptions {
  excluded: Excluder;
  /** Remove each original snapshot once its replacement is saved. */
  forget: boolean;
  onPlanned?: (plan: RewritePlan) => void;
  onSaved?: (plan: RewritePlan & { outcome: 'rewritten' }, id: string) => void;
}

/**
 * Rewrites each snapshot whose tree has a path `excluded` matches. In a dry run
 * (`repo.dryRun`) the plans are made and nothing is written.
 */
export async function rewriteSnapshots(repo: Repository, refs: SnapshotRef[], opts: RewriteOptions): Promise<RewritePlan[]> {
  const plans: RewritePlan[] = [];
  for (const ref of refs) {
    const plan = await planRewrite(repo, ref, opts);
    opts.onPlanned?.(plan);
    plans.push(plan);
  }
  if (repo.dryRun) return plans;
  // The new trees and the index that lists them before any snapshot that references them.
  // Once for all snapshots, as restic does: a flush per snapshot would leave a small pack
  // of a few trees for each.
  await repo.flush();
  for (const plan of plans) {
    if (plan.outcome !== 'rewritten') continue;
    const id = await repo.saveSnapshot(plan.snapshot);
    // Only now: killed before this line, the repository has both snapshots, never neither.
    if (opts.forget) await repo.backend.remove({ type: 'snapshots', name: plan.ref.id });
    opts.onSaved?.(plan, id);
  }
  return plans;
}

async function planRewrite(repo: Repository, ref: SnapshotRef, opts: RewriteOptions): Promise<RewritePlan> {
  if (ref.snapshot.kind !== 'files') {
    return { ref, outcome: 'skipped', reason: 'an image snapshot: its map references the data blobs directly, so leaving files out of its tree would not remove their bytes from the image' };
  }
  const removed: RemovedPath[] = [];
  const nodes = await keptNodes(repo, ref.snapshot.tree, Buffer.alloc(0), opts.excluded, removed, 0);
  if (!nodes) return { ref, outcome: 'unchanged' };
  if (nodes.length === 0) {
    return { ref, outcome: 'skipped', reason: `the patterns match everything in it: to drop the whole snapshot, run \`cairn forget ${ref.id.slice(0, 8)}\`` };
  }
  const tree = await repo.saveTree({ nodes });
  return { ref, outcome: 'rewritten', removed, snapshot: rewritten(ref, tree, removed, opts.forget) };
}

const SLASH = Buffer.from('/');

/**
 * The nodes that remain of tree `id`, the directory at `dir`; undefined when nothing at or
 * below it matches, so that its caller keeps the tree's id instead of saving it again.
 */
async function keptNodes(repo: Repository, id: string, dir: Buffer, excluded: Excluder, removed: RemovedPath[], depth: number): Promise<TreeNode[] | undefined> {
  if (depth > 4096) throw new Error('tree nesting is deeper than 4096 levels (a tree loop?)');
  const { nodes } = await repo.loadTree(id);
  const kept: TreeNode[] = [];
  let changed = false;
  for (const node of nodes) {
    const p = Buffer.concat([dir, SLASH, nameBytes(node)]);
    // The path as backup tests it: absolute, as the snapshot stores it.
    if (excluded(p.toString('utf8'))) {
      removed.push(await measure(repo, p, node));
      changed = true;
    } else if (node.type === 'dir') {
      const below = await keptNodes(repo, node.subtree!, p, excluded, removed, depth + 1);
      if (below) changed = true;
      kept.push(below ? { ...node, subtree: await repo.saveTree({ nodes: below }) } : node);
    } else kept.push(node);
  }
  return changed ? kept : undefined;
}

/** The files and directories a removed node takes with it, for the report and the summary. */
async function measure(repo: Repository, p: Buffer, node: TreeNode): Promise<RemovedPath> {
  const r: RemovedPath = { path: p.toString('utf8'), type: node.type, files: 0, dirs: 0, bytes: 0 };
  const count = (n: TreeNode) => {
    if (n.type === 'file') {
      r.files++;
      r.bytes += n.size;
    } else if (n.type === 'dir') r.dirs++;
  };
  count(node);
  if (node.type === 'dir') for await (const e of walkTree(repo, node.subtree!)) count(e.node);
  return r;
}

function rewritten(ref: SnapshotRef, tree: string, removed: RemovedPath[], forget: boolean): Snapshot {
  const s = ref.snapshot;
  const less = (n: number, k: 'files' | 'dirs' | 'bytes') => Math.max(0, n - removed.reduce((sum, r) => sum + r[k], 0));
  return {
    ...s,
    tree,
    tags: forget ? s.tags : newTags(s.tags, { add: [REWRITE_TAG] }),
    original: s.original ?? ref.id,
    // The totals say what the snapshot holds, so they follow the removal; the other
    // fields describe the backup run that made the snapshot, which has not changed.
    summary: s.summary && { ...s.summary, totalFiles: less(s.summary.totalFiles, 'files'), totalBytes: less(s.summary.totalBytes, 'bytes'), dirs: less(s.summary.dirs, 'dirs') },
  };
}
