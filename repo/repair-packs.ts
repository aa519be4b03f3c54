/**
 * Salvaging damaged packs (`cairn repair packs`, as restic's): every blob of the pack that
 * still authenticates and matches its id is stored again in a new pack, then the damaged
 * pack leaves the repository and the index. A copy of each damaged pack is written to a
 * local directory first, so nothing the repository held is thrown away. The caller holds
 * the exclusive lock.
 *
 * Order: the copy, then the new packs and their index file, then one index file that
 * supersedes all and lists every pack but the damaged ones (`repairIndex`), then the
 * deletes. Killed at any moment, every snapshot still restores: before the new index,
 * the salvaged blobs are there twice; after it, the damaged packs are packs no index
 * lists, which running this again, or prune, deletes.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BlobEntry, BlobType } from './blob.js';
import { openStoredBlob } from './blob-open.js';
import { CorruptObjectError } from './errors/corrupt-object-error.js';
import { toHex } from './hex.js';
import { listPacks, loadIndexFiles } from './index-files.js';
import { LockHandle } from './lock.js';
import { wholePackHeader } from './pack-verify.js';
import { repairIndex } from './repair-index.js';
import { Repository } from './repository.js';

export interface LostBlob {
  id: string;
  type: BlobType;
  detail: string;
}

export interface PackRepair {
  pack: string;
  /** Where the copy of the damaged pack was written. */
  savedAs: string;
  /** Blobs the pack was found to hold: from its header, and from the index where it lists others. */
  blobs: number;
  salvaged: number;
  /** Damaged blobs that another pack holds a sound copy of. */
  elsewhere: number;
  lost: LostBlob[];
  /** Why the pack's own header could not be read (its blobs then come from the index). */
  headerProblem?: string;
}

export class PackNotFoundError extends Error {
  readonly exitCode = 1;
  constructor(query: string, detail: string) {
    super(`pack ${query}: ${detail}`);
    this.name = 'PackNotFoundError';
  }
}

/** Full pack ids for `queries` (ids or unique prefixes of at least 8 hex characters). */
export function resolvePacks(queries: string[], present: Map<string, number>): string[] {
  return [...new Set(queries)].map((q) => {
    if (!/^[0-9a-f]{8,64}$/.test(q)) throw new PackNotFoundError(q, 'a pack is named by its id, or a prefix of at least 8 hex characters');
    const hits = [...present.keys()].filter((id) => id.startsWith(q));
    if (hits.length === 0) throw new PackNotFoundError(q, 'no such pack in the repository (if the index still lists it, `cairn repair index` drops it)');
    if (hits.length > 1) throw new PackNotFoundError(q, `${hits.length} packs match; give more characters`);
    return hits[0];
  });
}

export async function repairPacks(repo: Repository, queries: string[], opts: { saveTo: string; lock?: LockHandle; onPack?: (r: PackRepair) => void }): Promise<PackRepair[]> {
  const present = await listPacks(repo);
  const packs = resolvePacks(queries, present);
  const index = await loadIndexFiles(repo);
  await fs.mkdir(opts.saveTo, { recursive: true });

  const results: PackRepair[] = [];
  const damaged: { r: PackRepair; blob: LostBlob }[] = [];
  for (const pack of packs) {
    const bytes = await repo.backend.load({ type: 'data', name: pack });
    const savedAs = path.join(opts.saveTo, pack);
    await fs.writeFile(savedAs, bytes);
    const { entries, headerProblem } = packEntries(repo, bytes, index.packs.get(pack)?.blobs ?? []);
    const r: PackRepair = { pack, savedAs, blobs: entries.length, salvaged: 0, elsewhere: 0, lost: [], headerProblem };
    for (const e of entries) {
      const stored = bytes.subarray(e.offset, e.offset + e.length);
      try {
        openStoredBlob(repo.key.encrypt, repo.hashBlob, { ...e, pack }, stored, true);
      } catch (err) {
        const id = toHex(e.id);
        damaged.push({ r, blob: { id, type: e.type, detail: err instanceof CorruptObjectError ? err.detail : (err as Error).message } });
        continue;
      }
      // A sound blob is stored again as it is: its sealed bytes are already what a new pack holds.
      await repo.addSealed(e.type, { id: e.id, stored: new Uint8Array(stored), rawLength: e.rawLength, compressed: e.compressed });
      r.salvaged++;
    }
    results.push(r);
  }
  // A damaged blob that a pack not being repaired holds loses nothing. Only the damaged
  // ids are kept while every listing is scanned, not a set of all the repository's blobs.
  const damagedIds = new Set(damaged.map((d) => d.blob.id));
  const elsewhere = new Set<string>();
  for (const [id, listed] of damagedIds.size > 0 ? index.packs : []) {
    if (packs.includes(id) || !present.has(id)) continue;
    for (const b of listed.blobs) {
      const hex = toHex(b.id);
      if (damagedIds.has(hex)) elsewhere.add(hex);
    }
  }
  for (const { r, blob } of damaged) {
    if (elsewhere.has(blob.id)) r.elsewhere++;
    else r.lost.push(blob);
  }
  for (const r of results) opts.onPack?.(r);
  await repo.flush();
  await repairIndex(repo, { leaveOut: packs, lock: opts.lock });
  opts.lock?.assertHeld();
  for (const pack of packs) await repo.backend.remove({ type: 'data', name: pack });
  return results;
}

/**
 * The pack's blobs: its own header's list, plus any blob an index file places in it that
 * the header lacks (the header itself may be what is damaged). An entry that does not fit
 * in the pack is kept: reading it fails, and it is reported lost.
 */
function packEntries(repo: Repository, bytes: Uint8Array, listed: BlobEntry[]): { entries: BlobEntry[]; headerProblem?: string } {
  let header: BlobEntry[] = [];
  let headerProblem: string | undefined;
  try {
    header = wholePackHeader(repo.key.encrypt, bytes).entries;
  } catch (err) {
    headerProblem = (err as Error).message;
  }
  const key = (e: BlobEntry) => `${toHex(e.id)}:${e.offset}`;
  const seen = new Set(header.map(key));
  return { entries: [...header, ...listed.filter((e) => !seen.has(key(e)))], headerProblem };
}
