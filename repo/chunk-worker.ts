/**
 * Worker thread: takes a small file that a read worker read, reads a large file itself,
 * or is fed a stream piece by piece (disk images); cuts it into chunks, hashes them, asks
 * the main thread which chunks are new, and compresses and encrypts only those. Chunks
 * the repository already has cost a hash, never a compression or an encryption.
 */
import { parentPort, workerData } from 'node:worker_threads';
import fs from 'node:fs';
import { createBlobHasher } from '../crypto/blob-id.js';
import { StreamChunker, WindowPool, chunkBuffer } from '../chunker/stream-chunker.js';
import { ChunkerParams } from '../chunker/params.js';
import { sealBlob } from './blob-seal.js';
import { openSourceFile } from './source-file.js';
import { describeError, type WholeFile, type WorkerReply, type WorkerRequest, type WorkerInit } from './chunk-protocol.js';
import { exitWhenAsked } from './worker-exit.js';

const READ_SIZE = 4 * 1024 * 1024;
/** Chunks held between asking the main thread and sealing; bounds worker memory. */
const BATCH_BYTES = 8 * 1024 * 1024;
/** A file up to this size is sealed without asking which of its chunks are new. */
const WHOLE_FILE_BYTES = 1024 * 1024;

/**
 * The buffer large files are read into, reused from file to file: files run one at a time,
 * and StreamChunker copies what it is given. A fresh buffer per file left megabytes of
 * garbage per file for the GC.
 */
const readBuffer = Buffer.allocUnsafeSlow(READ_SIZE);
const windows = new WindowPool();

const init = workerData as WorkerInit;
const port = parentPort!;
const hashPromise = createBlobHasher(init.blobIdKey);
const answers = new Map<string, (need: boolean[]) => void>();
const streams = new Map<number, PieceQueue>();
let fileQueue: Promise<unknown> = Promise.resolve();

/** Pieces of a stream task, in arrival order; null marks the end. */
class PieceQueue {
  private readonly items: (Uint8Array | null)[] = [];
  private waiter?: () => void;

  put(item: Uint8Array | null) {
    this.items.push(item);
    this.waiter?.();
    this.waiter = undefined;
  }

  async take(): Promise<Uint8Array | null> {
    while (this.items.length === 0) await new Promise<void>((r) => (this.waiter = r));
    return this.items.shift()!;
  }
}

function onRequest(msg: WorkerRequest) {
  if (msg.op === 'need') {
    const key = `${msg.task}:${msg.batch}`;
    answers.get(key)?.(msg.need);
    answers.delete(key);
  } else if (msg.op === 'piece') {
    streams.get(msg.task)?.put(msg.data);
  } else if (msg.op === 'end') {
    streams.get(msg.task)?.put(null);
  } else {
    if (msg.op === 'stream') streams.set(msg.task, new PieceQueue());
    const run = () =>
      runTask(msg)
        .catch((err) => post({ op: 'done', task: msg.task, size: 0, error: describeError(err) }))
        .finally(() => streams.delete(msg.task));
    // Files run one at a time: each holds up to a file or a chunking window in memory,
    // and the main thread keeps enough queued to keep this worker busy. Streams are fed
    // piece by piece by the main thread, so they must not wait behind each other.
    if (msg.op === 'file') fileQueue = fileQueue.then(run);
    else void run();
  }
}

exitWhenAsked(port);
port.on('message', onRequest);
init.reader.on('message', onRequest);

function post(m: WorkerReply, transfer: ArrayBuffer[] = []) {
  port.postMessage(m, transfer);
}

/**
 * Small files finished in this turn of the event loop, sent together at its end: one
 * message per file was 62,000 postMessage calls, and as many message events on the
 * main thread, for the bench's first backup.
 */
const wholes: WholeFile[] = [];
let wholesTransfer: ArrayBuffer[] = [];

function postWhole(m: WholeFile) {
  if (wholes.length === 0) {
    setImmediate(() => {
      const transfer = wholesTransfer;
      wholesTransfer = [];
      post({ op: 'wholes', files: wholes.splice(0) }, transfer);
    });
  }
  wholes.push(m);
  for (const b of m.blobs) wholesTransfer.push(b.stored.buffer as ArrayBuffer);
}

async function runTask(msg: Extract<WorkerRequest, { op: 'file' | 'buffer' | 'stream' }>) {
  const hash = await hashPromise;
  const chunker = new StreamChunker(init.chunker as ChunkerParams, windows);
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  let batchNo = 0;
  let size = 0;

  const sendBatch = async () => {
    if (batch.length === 0) return;
    const chunks = batch;
    batch = [];
    batchBytes = 0;
    const ids = chunks.map((c) => hash(c));
    const b = batchNo++;
    const need = await new Promise<boolean[]>((resolve) => {
      answers.set(`${msg.task}:${b}`, resolve);
      post({ op: 'ids', task: msg.task, batch: b, ids, lengths: chunks.map((c) => c.length) });
    });
    const blobs = [];
    const transfer: ArrayBuffer[] = [];
    for (let i = 0; i < chunks.length; i++) {
      if (!need[i]) continue;
      const b = sealBlob(init.encryptKey, ids[i], chunks[i]);
      blobs.push(b);
      transfer.push(b.stored.buffer as ArrayBuffer);
    }
    post({ op: 'blobs', task: msg.task, batch: b, blobs }, transfer);
    // Hashed and sealed, and the task waited for this: no chunk is held any more.
    chunker.release();
  };

  const feed = async (piece: Uint8Array) => {
    size += piece.length;
    for (const c of chunker.push(piece)) {
      batch.push(c);
      batchBytes += c.length;
    }
    if (batchBytes >= BATCH_BYTES) await sendBatch();
  };

  if (msg.op === 'buffer') {
    // The worker owns a buffer sent to it, so it is cut in place, not copied into windows.
    size = msg.data.length;
    batch = size <= init.chunker.min ? (size ? [msg.data] : []) : chunkBuffer(msg.data, init.chunker);
  } else if (msg.op === 'stream') {
    const queue = streams.get(msg.task)!;
    for (let piece = await queue.take(); piece !== null; piece = await queue.take()) {
      await feed(piece);
      post({ op: 'consumed', task: msg.task });
    }
  } else {
    // Synchronous reads: this worker streams one large file at a time anyway, and the
    // kernel reads ahead of a sequential reader.
    const fd = openSourceFile(msg.path, msg.owner);
    try {
      for (;;) {
        const n = fs.readSync(fd, readBuffer, 0, READ_SIZE, null);
        if (n === 0) break;
        await feed(readBuffer.subarray(0, n));
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  for (const c of chunker.finish()) batch.push(c);
  if (batchNo === 0 && size <= WHOLE_FILE_BYTES) {
    const ids = batch.map((c) => hash(c));
    const blobs = batch.map((c, i) => sealBlob(init.encryptKey, ids[i], c));
    postWhole({ op: 'whole', task: msg.task, ids, lengths: batch.map((c) => c.length), blobs, size });
    chunker.release();
    return;
  }
  await sendBatch();
  post({ op: 'done', task: msg.task, size });
}
