/**
 * Writes an image snapshot back: into a file (holes stay holes, the file is sparse) or
 * onto a block device (holes are written as zeros, and a device smaller than the image
 * is refused before anything is written). --verify re-reads what was written.
 */
import { promises as fs, constants as fsc } from 'node:fs';
import { createHash } from 'node:crypto';
import { openFileSource } from '../disk/file-source.js';
import { isAllZero } from '../chunker/zero.js';
import { StoredImageMap } from './image-map-store.js';
import type { MapExtent } from './image-map.js';
import { BlobCache } from './image-reader.js';
import { imageInfo } from './image-snapshot.js';
import { Repository } from './repository.js';
import { Snapshot } from './snapshot.js';

export interface ImageRestoreOptions {
  verify?: boolean;
  onProgress?: (p: { bytes: number; total: number; phase: 'write' | 'verify' }) => void;
}

export interface ImageRestoreResult {
  size: number;
  /** Bytes of data written (holes in a file are not written). */
  written: number;
  verified: boolean;
  device: boolean;
}

export class TargetTooSmallError extends Error {
  constructor(target: string, have: number, need: number) {
    super(`${target} holds ${have} bytes, the image needs ${need}: pick a device at least as large as the image`);
    this.name = 'TargetTooSmallError';
  }
}

export class VerifyError extends Error {
  constructor(target: string, offset: number, length: number) {
    super(`verification failed: ${target} differs from the snapshot in bytes [${offset}, ${offset + length})`);
    this.name = 'VerifyError';
  }
}

/** Blobs loaded ahead of the writer. */
const AHEAD = 16;
const ZERO_PIECE = 8 * 1024 * 1024;

export async function restoreImage(repo: Repository, snapshot: Snapshot, target: string, opts: ImageRestoreOptions = {}, id = ''): Promise<ImageRestoreResult> {
  const info = imageInfo(snapshot, id);
  const map = await StoredImageMap.load(repo, info.mapRoot);
  const size = map.size;
  const st = await fs.stat(target).catch(() => null);
  const device = !!st?.isBlockDevice();
  if (st?.isDirectory()) throw new Error(`${target} is a directory: name an image file or a block device with --target`);
  if (device) {
    const src = await openFileSource(target);
    const have = src.size;
    await src.close();
    if (have < size) throw new TargetTooSmallError(target, have, size);
  }
  const fh = await fs.open(target, device ? fsc.O_WRONLY : fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, 0o600);
  const blobs = new BlobCache(repo);
  const digests: Buffer[] = [];
  let written = 0;
  let done = 0;
  const progress = (phase: 'write' | 'verify') => opts.onProgress?.({ bytes: done, total: size, phase });
  try {
    let pos = 0;
    const queue: { e: MapExtent; data: Promise<Uint8Array> }[] = [];
    const writeNext = async () => {
      const { e, data } = queue.shift()!;
      if (device && e.imageOffset > pos) await writeZeros(fh, pos, e.imageOffset - pos);
      const slice = sliceOf(await data, e);
      await writeAll(fh, slice, e.imageOffset);
      if (opts.verify) digests.push(digest(slice));
      written += slice.length;
      pos = e.imageOffset + e.length;
      done = pos;
      progress('write');
    };
    for await (const e of map.all()) {
      queue.push({ e, data: blobs.get(e.blob) });
      if (queue.length >= AHEAD) await writeNext();
    }
    while (queue.length) await writeNext();
    if (device && pos < size) await writeZeros(fh, pos, size - pos);
    else if (!device) await fh.truncate(size);
    // A device is flushed before it is called restored; a file is left to the page cache, as cp does.
    if (device) await fh.sync();
  } finally {
    await fh.close();
  }
  if (opts.verify) await compareTarget(target, map, async (i) => digests[i], (b) => ((done = b), progress('verify')));
  return { size, written, verified: !!opts.verify, device };
}

/** Checks a file or device against an image snapshot; throws VerifyError at the first difference. */
export async function verifyImage(repo: Repository, snapshot: Snapshot, target: string, id = ''): Promise<void> {
  const map = await StoredImageMap.load(repo, imageInfo(snapshot, id).mapRoot);
  const blobs = new BlobCache(repo);
  await compareTarget(target, map, async (_, e) => digest(sliceOf(await blobs.get(e.blob), e)), () => {});
}

function sliceOf(blob: Uint8Array, e: MapExtent): Uint8Array {
  if (e.blobOffset + e.length > blob.length) throw new Error(`blob ${e.blob} is shorter than the image map says (${blob.length} bytes)`);
  return blob.subarray(e.blobOffset, e.blobOffset + e.length);
}

function digest(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

async function writeAll(fh: fs.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let at = 0;
  while (at < data.length) {
    const { bytesWritten } = await fh.write(data, at, data.length - at, position + at);
    if (bytesWritten === 0) throw new Error(`cannot write at byte ${position + at}: the target accepts no more data`);
    at += bytesWritten;
  }
}

async function writeZeros(fh: fs.FileHandle, offset: number, length: number): Promise<void> {
  const zeros = new Uint8Array(Math.min(ZERO_PIECE, length));
  for (let at = 0; at < length; at += zeros.length) await writeAll(fh, zeros.subarray(0, Math.min(zeros.length, length - at)), offset + at);
}

/** Re-reads the whole target: each extent against its digest, each hole must be zeros. */
async function compareTarget(target: string, map: StoredImageMap, expected: (i: number, e: MapExtent) => Promise<Buffer>, onProgress: (bytes: number) => void): Promise<void> {
  const src = await openFileSource(target);
  try {
    if (src.size < map.size) throw new VerifyError(target, src.size, map.size - src.size);
    const checkZeros = async (from: number, to: number) => {
      for (let at = from; at < to; at += ZERO_PIECE) {
        const n = Math.min(ZERO_PIECE, to - at);
        const got = await src.read(at, n);
        if (got.length !== n || !isAllZero(got)) throw new VerifyError(target, at, n);
      }
    };
    let pos = 0;
    let i = 0;
    for await (const e of map.all()) {
      await checkZeros(pos, e.imageOffset);
      const got = await src.read(e.imageOffset, e.length);
      if (got.length !== e.length || !digest(got).equals(await expected(i, e))) throw new VerifyError(target, e.imageOffset, e.length);
      i++;
      pos = e.imageOffset + e.length;
      onProgress(pos);
    }
    await checkZeros(pos, map.size);
    onProgress(map.size);
  } finally {
    await src.close();
  }
}
