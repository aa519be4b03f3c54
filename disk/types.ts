/**
 * What every file-system reader in disk/ returns. Readers are read-only, work over a
 * ReadAt, and must survive damaged input: every loop is bounded, and a problem either
 * becomes a warning (the entry is skipped) or a DiskFormatError, never a hang or crash.
 */
import type { ReadAt } from './source.js';

export type NodeType = 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket';

export interface DiskNode {
  /** Stable identity inside this file system (inode number, MFT record, first cluster...). */
  id: number;
  /** Raw name bytes (UTF-8 for file systems that store UTF-16 or code-page names). */
  name: Uint8Array;
  type: NodeType;
  /** Permission bits (07777), without the file-type bits. */
  mode: number;
  uid: number;
  gid: number;
  /** Logical size in bytes. */
  size: number;
  mtimeNs: bigint;
  atimeNs: bigint;
  ctimeNs: bigint;
  nlink: number;
  /** For chardev/blockdev. */
  rdev?: { major: number; minor: number };
  xattrs?: Record<string, Uint8Array>;
}

/** A run of a file's content that lies as-is at `diskOffset` of the source. */
export interface PhysicalExtent {
  fileOffset: number;
  diskOffset: number;
  length: number;
}

export interface ByteRange {
  offset: number;
  length: number;
}

export interface FileSystem {
  readonly type: 'ext' | 'fat' | 'ntfs';
  /** The root directory. */
  root(): DiskNode;
  /** Entries of a directory, without `.` and `..`. */
  list(dir: DiskNode): Promise<DiskNode[]>;
  /**
   * Where the file's bytes lie on the source, sorted by fileOffset; holes are absent.
   * null when the content is not a plain mapping (inline, resident or compressed data):
   * then use readFile.
   */
  extents(file: DiskNode): Promise<PhysicalExtent[] | null>;
  /** Logical content; holes read as zeros; never reads past file size. */
  readFile(file: DiskNode, offset: number, length: number): Promise<Uint8Array>;
  readlink(link: DiskNode): Promise<Uint8Array>;
  /** Byte ranges the file system marks in use (metadata included), sorted, merged. */
  usedRanges(): Promise<ByteRange[]>;
}

export interface OpenOptions {
  /** Called for damage the reader skipped over; the reader goes on. */
  onWarning?: (message: string) => void;
}

export type FileSystemProbe = (src: ReadAt, opts?: OpenOptions) => Promise<FileSystem | null>;

export class DiskFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiskFormatError';
  }
}
