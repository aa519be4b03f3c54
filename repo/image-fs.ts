/** File-system-aware image backup (placeholder until disk/ readers land). */
import type { ReadAt } from '../disk/source.js';
import { ChunkPool } from './chunk-pool.js';
import type { MapExtent } from './image-map.js';
import type { ImageFileSystem, ImagePartition } from './image-snapshot.js';
import { Repository } from './repository.js';

export interface FsBackupOptions {
  usedOnly: boolean;
  warn: (message: string) => void;
  onRead: (bytes: number, files: number) => void;
}

export interface FsBackupResult {
  partitionTable: { scheme: 'mbr' | 'gpt' | 'none'; partitions: ImagePartition[] };
  fileSystems: ImageFileSystem[];
  tree: string;
  extents: MapExtent[];
  counts: { files: number; dirs: number };
}

export async function fileSystemAwareBackup(_repo: Repository, _pool: ChunkPool, _src: ReadAt, _opts: FsBackupOptions): Promise<FsBackupResult | null> {
  return null;
}
