/**
 * Removing paths from existing file snapshots (`cairn rewrite`, as restic's): the trees
 * above a removed path are saved anew, every other tree keeps its id, and a new snapshot
 * replaces the old one (or, without `forget`, sits next to it). The removed content stays
 * in its packs until a prune finds that nothing references it any more.
 *
 * The tree walk (`rewriteTree`, with a hook per node and one for unreadable trees) and the
 * replacing of snapshots (`replaceSnapshots`) serve `cairn repair snapshots` too.
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
  await replaceSnapshots(repo, plans.flatMap((p) => (p.outcome === 'rewritten' ? [p] : [])), opts.forget, opts.onSaved);
  return plans;
}

/** A new snapshot made from `ref`, to be saved in its place. */
export interface Replacement {
  ref: SnapshotRef;
  snapshot: Snapshot;
}

/**
 * Saves each replacement snapshot and, with `forget`, then removes its original. The new
 * trees (saved while planning) and the index files that list them go first, so that no
 * snapshot is ever saved before its trees; nothing is written in a dry run.
 */
export async function replaceSnapshots<R extends Replacement>(repo: Repository, replacements: R[], forget: boolean, onSaved?: (r: R, id: string) => void): Promise<void> {
  if (repo.dryRun) return;
  // Once for all snapshots, as restic does: a flush per snapshot would leave a small pack
  // of a few trees for each.
  await repo.flush();
  for (const r of replacements) {
    const id = await repo.saveSnapshot(r.snapshot);
    // Only now: killed before this line, the repository has both snapshots, never neither.
    if (forget) await repo.backend.remove({ type: 'snapshots', name: r.ref.id });
    onSaved?.(r, id);
  }
}

/**
 * The snapshot `ref` with root tree `tree`: `original` names the id it first had, and,
 * when it is kept next to its original (no `forget`), it gets `tag` (as in restic).
 * `less` is subtracted from the summary's totals, which say what the snapshot holds; the
 * summary's other fields describe the backup run that made it, which has not changed.
 */
export function replacementSnapshot(ref: SnapshotRef, tree: string, opts: { forget: boolean; tag: string; less: { files: number; dirs: number; bytes: number } }): Snapshot {
  const s = ref.snapshot;
  const { less } = opts;
  return {
    ...s,
    tree,
    tags: opts.forget ? s.tags : newTags(s.tags, { add: [opts.tag] }),
    original: s.original ?? ref.id,
    summary: s.summary && {
      ...s.summary,
      totalFiles: Math.max(0, s.summary.totalFiles - less.files),
      totalBytes: Math.max(0, s.summary.totalBytes - less.bytes),
      dirs: Math.max(0, s.summary.dirs - less.dirs),
    },
  };
}

async function planRewrite(repo: Repository, ref: SnapshotRef, opts: RewriteOptions): Promise<RewritePlan> {
  if (ref.snapshot.kind !== 'files') {
    return { ref, outcome: 'skipped', reason: 'an image snapshot: its map references the data blobs directly, so leaving files out of its tree would not remove their bytes from the image' };
  }
  const removed: RemovedPath[] = [];
  const tree = await rewriteTree(repo, ref.snapshot.tree, {
    node: async (node, p) => {
      // The path as backup tests it: absolute, as the snapshot stores it.
      if (!opts.excluded(p.toString('utf8'))) return node;
      removed.push(await measure(repo, p, node));
      return null;
    },
  });
  if (!tree) return { ref, outcome: 'unchanged' };
  if (tree.nodes.length === 0) {
    return { ref, outcome: 'skipped', reason: `the patterns match everything in it: to drop the whole snapshot, run \`cairn forget ${ref.id.slice(0, 8)}\`` };
  }
  const sum = (k: 'files' | 'dirs' | 'bytes') => removed.reduce((n, r) => n + r[k], 0);
  const snapshot = replacementSnapshot(ref, await repo.saveTree(tree), { forget: opts.forget, tag: REWRITE_TAG, less: { files: sum('files'), dirs: sum('dirs'), bytes: sum('bytes') } });
  return { ref, outcome: 'rewritten', removed, snapshot };
}

/**
 * What a tree rewrite does to each node and each tree it cannot read; the walk itself,
 * and saving the trees above a change, are `rewriteTree`'s.
 */
export interface TreeRewriteHooks {
  /**
   * Called for every node before the walk descends into it, with its absolute path (raw
   * bytes). Returns the node itself (unchanged; a directory is then walked), a changed
   * copy (taken as it is, not walked), or null to leave it out.
   */
  node(node: TreeNode, path: Buffer): TreeNode | null | Promise<TreeNode | null>;
  /**
   * A tree that `repo.loadTree` failed to read: the nodes to put in its place (restic's
   * RewriteFailedTree), or throw to stop. Without this hook the error stops the rewrite.
   * `path` is empty for the root tree.
   */
  failedTree?(id: string, path: Buffer, err: Error): TreeNode[] | Promise<TreeNode[]>;
  /**
   * Only for hooks whose answers do not depend on the path: trees known to come out
   * unchanged. The walk skips them and adds every tree it finds unchanged, so a set shared
   * by several snapshots walks each unchanged tree once.
   */
  unchangedTrees?: Set<string>;
}

const SLASH = Buffer.from('/');

/**
 * Applies `hooks` to the tree `id` and everything below it. Returns the new root tree's
 * nodes, or undefined when nothing changed. Every directory above a change is saved anew
 * (`repo.saveTree`); every other subtree keeps its id.
 */
export async function rewriteTree(repo: Repository, id: string, hooks: TreeRewriteHooks): Promise<{ nodes: TreeNode[] } | undefined> {
  const nodes = await rewriteNodes(repo, id, Buffer.alloc(0), hooks, 0);
  return nodes && { nodes };
}

/**
 * The nodes that remain of tree `id`, the directory at `dir`; undefined when nothing at or
 * below it changes, so that its caller keeps the tree's id instead of saving it again.
 */
async function rewriteNodes(repo: Repository, id: string, dir: Buffer, hooks: TreeRewriteHooks, depth: number): Promise<TreeNode[] | undefined> {
  if (depth > 4096) throw new Error('tree nesting is deeper than 4096 levels (a tree loop?)');
  if (hooks.unchangedTrees?.has(id)) return undefined;
  let nodes: TreeNode[];
  try {
    ({ nodes } = await repo.loadTree(id));
  } catch (err) {
    if (!hooks.failedTree) throw err;
    return hooks.failedTree(id, dir, err as Error);
  }
  const kept: TreeNode[] = [];
  let changed = false;
  for (const node of nodes) {
    const p = Buffer.concat([dir, SLASH, nameBytes(node)]);
    const out = await hooks.node(node, p);
    if (out === null) changed = true;
    else if (out !== node) {
      kept.push(out);
      changed = true;
    } else if (node.type === 'dir') {
      const below = await rewriteNodes(repo, node.subtree!, p, hooks, depth + 1);
      if (below) changed = true;
      kept.push(below ? { ...node, subtree: await repo.saveTree({ nodes: below }) } : node);
    } else kept.push(node);
  }
  if (!changed) {
    hooks.unchangedTrees?.add(id);
    return undefined;
  }
  return kept;
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
