/** Runs one Argon2id derivation for crypto/kdf.ts and exits, releasing its memory. */
import { parentPort, workerData } from 'node:worker_threads';
import { argon2id } from 'hash-wasm';

const d = workerData as { password: string; salt: Uint8Array; memoryKiB: number; iterations: number; parallelism: number; hashLength: number };
const key = await argon2id({
  password: d.password,
  salt: d.salt,
  memorySize: d.memoryKiB,
  iterations: d.iterations,
  parallelism: d.parallelism,
  hashLength: d.hashLength,
  outputType: 'binary',
});
parentPort!.postMessage(key, [key.buffer as ArrayBuffer]);
