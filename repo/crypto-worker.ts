/** Worker thread of CryptoPool: verifies packs and opens blobs handed to it. */
import { parentPort, workerData } from 'node:worker_threads';
import { createBlobHasher } from '../crypto/blob-id.js';
import { openStoredBlob } from './blob-open.js';
import type { CryptoReply, CryptoRequest } from './crypto-protocol.js';
import { CorruptObjectError } from './errors/corrupt-object-error.js';
import { objectNameHere } from './hex.js';
import { verifyPackBytes } from './pack-verify.js';
import { exitWhenAsked } from './worker-exit.js';

const keys = workerData as { encryptKey: Uint8Array; blobIdKey: Uint8Array };
const hasher = createBlobHasher(keys.blobIdKey);
const port = parentPort!;

exitWhenAsked(port);
port.on('message', async (m: CryptoRequest) => {
  const hash = await hasher;
  let reply: CryptoReply;
  const transfer: ArrayBuffer[] = [];
  try {
    if (m.op === 'verify-pack') {
      reply = { op: 'verdict', task: m.task, verdict: verifyPackBytes(keys.encryptKey, hash, m.pack, m.bytes) };
    } else if (m.op === 'name') {
      reply = { op: 'named', task: m.task, name: objectNameHere(m.bytes), bytes: m.bytes };
      transfer.push(m.bytes.buffer as ArrayBuffer);
    } else {
      const plain = openStoredBlob(keys.encryptKey, hash, m.entry, m.stored);
      reply = { op: 'plain', task: m.task, plain };
      if (plain.byteOffset === 0 && plain.byteLength === plain.buffer.byteLength) transfer.push(plain.buffer as ArrayBuffer);
    }
  } catch (err) {
    reply = err instanceof CorruptObjectError ? { op: 'corrupt', task: m.task, object: err.object, detail: err.detail } : { op: 'failed', task: m.task, message: String((err as Error)?.message ?? err) };
  }
  port.postMessage(reply, transfer);
});
