/** Messages between the archiver (main thread) and its chunk workers. */
import type { ChunkerParams } from '../chunker/params.js';

export interface WorkerInit {
  encryptKey: Uint8Array;
  blobIdKey: Uint8Array;
  chunker: ChunkerParams;
}

export type WorkerRequest =
  | { op: 'file'; task: number; path: Uint8Array }
  | { op: 'buffer'; task: number; data: Uint8Array }
  /** A stream fed piece by piece from the main thread (image backups read a ReadAt). */
  | { op: 'stream'; task: number }
  | { op: 'piece'; task: number; data: Uint8Array }
  | { op: 'end'; task: number }
  | { op: 'need'; task: number; batch: number; need: boolean[] };

export interface SealedChunk {
  id: Uint8Array;
  stored: Uint8Array;
  rawLength: number;
  compressed: boolean;
}

export type WorkerReply =
  | { op: 'ids'; task: number; batch: number; ids: Uint8Array[]; lengths: number[] }
  | { op: 'blobs'; task: number; batch: number; blobs: SealedChunk[] }
  /**
   * A whole small file in one message: its ids, and every chunk already sealed. Asking
   * which chunks are new would cost two more messages per file, and sealing a small
   * chunk the repository turns out to have costs less than that.
   */
  | { op: 'whole'; task: number; ids: Uint8Array[]; lengths: number[]; blobs: SealedChunk[]; size: number }
  /** A stream piece was chunked; the main thread may send another. */
  | { op: 'consumed'; task: number }
  | { op: 'done'; task: number; size: number; error?: string };
