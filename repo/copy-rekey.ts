/**
 * Copying into a repository with another blob-id key (one made by plain `init`): there a
 * chunk has another id, so every tree and image map that names it is written again with
 * the destination's ids. The chunks themselves are copied as the source cut them.
 */
import { encodePart, encodeRoot } from './image-map.js';
import { StoredImageMap } from './image-map-store.js';
import { imageInfo } from './image-snapshot.js';
import { Repository } from './repository.js';
import { Snapshot } from './snapshot.js';
import { sameNodes, TreeNode } from './tree.js';
import { mapLimit } from '../backends/concurrency.js';

/**
 * Source id to destination id (hex), for every blob copied or rewritten in this run: a
 * tree shared by several snapshots is rewritten once.
 */
export class IdMap {
  readonly data = new Map<string, string>();
  readonly trees = new Map<string, string>();

  dataId(src: string): string {
    const id = this.data.get(src);
    // copyBlobs maps every data blob a snapshot references before its trees are rewritten.
    if (id === undefined) throw new Error(`internal error: data blob ${src} was not copied`);
    return id;
  }
}

/**
 * `snapshot`'s tree (and image map) saved in `dst` with `dst`'s ids; every data blob it
 * references must already be in `ids`. Returns the snapshot's fields that name them.
 */
export async function rekeySnapshot(src: Repository, dst: Repository, snapshot: Snapshot, ids: IdMap): Promise<Pick<Snapshot, 'tree' | 'image'>> {
  const tree = await rekeyTree(src, dst, snapshot.tree, ids, 0);
  if (snapshot.kind !== 'image') return { tree };
  const info = imageInfo(snapshot);
  return { tree, image: { ...snapshot.image, mapRoot: await rekeyImageMap(src, dst, info.mapRoot, ids) } };
}

async function rekeyTree(src: Repository, dst: Repository, id: string, ids: IdMap, depth: number): Promise<string> {
  const known = ids.trees.get(id);
  if (known !== undefined) return known;
  if (depth > 4096) throw new Error('tree nesting is deeper than 4096 levels (a tree loop?)');
  const { nodes } = await src.loadTree(id);
  const out: TreeNode[] = nodes.map((n) => (n.content ? { ...n, content: n.content.map((c) => ids.dataId(c)) } : { ...n }));
  const dirs = out.filter((n) => n.subtree !== undefined);
  // A few sibling directories at once near the root: tree loads are small, latency-bound reads.
  await mapLimit(dirs, depth < 2 ? 8 : 1, async (n) => {
    n.subtree = await rekeyTree(src, dst, n.subtree!, ids, depth + 1);
  });
  const rekeyed = await dst.saveTree({ nodes: out });
  ids.trees.set(id, rekeyed);
  return rekeyed;
}

/** An image map's parts and root saved in `dst`, their extents naming `dst`'s data blobs. */
async function rekeyImageMap(src: Repository, dst: Repository, rootId: string, ids: IdMap): Promise<string> {
  const known = ids.trees.get(rootId);
  if (known !== undefined) return known;
  const map = await StoredImageMap.load(src, rootId);
  const parts = [];
  for (let i = 0; i < map.root.parts.length; i++) {
    const entry = map.root.parts[i];
    let id = ids.trees.get(entry.id);
    if (id === undefined) {
      const part = await map.part(i);
      id = await dst.saveBlob('tree', encodePart({ ...part, extents: part.extents.map((e) => ({ ...e, blob: ids.dataId(e.blob) })) }));
      ids.trees.set(entry.id, id);
    }
    parts.push({ ...entry, id });
  }
  const root = await dst.saveBlob('tree', encodeRoot({ size: map.root.size, parts }));
  ids.trees.set(rootId, root);
  return root;
}

/**
 * Learns ids from an earlier copy, so that its blobs are not read again: walks the
 * source snapshot and its copy side by side, trees and (for images) map parts, and maps
 * each blob to the copy's. Only what agrees in everything but ids is taken: a copy
 * rewritten since differs there.
 */
export async function learnFromCopy(src: Repository, dst: Repository, source: Snapshot, copy: Snapshot, ids: IdMap): Promise<void> {
  await learnFromTrees(src, dst, source.tree, copy.tree, ids, 0);
  if (source.kind === 'image' && copy.kind === 'image') await learnFromMaps(src, dst, imageInfo(source).mapRoot, imageInfo(copy).mapRoot, ids);
}

/**
 * A directory's nodes are taken when they agree in everything but blob ids, and the tree
 * itself only when all below it agrees too. Returns whether it did.
 */
async function learnFromTrees(src: Repository, dst: Repository, srcTree: string, dstTree: string, ids: IdMap, depth: number): Promise<boolean> {
  if (ids.trees.has(srcTree)) return ids.trees.get(srcTree) === dstTree;
  if (depth > 4096) return false;
  const [a, b] = await Promise.all([src.loadTree(srcTree), dst.loadTree(dstTree)]);
  if (!sameNodes(a.nodes.map(withoutIds), b.nodes.map(withoutIds))) return false;
  a.nodes.forEach((n, i) => n.content?.forEach((c, j) => ids.data.set(c, b.nodes[i].content![j])));
  const dirs = a.nodes.flatMap((n, i) => (n.subtree ? [[n.subtree, b.nodes[i].subtree!] as const] : []));
  let all = true;
  await mapLimit(dirs, depth < 2 ? 8 : 1, async ([x, y]) => {
    if (!(await learnFromTrees(src, dst, x, y, ids, depth + 1))) all = false;
  });
  if (all) ids.trees.set(srcTree, dstTree);
  return all;
}

/**
 * Image maps part by part: a part whose extents cover the same ranges from the same
 * offsets of their blobs maps those blobs (a disk image's unchanged regions, which no
 * file tree names), and the part itself; the root, when every part agrees.
 */
async function learnFromMaps(src: Repository, dst: Repository, srcRoot: string, dstRoot: string, ids: IdMap): Promise<void> {
  if (ids.trees.has(srcRoot)) return;
  const [a, b] = await Promise.all([StoredImageMap.load(src, srcRoot), StoredImageMap.load(dst, dstRoot)]);
  if (a.size !== b.size || a.root.parts.length !== b.root.parts.length) return;
  let all = true;
  for (let i = 0; i < a.root.parts.length; i++) {
    const [pa, pb] = [a.root.parts[i], b.root.parts[i]];
    if (ids.trees.get(pa.id) === pb.id) continue;
    const [x, y] = pa.start === pb.start && pa.end === pb.end ? await Promise.all([a.part(i), b.part(i)]) : [undefined, undefined];
    const agree = x && y && x.extents.length === y.extents.length && x.extents.every((e, k) => e.imageOffset === y.extents[k].imageOffset && e.length === y.extents[k].length && e.blobOffset === y.extents[k].blobOffset);
    if (!agree) {
      all = false;
      continue;
    }
    x.extents.forEach((e, k) => ids.data.set(e.blob, y.extents[k].blob));
    ids.trees.set(pa.id, pb.id);
  }
  if (all) ids.trees.set(srcRoot, dstRoot);
}

/** A node with its blob ids blanked: a copy differs from its source only there. */
function withoutIds(n: TreeNode): TreeNode {
  return { ...n, content: n.content?.map(() => ''), subtree: n.subtree === undefined ? undefined : '' };
}
