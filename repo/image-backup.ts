/**
 * Disk-image backup. Plain mode chunks the raw bytes; file-system-aware mode (see
 * image-fs.ts) chunks every file exactly as a file backup would, so images and file
 * snapshots share blobs. Both write an image map (image-map.ts) that restores the image
 * byte for byte, and a tree with the files of each recognized file system.
 */
import os from 'node:os';
import type { ReadAt } from '../disk/source.js';
import { ChunkPool } from './chunk-pool.js';
import { RangeChunker } from './image-chunking.js';
import { saveImageMap } from './image-map-store.js';
import { ImageInfo, imageInfo, sameSource, SourceStat } from './image-snapshot.js';
import { Repository } from './repository.js';
import { Snapshot, SnapshotRef, SnapshotSummary } from './snapshot.js';

export interface ImageBackupOptions {
  /** The path read, recorded in the snapshot. */
  sourceName: string;
  /** Chunk raw bytes even where a file system is recognized. */
  plain?: boolean;
  /** Store only the blocks the file systems mark in use (file-system-aware mode only). */
  usedOnly?: boolean;
  /** The image file's stat; with it an unchanged file is not read again (see parent). */
  sourceStat?: SourceStat;
  /** Parent snapshot id; undefined picks the latest image of the same source and host; null uses none. */
  parent?: string | null;
  tags?: string[];
  host?: string;
  time?: Date;
  onProgress?: (p: ImageProgress) => void;
  /** Damage skipped over (the backup goes on). */
  onWarning?: (message: string) => void;
}

export interface ImageProgress {
  bytes: number;
  total: number;
  /** Bytes per second since the start. */
  rate: number;
  files: number;
}

export interface ImageBackupResult {
  id: string;
  snapshot: Snapshot;
  warnings: number;
  /** Set when the source was unchanged since this snapshot and was not read again. */
  unchangedSince?: string;
}

/** The latest image snapshot of the same source, host and options. */
async function findImageParent(repo: Repository, host: string, opts: ImageBackupOptions): Promise<SnapshotRef | undefined> {
  if (opts.parent === null) return undefined;
  if (opts.parent) return { id: opts.parent, snapshot: await repo.loadSnapshot(opts.parent) };
  const all = await repo.listSnapshots(() => {});
  return all
    .filter((r) => {
      if (r.snapshot.kind !== 'image' || r.snapshot.host !== host || r.snapshot.paths[0] !== opts.sourceName) return false;
      const i = r.snapshot.image as unknown as ImageInfo | undefined;
      // Without --plain the mode was detected, and an unchanged file is detected the same way.
      return i?.usedOnly === !!opts.usedOnly && (!opts.plain || i.mode === 'plain');
    })
    .pop();
}

export async function backupImage(repo: Repository, source: ReadAt, opts: ImageBackupOptions): Promise<ImageBackupResult> {
  const started = Date.now();
  let warnings = 0;
  const warn = (m: string) => {
    warnings++;
    opts.onWarning?.(m);
  };
  let lastReport = 0;
  let files = 0;
  const report = (bytes: number, force = false) => {
    const now = Date.now();
    if (!force && now - lastReport < 100) return;
    lastReport = now;
    opts.onProgress?.({ bytes, total: source.size, rate: bytes / Math.max(0.001, (now - started) / 1000), files });
  };
  const host = opts.host ?? os.hostname();
  const parent = opts.sourceStat ? await findImageParent(repo, host, opts) : undefined;
  if (parent && parent.snapshot.image) {
    const prev = imageInfo(parent.snapshot, parent.id);
    if (sameSource(prev.sourceStat, opts.sourceStat) && prev.size === source.size) {
      report(source.size, true);
      const snapshot: Snapshot = {
        ...parent.snapshot,
        time: (opts.time ?? new Date(started)).toISOString(),
        user: os.userInfo().username,
        tags: opts.tags ?? [],
        parent: parent.id,
        summary: { ...parent.snapshot.summary!, addedBytes: 0, addedRawBytes: 0, errors: 0, durationSeconds: (Date.now() - started) / 1000 },
      };
      return { id: await repo.saveSnapshot(snapshot), snapshot, warnings: 0, unchangedSince: parent.id };
    }
  }
  const pool = new ChunkPool(repo);
  try {
    let info: Omit<ImageInfo, 'mapRoot' | 'storedBytes'>;
    let tree: string;
    let extents;
    let summaryCounts = { files: 0, dirs: 0 };
    const base = { source: opts.sourceName, size: source.size, usedOnly: false, fileSystems: [] };
    const fsResult = opts.plain
      ? null
      : await (await import('./image-fs.js')).fileSystemAwareBackup(repo, pool, source, { usedOnly: !!opts.usedOnly, warn, onRead: (b, f) => ((files = f), report(b)) });
    if (fsResult) {
      info = { ...base, mode: 'fs', usedOnly: !!opts.usedOnly, partitionTable: fsResult.partitionTable, fileSystems: fsResult.fileSystems };
      tree = fsResult.tree;
      extents = fsResult.extents;
      summaryCounts = fsResult.counts;
    } else {
      if (opts.usedOnly) warn('--used-only needs a recognized file system; the whole image is stored');
      const chunker = new RangeChunker(pool, (b) => report(b));
      await chunker.add(source, [{ offset: 0, length: source.size }]);
      extents = await chunker.finish();
      info = { ...base, mode: 'plain' };
      tree = await repo.saveTree({ nodes: [] });
    }
    report(source.size, true);
    const mapRoot = await saveImageMap(repo, extents, source.size);
    await repo.flush();
    const storedBytes = extents.reduce((n, e) => n + e.length, 0);
    const summary: SnapshotSummary = {
      filesNew: 0,
      filesChanged: 0,
      filesUnchanged: 0,
      dirs: summaryCounts.dirs,
      totalFiles: summaryCounts.files,
      totalBytes: source.size,
      addedBytes: repo.added.storedBytes,
      addedRawBytes: repo.added.rawBytes,
      errors: warnings,
      durationSeconds: (Date.now() - started) / 1000,
    };
    const image: ImageInfo = { ...info, mapRoot, storedBytes, sourceStat: opts.sourceStat };
    const snapshot: Snapshot = {
      version: 1,
      time: (opts.time ?? new Date(started)).toISOString(),
      host,
      parent: parent?.id,
      user: os.userInfo().username,
      paths: [opts.sourceName],
      tags: opts.tags ?? [],
      kind: 'image',
      tree,
      summary,
      image: image as unknown as Record<string, unknown>,
    };
    const id = await repo.saveSnapshot(snapshot);
    return { id, snapshot, warnings };
  } finally {
    await pool.close();
  }
}
