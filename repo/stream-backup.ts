/**
 * A backup of one byte stream (`backup --stdin`, `--stdin-from-command`): a file snapshot
 * holding a single regular file. The stream is chunked as one file of the same bytes
 * would be, so a dump piped in dedups against the same dump backed up from disk.
 */
import { constants } from 'node:fs';
import os from 'node:os';
import { saveBackupSnapshot, type BackupProgress, type BackupResult, type BackupRunOptions } from './archiver.js';
import { ChunkPool, ChunkResult } from './chunk-pool.js';
import type { EntryStat } from './dir-listing.js';
import { nodeFromStat } from './node-metadata.js';
import { Repository } from './repository.js';
import { Snapshot, SnapshotSummary } from './snapshot.js';
import { resolveParent } from './snapshot-select.js';
import { findNode } from './tree-walk.js';
import { TreeNode } from './tree.js';

export interface StreamBackupOptions extends Pick<BackupRunOptions, 'tags' | 'host' | 'parent' | 'time' | 'onProgress' | 'skipIfUnchanged'> {
  /** The file's absolute path in the snapshot ("/db.sql"), and the snapshot's one path. */
  path: string;
}

/**
 * Bytes gathered before they go to the chunk worker: a pipe yields 64 KiB at a time,
 * and each piece is a message and a 'consumed' reply. Memory stays at this piece and the
 * stream's queue of copies, however long the stream.
 */
const PIECE = 4 * 1024 * 1024;

/**
 * Stores `source` as the file `opts.path`. An error from `source` (a failed command)
 * aborts the backup before anything refers to the data: no snapshot is written, and the
 * blobs already stored are left for prune.
 */
export async function backupStream(repo: Repository, source: AsyncIterable<Uint8Array>, opts: StreamBackupOptions): Promise<BackupResult> {
  const started = Date.now();
  // As restic does, the file's times are the snapshot's time.
  const time = opts.time ?? new Date(started);
  const host = opts.host ?? os.hostname();
  const parent = await resolveParent(repo, host, [opts.path], opts.parent);
  const progress: BackupProgress = { files: 0, dirs: 0, bytes: 0, errors: 0, addedBytes: 0 };
  let lastReport = 0;
  const report = (force = false) => {
    const now = Date.now();
    if (!force && now - lastReport < 100) return;
    lastReport = now;
    progress.addedBytes = repo.added.storedBytes;
    opts.onProgress?.(progress);
  };
  const pool = new ChunkPool(repo);
  const content = await chunkSource(pool, source, (bytes) => {
    progress.bytes = bytes;
    report();
  }).finally(() => pool.close());
  progress.files = 1;
  report(true);

  const parts = opts.path.split('/').filter(Boolean);
  const ns = BigInt(time.getTime()) * 1_000_000n;
  const stat = (type: number, size: number): EntryStat => ({
    dev: 0n,
    ino: 0n,
    mode: BigInt(type | (type === constants.S_IFDIR ? 0o755 : 0o644)),
    nlink: 1n,
    uid: BigInt(process.getuid?.() ?? 0),
    gid: BigInt(process.getgid?.() ?? 0),
    rdev: 0n,
    size: BigInt(size),
    atimeNs: ns,
    mtimeNs: ns,
    ctimeNs: ns,
  });
  let node: TreeNode = { ...nodeFromStat({ text: parts[parts.length - 1] }, 'file', stat(constants.S_IFREG, content.size)), content: content.content };
  for (const dir of parts.slice(0, -1).reverse()) {
    const subtree = await repo.saveTree({ nodes: [node] });
    node = { ...nodeFromStat({ text: dir }, 'dir', stat(constants.S_IFDIR, 0)), subtree };
  }
  const tree = await repo.saveTree({ nodes: [node] });
  await repo.flush();

  // Only to count the file as changed rather than new: a parent without it, or a damaged one, counts it new.
  const prev = parent && (await findNode(repo, parent.snapshot.tree, opts.path).catch(() => undefined));
  const changed = prev?.type === 'file';
  const summary: SnapshotSummary = {
    filesNew: changed ? 0 : 1,
    filesChanged: changed ? 1 : 0,
    filesUnchanged: 0,
    // As in a file backup, the directories above the backed-up path are not counted.
    dirs: 0,
    totalFiles: 1,
    totalBytes: content.size,
    addedBytes: repo.added.storedBytes,
    addedRawBytes: repo.added.rawBytes,
    errors: 0,
    durationSeconds: (Date.now() - started) / 1000,
  };
  const snapshot: Snapshot = {
    version: 1,
    time: time.toISOString(),
    host,
    user: os.userInfo().username,
    paths: [opts.path],
    tags: opts.tags ?? [],
    parent: parent?.id,
    kind: 'files',
    tree,
    summary,
  };
  return saveBackupSnapshot(repo, snapshot, parent, opts.skipIfUnchanged);
}

async function chunkSource(pool: ChunkPool, source: AsyncIterable<Uint8Array>, onRead: (bytes: number) => void): Promise<ChunkResult> {
  const stream = pool.chunkStream();
  // write() copies what it is given, so one buffer serves every piece.
  const piece = new Uint8Array(PIECE);
  let filled = 0;
  let total = 0;
  for await (const data of source) {
    for (let at = 0; at < data.length; ) {
      const n = Math.min(data.length - at, PIECE - filled);
      piece.set(data.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === PIECE) {
        await stream.write(piece);
        filled = 0;
      }
    }
    total += data.length;
    onRead(total);
  }
  if (filled > 0) await stream.write(piece.subarray(0, filled));
  return stream.end();
}
