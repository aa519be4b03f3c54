/**
 * Copying snapshots from one repository into another (`cairn copy`). The two must share
 * the blob-id key and the chunker parameters (`cairn init --from-repo` makes such a
 * destination): a blob then has the same id in both, so trees and image maps are copied
 * unchanged and the destination stores only the blobs it lacks. Each blob is opened with
 * the source's key (which checks it against its id) and sealed again with the
 * destination's.
 *
 * A snapshot's blobs are stored, and the index files that list them written, before its
 * snapshot object: a copy killed at any moment leaves the destination consistent (at
 * most packs no snapshot uses yet), and running it again copies only what is missing.
 */
import { mapLimit } from '../backends/concurrency.js';
import { Backend } from '../backends/backend.js';
import { seal } from '../crypto/aead.js';
import { IndexedBlob } from './blob.js';
import { checkedPlaintext, openPayload } from './blob-open.js';
import { CorruptObjectError } from './errors/corrupt-object-error.js';
import { fromHex } from './hex.js';
import { packRanges } from './pack-ranges.js';
import { BlobRef, referencedBlobs, ReferencedBlobs } from './references.js';
import { InitOptions, Repository } from './repository.js';
import { Snapshot, SnapshotRef } from './snapshot.js';

/** Blobs looked up in the destination's index at once. */
const LOOKUP_BATCH = 4096;
/** Pack ranges read from the source at once: reads from S3 wait on latency, not bandwidth. */
const READS = 8;

export class IncompatibleRepositoriesError extends Error {
  readonly exitCode = 1;
  constructor(difference: string, source: string) {
    super(
      `cannot copy: the destination's ${difference} from the source's, so a chunk would have another id there and every tree would ` +
        `have to be rewritten, which cairn does not do. Create the destination with \`cairn init --from-repo ${source}\` and copy into that`,
    );
    this.name = 'IncompatibleRepositoriesError';
  }
}

/**
 * Creates a repository that can take copies of `source`'s snapshots: a fresh encryption
 * key, but `source`'s blob-id key and chunker parameters, so chunks are cut and named the
 * same in both, and later backups into either deduplicate against copies. The pack size
 * is the source's unless `opts.packSize` is given (it affects no blob id).
 */
export function initFrom(backend: Backend, password: string, source: Repository, opts: InitOptions = {}): Promise<Repository> {
  return Repository.init(backend, password, {
    ...opts,
    chunker: source.config.chunker,
    packSize: opts.packSize ?? source.config.packSize,
    blobIdKey: source.key.blobId,
  });
}

export function assertCompatible(src: Repository, dst: Repository): void {
  const location = src.backend.location();
  if (!Buffer.from(src.key.blobId).equals(Buffer.from(dst.key.blobId))) throw new IncompatibleRepositoriesError('blob-id key differs', location);
  const a = src.config.chunker;
  const b = dst.config.chunker;
  if (a.min !== b.min || a.avg !== b.avg || a.max !== b.max) throw new IncompatibleRepositoriesError('chunker parameters differ', location);
}

export interface CopyProgress {
  /** 1-based position of the snapshot being copied among those asked for. */
  snapshot: number;
  snapshots: number;
  id: string;
  /** Blobs of this snapshot new in this run, checked against the destination so far. */
  blobsDone: number;
  blobsTotal: number;
  /** Stored bytes added to the destination in this run so far. */
  bytesCopied: number;
}

export interface CopyEvents {
  onSkipped?: (src: SnapshotRef, copy: SnapshotRef) => void;
  onCopied?: (src: SnapshotRef, newId: string, added: { blobs: number; storedBytes: number }) => void;
  onProgress?: (p: CopyProgress) => void;
  /** A destination snapshot that cannot be read: it is ignored, so its source may be copied again. */
  onDamagedSnapshot?: (err: Error) => void;
}

export interface CopyStats {
  copied: number;
  skipped: number;
  blobs: number;
  /** Bytes added to the destination as stored (compressed, encrypted) and as plaintext. */
  storedBytes: number;
  rawBytes: number;
}

/**
 * Copies `refs` (snapshots of `src`) into `dst`, in the given order, skipping those `dst`
 * already holds a copy of. The caller holds a lock on both repositories.
 */
export async function copySnapshots(src: Repository, dst: Repository, refs: SnapshotRef[], events: CopyEvents = {}): Promise<CopyStats> {
  assertCompatible(src, dst);
  const copies = copiesByPersistentId(await dst.listSnapshots(events.onDamagedSnapshot ?? (() => {})));
  const stats: CopyStats = { copied: 0, skipped: 0, blobs: 0, storedBytes: 0, rawBytes: 0 };
  const start = { ...dst.added };
  // Trees walked for earlier snapshots of this run are not walked again: their blobs are
  // stored and indexed already, as for restic.
  const seen = new ReferencedBlobs();
  for (const [i, ref] of refs.entries()) {
    const copy = findCopy(ref, copies);
    if (copy) {
      stats.skipped++;
      events.onSkipped?.(ref, copy);
      continue;
    }
    const before = { ...dst.added };
    const blobs = await newReferences(src, ref.snapshot, seen);
    const progress = (done: number) =>
      events.onProgress?.({ snapshot: i + 1, snapshots: refs.length, id: ref.id, blobsDone: done, blobsTotal: blobs.length, bytesCopied: dst.added.storedBytes - start.storedBytes });
    await copyBlobs(src, dst, blobs, progress);
    await dst.flush();
    const snapshot = copiedSnapshot(ref);
    const id = await dst.saveSnapshot(snapshot);
    stats.copied++;
    // The same snapshot named twice in one run is copied once.
    addCopy(copies, { id, snapshot });
    events.onCopied?.(ref, id, { blobs: dst.added.blobs - before.blobs, storedBytes: dst.added.storedBytes - before.storedBytes });
  }
  stats.blobs = dst.added.blobs - start.blobs;
  stats.storedBytes = dst.added.storedBytes - start.storedBytes;
  stats.rawBytes = dst.added.rawBytes - start.rawBytes;
  return stats;
}

/**
 * The copy keeps every field but `parent`, which names a snapshot of the source, and
 * records where it came from in `original`: the source's own `original` if it has one (it
 * was retagged), so a snapshot keeps one persistent id across rewrites and copies.
 */
function copiedSnapshot(ref: SnapshotRef): Snapshot {
  const { parent: _parent, ...rest } = ref.snapshot;
  return { ...rest, original: persistentId(ref) };
}

function persistentId(ref: SnapshotRef): string {
  return ref.snapshot.original ?? ref.id;
}

/** Destination snapshots by their `original` and by their own id (a snapshot copied back to where it came from). */
function copiesByPersistentId(dst: SnapshotRef[]): Map<string, SnapshotRef[]> {
  const by = new Map<string, SnapshotRef[]>();
  for (const r of dst) addCopy(by, r);
  return by;
}

function addCopy(by: Map<string, SnapshotRef[]>, r: SnapshotRef): void {
  for (const key of new Set([r.snapshot.original ?? r.id, r.id])) by.set(key, [...(by.get(key) ?? []), r]);
}

/**
 * restic's rule: a copy carries the source's persistent id and agrees on everything but
 * `parent` and `original`. A snapshot retagged in the source after it was copied is
 * therefore copied again, with its new tags.
 */
function findCopy(ref: SnapshotRef, copies: Map<string, SnapshotRef[]>): SnapshotRef | undefined {
  const want = contentKey(ref.snapshot);
  return copies.get(persistentId(ref))?.find((c) => contentKey(c.snapshot) === want);
}

function contentKey(s: Snapshot): string {
  const { parent: _parent, original: _original, ...rest } = s;
  return canonicalJson({ ...rest, paths: [...rest.paths].sort(), tags: [...rest.tags].sort() });
}

/** JSON with object keys sorted: two snapshots written by different code compare by content. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The blobs `snapshot` references that no earlier snapshot of this run did. `seen` only
 * grows, and a Set iterates in insertion order, so they are the entries added past its
 * previous sizes.
 */
async function newReferences(src: Repository, snapshot: Snapshot, seen: ReferencedBlobs): Promise<BlobRef[]> {
  const trees = seen.trees.size;
  const data = seen.data.size;
  await referencedBlobs(src, snapshot, seen);
  const tail = (set: Set<string>, skip: number, type: BlobRef['type']) => [...set].slice(skip).map((id) => ({ id, type }));
  return [...tail(seen.trees, trees, 'tree'), ...tail(seen.data, data, 'data')];
}

/**
 * Stores in `dst` those of `blobs` it lacks. They are read from `src` a pack range at a
 * time, and each is checked against its id and sealed again with `dst`'s key as it was
 * stored: compressed payloads are not compressed a second time.
 */
async function copyBlobs(src: Repository, dst: Repository, blobs: BlobRef[], onProgress: (done: number) => void): Promise<void> {
  let done = 0;
  for (let i = 0; i < blobs.length; i += LOOKUP_BATCH) {
    const batch = blobs.slice(i, i + LOOKUP_BATCH);
    const needed = await dst.reserveNew(batch.map((b) => fromHex(b.id)));
    const wanted = batch.filter((_, j) => needed[j]);
    done += batch.length - wanted.length;
    onProgress(done);
    const entries = await src.lookupBlobs(wanted.map((b) => fromHex(b.id)));
    const byPack = new Map<string, { type: BlobRef['type']; entry: IndexedBlob }[]>();
    entries.forEach((entry, j) => {
      if (!entry) throw new CorruptObjectError(`blob ${wanted[j].id}`, 'not in the index (missing)');
      let list = byPack.get(entry.pack);
      if (!list) byPack.set(entry.pack, (list = []));
      list.push({ type: wanted[j].type, entry });
    });
    await mapLimit([...byPack], READS, async ([pack, list]) => {
      list.sort((a, b) => a.entry.offset - b.entry.offset);
      for (const range of packRanges(list.map((b) => b.entry))) {
        const bytes = await src.backend.load({ type: 'data', name: pack }, range.start, range.end - range.start);
        for (const { type, entry } of list.slice(range.first, range.first + range.count)) {
          const at = entry.offset - range.start;
          const payload = openPayload(src.key.encrypt, entry, bytes.subarray(at, at + entry.length));
          checkedPlaintext(src.hashBlob, entry, payload, true);
          await dst.addSealed(type, { id: entry.id, stored: seal(dst.key.encrypt, payload), rawLength: entry.rawLength, compressed: entry.compressed });
          onProgress(++done);
        }
      }
    });
  }
}
