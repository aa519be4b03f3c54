/**
 * What a snapshot references: its trees, the content blobs of its files, and blobs
 * outside the file tree. Prune, check and stats all go through `referencedBlobs`, so
 * this is the one place to teach them about a new kind of reference.
 */
import { BlobType } from './blob.js';
import { StoredImageMap } from './image-map-store.js';
import { imageInfo } from './image-snapshot.js';
import { Repository } from './repository.js';
import { mapLimit } from '../backends/concurrency.js';
import { Snapshot } from './snapshot.js';

export interface BlobRef {
  id: string;
  type: BlobType;
}

/** Blobs seen so far; shared subtrees are walked once across all snapshots. */
export class ReferencedBlobs {
  readonly trees = new Set<string>();
  readonly data = new Set<string>();

  has(id: string): boolean {
    return this.trees.has(id) || this.data.has(id);
  }

  get size(): number {
    return this.trees.size + this.data.size;
  }
}

/**
 * Blobs a snapshot references outside its file tree: an image snapshot's map (a root and
 * its parts, stored as tree-type blobs) and the data blobs its extents point at.
 */
export async function extraReferences(repo: Repository, snapshot: Snapshot): Promise<BlobRef[]> {
  if (snapshot.kind !== 'image' && snapshot.image === undefined) return [];
  const info = imageInfo(snapshot);
  const map = await StoredImageMap.load(repo, info.mapRoot);
  const refs: BlobRef[] = [{ id: info.mapRoot, type: 'tree' }];
  const data = new Set<string>();
  for (let i = 0; i < map.root.parts.length; i++) {
    refs.push({ id: map.root.parts[i].id, type: 'tree' });
    for (const e of (await map.part(i)).extents) data.add(e.blob);
  }
  for (const id of data) refs.push({ id, type: 'data' });
  return refs;
}

/** Adds every blob `snapshot` references to `into` and returns it. */
export async function referencedBlobs(repo: Repository, snapshot: Snapshot, into = new ReferencedBlobs()): Promise<ReferencedBlobs> {
  await addTree(repo, snapshot.tree, into, 0);
  for (const ref of await extraReferences(repo, snapshot)) (ref.type === 'tree' ? into.trees : into.data).add(ref.id);
  return into;
}

async function addTree(repo: Repository, id: string, into: ReferencedBlobs, depth: number): Promise<void> {
  if (into.trees.has(id)) return;
  if (depth > 4096) throw new Error('tree nesting is deeper than 4096 levels (a tree loop?)');
  into.trees.add(id);
  const tree = await repo.loadTree(id);
  const subtrees: string[] = [];
  for (const n of tree.nodes) {
    for (const c of n.content ?? []) into.data.add(c);
    if (n.subtree) subtrees.push(n.subtree);
  }
  // A few sibling directories at once: tree loads are small, latency-bound reads.
  await mapLimit(subtrees, depth < 2 ? 8 : 1, (s) => addTree(repo, s, into, depth + 1));
}
