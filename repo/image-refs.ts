/** Which blobs an image snapshot needs: for prune and check. */
import { StoredImageMap } from './image-map-store.js';
import { imageInfo } from './image-snapshot.js';
import { Repository } from './repository.js';
import { Snapshot } from './snapshot.js';
import { walkTree } from './tree-walk.js';

/**
 * Every blob id (hex) an image snapshot references, each once: the map root and its parts,
 * the data blobs the map points at, and the tree with its file contents.
 */
export async function* imageReferencedBlobs(repo: Repository, snapshot: Snapshot, id = ''): AsyncIterable<string> {
  const info = imageInfo(snapshot, id);
  const seen = new Set<string>();
  const fresh = (b: string) => !seen.has(b) && (seen.add(b), true);
  const map = await StoredImageMap.load(repo, info.mapRoot);
  yield info.mapRoot;
  seen.add(info.mapRoot);
  for (let i = 0; i < map.root.parts.length; i++) {
    if (fresh(map.root.parts[i].id)) yield map.root.parts[i].id;
    for (const e of (await map.part(i)).extents) if (fresh(e.blob)) yield e.blob;
  }
  if (fresh(snapshot.tree)) yield snapshot.tree;
  for await (const { node } of walkTree(repo, snapshot.tree)) {
    if (node.subtree && fresh(node.subtree)) yield node.subtree;
    for (const c of node.content ?? []) if (fresh(c)) yield c;
  }
}
