/** Messages between the restorer (main thread) and its restore workers. */

export interface RestoreWorkerInit {
  encryptKey: Uint8Array;
  blobIdKey: Uint8Array;
  /** Restore owners too (only root may). */
  chown: boolean;
}

/** A file one worker owns: every write to it goes through that worker, in order. */
export interface FileSpec {
  file: number;
  /** One latin1 character per byte of the path: compact in a message, unlike a pooled Buffer. */
  path: string;
  /** Bytes of content the snapshot lists; the file is cut (or extended as a hole) to this. */
  contentLength: number;
  /** Size the snapshot records; a mismatch is reported after writing. */
  size: number;
  /** Blob writes to expect, failed ones included; the file is finished after the last. */
  writes: number;
  mode: number;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
}

export interface WireBlob {
  id: Uint8Array;
  pack: string;
  /** Offset of the stored blob inside the range sent. */
  offset: number;
  length: number;
  rawLength: number;
  compressed: boolean;
  targets: { file: number; offset: number }[];
}

export type RestoreRequest =
  | { op: 'files'; files: FileSpec[] }
  | { op: 'range'; seq: number; stored: Uint8Array; blobs: WireBlob[] }
  /** Writes that will never come (their pack could not be read). */
  | { op: 'failed'; file: number; count: number; error: string };

export type RestoreReply =
  | { op: 'range-done'; seq: number }
  /** Files finished while handling one request, in one message rather than one each. */
  | { op: 'files-done'; files: FileDone[] };

export interface FileDone {
  file: number;
  error?: string;
  code?: string;
}
