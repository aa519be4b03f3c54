/** What an image snapshot records beside the usual snapshot fields (snapshot.image). */
import { CorruptObjectError } from './errors/corrupt-object-error.js';
import { Snapshot } from './snapshot.js';

export interface ImagePartition {
  number: number;
  start: number;
  size: number;
  type: string;
  name?: string;
}

export interface ImageFileSystem {
  /** Directory in the snapshot tree: "p<N>" or "fs". */
  dir: string;
  type: string;
  /** Byte range of the file system in the image. */
  start: number;
  size: number;
}

export interface ImageInfo {
  /** The path that was read (image file or block device). */
  source: string;
  size: number;
  mode: 'plain' | 'fs';
  usedOnly: boolean;
  /** Id of the map root blob (a tree-type blob; see repo/image-map.ts). */
  mapRoot: string;
  partitionTable?: { scheme: 'mbr' | 'gpt' | 'none'; partitions: ImagePartition[] };
  fileSystems: ImageFileSystem[];
  /** Bytes the map covers with data; the rest of the image is zeros. */
  storedBytes: number;
  /** An image file's identity when it was read, to skip re-reading it unchanged. */
  sourceStat?: SourceStat;
}

/** Regular files only: a block device's times say nothing about its content. */
export interface SourceStat {
  size: number;
  inode: number;
  device: number;
  mtimeNs: string;
  ctimeNs: string;
}

export function sameSource(a: SourceStat | undefined, b: SourceStat | undefined): boolean {
  return !!a && !!b && a.size === b.size && a.inode === b.inode && a.device === b.device && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

const HEX64 = /^[0-9a-f]{64}$/;

export class NotAnImageSnapshotError extends Error {
  constructor(id: string) {
    super(`snapshot ${id.slice(0, 8)} is a file snapshot, not an image: restore it without --image`);
    this.name = 'NotAnImageSnapshotError';
  }
}

/** The validated image part of a snapshot; throws if the snapshot is not an image. */
export function imageInfo(s: Snapshot, id = ''): ImageInfo {
  if (s.kind !== 'image' || !s.image) throw new NotAnImageSnapshotError(id);
  const i = s.image as unknown as ImageInfo;
  const label = `snapshots/${id}`;
  if (!Number.isSafeInteger(i.size) || i.size < 0) throw new CorruptObjectError(label, `image has a bad size ${i.size}`);
  if (typeof i.mapRoot !== 'string' || !HEX64.test(i.mapRoot)) throw new CorruptObjectError(label, 'image has a bad map root id');
  if (i.mode !== 'plain' && i.mode !== 'fs') throw new CorruptObjectError(label, `image has unknown mode ${i.mode}`);
  if (!Array.isArray(i.fileSystems)) throw new CorruptObjectError(label, 'image has no file-system list');
  return i;
}
