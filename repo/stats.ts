/**
 * Totals over snapshots: what a restore would write (restore size), and the unique blobs
 * they use (raw and stored size), which give the deduplication and compression ratios.
 */
import { referencedBlobs, ReferencedBlobs } from './references.js';
import { fromHex } from './hex.js';
import { Repository } from './repository.js';
import { SnapshotRef } from './snapshot.js';

export interface RepositoryStats {
  snapshots: number;
  /** Files (and other non-directory entries) in all snapshots, each snapshot counted in full. */
  files: number;
  restoreSize: number;
  blobs: number;
  treeBlobs: number;
  /** Plaintext bytes of the unique blobs. */
  rawSize: number;
  /** Bytes they take in packs: compressed, encrypted. */
  storedSize: number;
  /** Restore size over the plaintext of the unique data blobs. */
  dedupRatio: number;
  /** Plaintext over stored bytes. */
  compressionRatio: number;
}

export async function collectStats(repo: Repository, snapshots: SnapshotRef[]): Promise<RepositoryStats> {
  const totals = new Map<string, Promise<{ files: number; bytes: number }>>();
  const treeTotals = (id: string, depth: number): Promise<{ files: number; bytes: number }> => {
    let t = totals.get(id);
    if (!t) {
      t = (async () => {
        if (depth > 4096) throw new Error('tree nesting is deeper than 4096 levels (a tree loop?)');
        const acc = { files: 0, bytes: 0 };
        for (const n of (await repo.loadTree(id)).nodes) {
          if (n.subtree) {
            const sub = await treeTotals(n.subtree, depth + 1);
            acc.files += sub.files;
            acc.bytes += sub.bytes;
          } else {
            acc.files++;
            if (n.type === 'file') acc.bytes += n.size;
          }
        }
        return acc;
      })();
      totals.set(id, t);
    }
    return t;
  };
  const used = new ReferencedBlobs();
  let files = 0;
  let restoreSize = 0;
  for (const s of snapshots) {
    const t = await treeTotals(s.snapshot.tree, 0);
    files += t.files;
    restoreSize += t.bytes;
    await referencedBlobs(repo, s.snapshot, used);
  }
  let rawSize = 0;
  let dataRaw = 0;
  let storedSize = 0;
  const ids = [...used.trees, ...used.data];
  for (let i = 0; i < ids.length; i += 1000) {
    const batch = ids.slice(i, i + 1000);
    const found = await repo.index.lookupMany(batch.map(fromHex));
    found.forEach((b, j) => {
      if (!b) throw new Error(`blob ${batch[j]} is not in the index: run \`cairn check\``);
      rawSize += b.rawLength;
      storedSize += b.length;
      if (b.type === 'data') dataRaw += b.rawLength;
    });
  }
  return {
    snapshots: snapshots.length,
    files,
    restoreSize,
    blobs: used.size,
    treeBlobs: used.trees.size,
    rawSize,
    storedSize,
    dedupRatio: dataRaw > 0 ? restoreSize / dataRaw : 0,
    compressionRatio: storedSize > 0 ? rawSize / storedSize : 0,
  };
}
