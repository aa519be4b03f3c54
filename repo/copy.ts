/**
 * Copying snapshots from one repository into another (`cairn copy`). When the two share
 * the blob-id key (`cairn init --from-repo` makes such a destination), a blob has the same
 * id in both, so trees and image maps are copied unchanged and the destination stores only
 * the blobs it lacks. Otherwise (`copy-rekey.ts`) each data blob gets the destination's id
 * and the trees and maps that name it are written again. Either way each blob is opened
 * with the source's key (which checks it against its id) and sealed again with the
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
import { fromHex, toHex } from './hex.js';
import { IdMap, learnFromCopy, rekeySnapshot } from './copy-rekey.js';
import { packRanges } from './pack-ranges.js';
import { BlobRef, referencedBlobs, ReferencedBlobs } from './references.js';
import { InitOptions, Repository } from './repository.js';
import { Snapshot, SnapshotRef } from './snapshot.js';
import { pathSetKey } from './snapshot-select.js';

/** Blobs looked up in the destination's index at once. */
const LOOKUP_BATCH = 4096;
/** Pack ranges read from the source at once: reads from S3 wait on latency, not bandwidth. */
const READS = 8;

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

/** Whether a blob has the same id in both: trees and maps can then be copied as they are. */
export function sharesBlobIds(src: Repository, dst: Repository): boolean {
  return Buffer.from(src.key.blobId).equals(Buffer.from(dst.key.blobId));
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
  const rekeyed = sharesBlobIds(src, dst) ? undefined : new IdMap();
  const copies = copiesByPersistentId(await dst.listSnapshots(events.onDamagedSnapshot ?? (() => {})));
  const sources = rekeyed ? await src.listSnapshots(() => {}) : [];
  const stats: CopyStats = { copied: 0, skipped: 0, blobs: 0, storedBytes: 0, rawBytes: 0 };
  const start = { ...dst.added };
  // Trees walked for earlier snapshots of this run are not walked again: their blobs are
  // stored and indexed already, as for restic.
  const seen = new ReferencedBlobs();
  for (const [i, ref] of refs.entries()) {
    const copy = findCopy(ref, copies, rekeyed !== undefined);
    if (copy) {
      stats.skipped++;
      events.onSkipped?.(ref, copy);
      continue;
    }
    const before = { ...dst.added };
    if (rekeyed) {
      const earlier = earlierCopy(ref.snapshot, sources, copies);
      if (earlier) await learnFromCopy(src, dst, earlier.source.snapshot, earlier.copy.snapshot, rekeyed);
    }
    // Rekeyed, only data blobs the earlier copy did not name are copied; the trees and
    // maps are written anew.
    const blobs = (await newReferences(src, ref.snapshot, seen)).filter((b) => !rekeyed || (b.type === 'data' && !rekeyed.data.has(b.id)));
    const progress = (done: number) =>
      events.onProgress?.({ snapshot: i + 1, snapshots: refs.length, id: ref.id, blobsDone: done, blobsTotal: blobs.length, bytesCopied: dst.added.storedBytes - start.storedBytes });
    await copyBlobs(src, dst, blobs, progress, rekeyed);
    const snapshot = { ...copiedSnapshot(ref), ...(rekeyed && (await rekeySnapshot(src, dst, ref.snapshot, rekeyed))) };
    await dst.flush();
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

/**
 * Rekeyed: the copy in `dst` of the latest source snapshot of the same kind, host and
 * paths as `s`, the one most likely to share its files.
 */
function earlierCopy(s: Snapshot, sources: SnapshotRef[], copies: Map<string, SnapshotRef[]>): { source: SnapshotRef; copy: SnapshotRef } | undefined {
  const paths = pathSetKey(s.paths);
  // Sources are listed oldest first.
  for (const source of [...sources].reverse()) {
    if (source.snapshot.kind !== s.kind || source.snapshot.host !== s.host || pathSetKey(source.snapshot.paths) !== paths) continue;
    const copy = findCopy(source, copies, true);
    if (copy) return { source, copy };
  }
  return undefined;
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
 * therefore copied again, with its new tags. Rekeyed, the tree and map ids differ too.
 */
function findCopy(ref: SnapshotRef, copies: Map<string, SnapshotRef[]>, rekeyed: boolean): SnapshotRef | undefined {
  const want = contentKey(ref.snapshot, rekeyed);
  return copies.get(persistentId(ref))?.find((c) => contentKey(c.snapshot, rekeyed) === want);
}

function contentKey(s: Snapshot, rekeyed: boolean): string {
  const { parent: _parent, original: _original, ...rest } = s;
  const ids = rekeyed ? { tree: undefined, image: rest.image && { ...rest.image, mapRoot: undefined } } : {};
  return canonicalJson({ ...rest, ...ids, paths: [...rest.paths].sort(), tags: [...rest.tags].sort() });
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
 * stored: compressed payloads are not compressed a second time. With `rekeyed`, each
 * (data) blob gets `dst`'s id for its content, recorded there, and is stored if `dst`
 * lacks that id.
 */
async function copyBlobs(src: Repository, dst: Repository, blobs: BlobRef[], onProgress: (done: number) => void, rekeyed?: IdMap): Promise<void> {
  let done = 0;
  for (let i = 0; i < blobs.length; i += LOOKUP_BATCH) {
    const batch = blobs.slice(i, i + LOOKUP_BATCH);
    const needed = rekeyed ? batch.map(() => true) : await dst.reserveNew(batch.map((b) => fromHex(b.id)));
    const wanted = batch.filter((_, j) => needed[j]);
    done += batch.length - wanted.length;
    onProgress(done);
    const byPack = new Map<string, IndexedBlob[]>();
    for (const entry of await src.locateBlobs(wanted.map((b) => b.id))) {
      let list = byPack.get(entry.pack);
      if (!list) byPack.set(entry.pack, (list = []));
      list.push(entry);
    }
    await mapLimit([...byPack], READS, async ([pack, list]) => {
      list.sort((a, b) => a.offset - b.offset);
      for (const range of packRanges(list)) {
        const bytes = await src.backend.load({ type: 'data', name: pack }, range.start, range.end - range.start);
        const opened = list.slice(range.first, range.first + range.count).map((entry) => {
          const at = entry.offset - range.start;
          const payload = openPayload(src.key.encrypt, entry, bytes.subarray(at, at + entry.length));
          const plain = checkedPlaintext(src.hashBlob, entry, payload, true);
          return { entry, payload, id: rekeyed ? dst.hashBlob(plain) : entry.id };
        });
        // Rekeyed, which of the range's blobs dst lacks is known only now, by their new ids.
        const store = rekeyed ? await dst.reserveNew(opened.map((o) => o.id)) : opened.map(() => true);
        for (const [k, { entry, payload, id }] of opened.entries()) {
          if (rekeyed) rekeyed.data.set(toHex(entry.id), toHex(id));
          if (store[k]) await dst.addSealed(entry.type, { id, stored: seal(dst.key.encrypt, payload), rawLength: entry.rawLength, compressed: entry.compressed });
          onProgress(++done);
        }
      }
    });
  }
}
