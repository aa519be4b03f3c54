/** Messages between the restorer (main thread) and its restore workers. */
import { BLOB_ID_BYTES } from '../crypto/blob-id.js';
import type { IndexedBlob } from './blob.js';

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

/**
 * The blobs of one pack range that one worker needs, as flat arrays rather than an object
 * per blob and per target: the bench's restore posted 63,000 of each, and serializing
 * and deserializing them cost the main thread and each worker about 0.1 s of CPU.
 */
export interface WireBlobs {
  pack: string;
  /** BLOB_FIELDS numbers per blob: see WireBlobsBuilder.target. */
  blobs: Float64Array;
  /** BLOB_ID_BYTES per blob. */
  ids: Uint8Array;
  /** Per target of every blob in turn: file, offset in the file. */
  targets: Float64Array;
}

/** Per blob: offset in the range sent, stored length, raw length, compressed (1 or 0), targets. */
const BLOB_FIELDS = 5;

/** Gathers one worker's share of a range, blob by blob, target by target. */
export class WireBlobsBuilder {
  private readonly blobs: number[] = [];
  private readonly ids: Uint8Array[] = [];
  private readonly targets: number[] = [];
  private last?: object;

  /** One place `blob` goes; the targets of a blob come one after another. */
  target(blob: { id: Uint8Array; offset: number; length: number; rawLength: number; compressed: boolean }, rangeStart: number, file: number, offset: number): void {
    if (this.last !== blob) {
      this.last = blob;
      this.ids.push(blob.id);
      this.blobs.push(blob.offset - rangeStart, blob.length, blob.rawLength, blob.compressed ? 1 : 0, 0);
    }
    this.blobs[this.blobs.length - 1]++;
    this.targets.push(file, offset);
  }

  get count(): number {
    return this.ids.length;
  }

  /** A copy of just these blobs' bytes out of `stored`, with their offsets moved to match. */
  compact(stored: Uint8Array): Uint8Array {
    const b = this.blobs;
    let total = 0;
    for (let i = 0; i < b.length; i += BLOB_FIELDS) total += b[i + 1];
    const out = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < b.length; i += BLOB_FIELDS) {
      out.set(stored.subarray(b[i], b[i] + b[i + 1]), at);
      b[i] = at;
      at += b[i + 1];
    }
    return out;
  }

  build(pack: string): WireBlobs {
    const ids = new Uint8Array(this.ids.length * BLOB_ID_BYTES);
    this.ids.forEach((id, i) => ids.set(id, i * BLOB_ID_BYTES));
    return { pack, blobs: Float64Array.from(this.blobs), ids, targets: Float64Array.from(this.targets) };
  }
}

/** How many blobs `w` holds. */
export function wireBlobCount(w: WireBlobs): number {
  return w.blobs.length / BLOB_FIELDS;
}

/** Blob `i` of `w` (its offset is within the range sent), and how many targets it has. */
export function wireBlob(w: WireBlobs, i: number): { entry: IndexedBlob; targets: number } {
  const b = i * BLOB_FIELDS;
  const id = w.ids.subarray(i * BLOB_ID_BYTES, (i + 1) * BLOB_ID_BYTES);
  return { entry: { type: 'data', id, pack: w.pack, offset: w.blobs[b], length: w.blobs[b + 1], rawLength: w.blobs[b + 2], compressed: w.blobs[b + 3] === 1 }, targets: w.blobs[b + 4] };
}

export type RestoreRequest =
  /** The first message a worker gets. */
  | { op: 'init'; init: RestoreWorkerInit }
  | { op: 'files'; files: FileSpec[] }
  | { op: 'range'; seq: number; stored: Uint8Array; blobs: WireBlobs }
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
