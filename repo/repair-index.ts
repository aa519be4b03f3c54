/**
 * Rebuilds the index from the packs. Every pack ends with its own sealed list of blobs,
 * so a damaged or deleted index file, or a pack that an interrupted backup wrote but never
 * indexed, loses nothing: this reads those lists and writes one index file that replaces
 * all others (as prune does). The caller holds the exclusive lock.
 *
 * Order, as in prune: the new index file is written before any old one is deleted, so an
 * interruption leaves either the old view or the new one (plus superseded files, which
 * readers ignore and the next prune or repair deletes).
 */
import { BlobEntry } from './blob.js';
import { CorruptObjectError } from './errors/corrupt-object-error.js';
import { toHex } from './hex.js';
import { IndexedPack } from './index-format.js';
import { listPacks, loadIndexFiles, removeIndexFiles, writeSupersedingIndex } from './index-files.js';
import { LockHandle } from './lock.js';
import { readPackHeader } from './pack-header.js';
import { Repository } from './repository.js';
import { mapLimit } from '../backends/concurrency.js';

/** Pack headers read at once: two small ranged reads each, so latency bounds them, not bandwidth. */
const HEADER_READS = 8;

export interface RepairIndexOptions {
  /** Read the header of every pack, also of packs that a readable index file lists. */
  readAllPacks?: boolean;
  /** Packs to drop from the index although they are present (`repair packs` deletes them next). */
  leaveOut?: string[];
  lock?: LockHandle;
  onProgress?: (p: { headersRead: number; headersToRead: number }) => void;
}

export interface RepairIndexResult {
  /** Packs present in the repository. */
  packs: number;
  /** Packs whose listing came from a readable index file. */
  packsFromIndex: number;
  /** Packs whose listing came from their own header. */
  packsFromHeader: number;
  blobs: number;
  damagedIndexFiles: { name: string; detail: string }[];
  /** Listed by an index file but absent: left out of the new index. */
  missingPacks: string[];
  /** Packs whose header could not be read; `indexed` when a readable index file still lists them. */
  unreadablePacks: { pack: string; detail: string; indexed: boolean }[];
  /** Index files the new one replaced; 0 when the index needed no repair. */
  indexFilesReplaced: number;
}

export async function repairIndex(repo: Repository, opts: RepairIndexOptions = {}): Promise<RepairIndexResult> {
  const index = await loadIndexFiles(repo);
  const present = await listPacks(repo);
  for (const id of opts.leaveOut ?? []) present.delete(id);
  const damagedIndexFiles = [...index.files]
    .filter((e): e is [string, Error] => e[1] instanceof Error)
    .map(([name, err]) => ({ name, detail: err instanceof CorruptObjectError ? err.detail : err.message }));
  const missingPacks = [...index.packs.keys()].filter((id) => !present.has(id)).sort();

  const toRead = [...present].filter(([id, size]) => opts.readAllPacks || index.packs.get(id)?.size !== size).map(([id]) => id).sort();
  const headers = new Map<string, BlobEntry[]>();
  const unreadablePacks: RepairIndexResult['unreadablePacks'] = [];
  let headersRead = 0;
  await mapLimit(toRead, HEADER_READS, async (id) => {
    try {
      headers.set(id, await readPackHeader(repo, id, present.get(id)!));
    } catch (err) {
      const e = err as Error;
      unreadablePacks.push({ pack: id, detail: e instanceof CorruptObjectError ? e.detail : e.message, indexed: index.packs.get(id)?.size === present.get(id) });
    }
    opts.onProgress?.({ headersRead: ++headersRead, headersToRead: toRead.length });
  });
  unreadablePacks.sort((a, b) => a.pack.localeCompare(b.pack));

  const packs: IndexedPack[] = [];
  let changed = damagedIndexFiles.length > 0 || missingPacks.length > 0 || index.superseded.size > 0;
  let packsFromIndex = 0;
  for (const [id, size] of [...present].sort(([a], [b]) => a.localeCompare(b))) {
    const listed = index.packs.get(id);
    const header = headers.get(id);
    if (header && !(listed && listed.size === size && sameEntries(listed.blobs, header))) {
      packs.push({ id, size, blobs: header });
      changed = true;
    } else if (listed && listed.size === size) {
      // A listing that agrees with its pack's size is kept, even where --read-all-packs
      // found the header unreadable: restore reads blobs by offset, not through the header.
      packs.push({ id, size, blobs: listed.blobs });
      packsFromIndex++;
    }
  }

  const result: RepairIndexResult = {
    packs: present.size,
    packsFromIndex,
    packsFromHeader: packs.length - packsFromIndex,
    blobs: packs.reduce((n, p) => n + p.blobs.length, 0),
    damagedIndexFiles,
    missingPacks,
    unreadablePacks,
    indexFilesReplaced: 0,
  };
  if (!changed) return result;
  opts.lock?.assertHeld();
  const old = await writeSupersedingIndex(repo, index, packs);
  await removeIndexFiles(repo, old);
  result.indexFilesReplaced = old.length;
  await repo.syncIndex();
  return result;
}

function sameEntries(a: BlobEntry[], b: BlobEntry[]): boolean {
  if (a.length !== b.length) return false;
  const key = (e: BlobEntry) => `${toHex(e.id)}:${e.type}:${e.offset}:${e.length}:${e.rawLength}:${e.compressed}`;
  const keys = new Set(a.map(key));
  return b.every((e) => keys.has(key(e)));
}
