export type SnapshotKind = 'files' | 'image';

export interface SnapshotSummary {
  filesNew: number;
  filesChanged: number;
  filesUnchanged: number;
  dirs: number;
  totalFiles: number;
  totalBytes: number;
  /** Bytes added to the repository after dedup and compression (stored size). */
  addedBytes: number;
  /** Plaintext bytes of the new blobs, before compression. */
  addedRawBytes: number;
  errors: number;
  durationSeconds: number;
}

export interface Snapshot {
  version: 1;
  time: string;
  host: string;
  user: string;
  paths: string[];
  tags: string[];
  parent?: string;
  /** Set when the snapshot was rewritten (tags changed): the id it first had. */
  original?: string;
  kind: SnapshotKind;
  tree: string;
  summary?: SnapshotSummary;
  /** Image snapshots only: defined by repo/image code. */
  image?: Record<string, unknown>;
}

export interface SnapshotRef {
  id: string;
  snapshot: Snapshot;
}

export function validateSnapshot(s: unknown): Snapshot {
  const snap = s as Snapshot;
  if (!snap || typeof snap !== 'object') throw new Error('snapshot is not an object');
  if (snap.version !== 1) throw new Error(`unsupported snapshot version ${snap.version}`);
  if (typeof snap.time !== 'string' || Number.isNaN(Date.parse(snap.time))) throw new Error('snapshot has a bad time');
  if (typeof snap.tree !== 'string' || !/^[0-9a-f]{64}$/.test(snap.tree)) throw new Error('snapshot has a bad tree id');
  if (!Array.isArray(snap.paths) || !Array.isArray(snap.tags)) throw new Error('snapshot has bad paths or tags');
  if (snap.kind !== 'files' && snap.kind !== 'image') throw new Error(`snapshot has unknown kind ${snap.kind}`);
  return snap;
}
