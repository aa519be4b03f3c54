/** Worker thread for `check --read-data`: verifies packs handed to it (repo/pack-verify.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { createBlobHasher } from '../crypto/blob-id.js';
import { BlobEntry } from './blob.js';
import { verifyPackBytes } from './pack-verify.js';

const keys = workerData as { encryptKey: Uint8Array; blobIdKey: Uint8Array };
const hasher = createBlobHasher(keys.blobIdKey);

parentPort!.on('message', async (m: { task: number; pack: { id: string; blobs: BlobEntry[] }; bytes: Uint8Array }) => {
  try {
    const verdict = verifyPackBytes(keys.encryptKey, await hasher, m.pack, m.bytes);
    parentPort!.postMessage({ task: m.task, verdict });
  } catch (err) {
    parentPort!.postMessage({ task: m.task, error: String((err as Error)?.message ?? err) });
  }
});
