/** Messages between the archiver (main thread), its chunk workers and its read workers. */
import type { MessagePort } from 'node:worker_threads';
import type { ChunkerParams } from '../chunker/params.js';
import type { SealedBlob } from './blob-seal.js';

/** The text a worker reports for a file it could not read. */
export function describeError(err: unknown): string {
  return String((err as Error)?.message ?? err);
}

/** Files up to this size are read whole by a read worker; larger ones stream through a chunk worker. */
export const WHOLE_READ_BYTES = 4 * 1024 * 1024;

export interface WorkerInit {
  encryptKey: Uint8Array;
  blobIdKey: Uint8Array;
  chunker: ChunkerParams;
  /** The port on which this worker's read worker sends it the files it read. */
  reader: MessagePort;
}

export interface ReaderInit {
  /** The port to the chunk worker this read worker reads for. */
  worker: MessagePort;
}

/** To a read worker: read this file and hand it to its chunk worker. */
export interface ReadRequest {
  task: number;
  /**
   * The path's bytes, one latin1 character each: a string crosses threads as a copy of
   * its characters, where each Uint8Array cost a backing store on both sides.
   */
  path: string;
  /** What lstat saw; a file that has grown past it is left to the chunk worker to stream. */
  size: number;
  /** The file's uid as lstat saw it: whether to open it with O_NOATIME (source-file.ts). */
  owner: number;
}

export type WorkerRequest =
  /** `path` as in ReadRequest. */
  | { op: 'file'; task: number; path: string; owner: number }
  /** A small file, read whole by a read worker. */
  | { op: 'buffer'; task: number; data: Uint8Array }
  /** A stream fed piece by piece from the main thread (image backups read a ReadAt). */
  | { op: 'stream'; task: number }
  | { op: 'piece'; task: number; data: Uint8Array }
  | { op: 'end'; task: number }
  | { op: 'need'; task: number; batch: number; need: boolean[] };

export type WholeFile = { op: 'whole'; task: number; ids: Uint8Array[]; lengths: number[]; blobs: SealedBlob[]; size: number };

export type WorkerReply =
  | { op: 'ids'; task: number; batch: number; ids: Uint8Array[]; lengths: number[] }
  | { op: 'blobs'; task: number; batch: number; blobs: SealedBlob[] }
  /**
   * A whole small file in one message: its ids, and every chunk already sealed. Asking
   * which chunks are new would cost two more messages per file, and sealing a small
   * chunk the repository turns out to have costs less than that.
   */
  | WholeFile
  /** Whole files finished in one turn of the worker's event loop, in one message. */
  | { op: 'wholes'; files: WholeFile[] }
  /** A stream piece was chunked; the main thread may send another. */
  | { op: 'consumed'; task: number }
  | { op: 'done'; task: number; size: number; error?: string };
