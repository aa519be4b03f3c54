/**
 * Throughput of the per-byte hot path: sealing, opening, blob ids, chunking, zero checks.
 * Run: npm run build && node dist/bench/crypto-speed.js [MiB]   (default 256 MiB of random data)
 * Crypto runs per 1 MiB blob, the default average chunk size.
 */
import { randomBytes } from 'node:crypto';
import sodium from 'libsodium-wrappers-sumo';
import { seal, open } from '../crypto/aead.js';
import { createBlobHasher } from '../crypto/blob-id.js';
import { StreamChunker, chunkBuffer } from '../chunker/stream-chunker.js';
import { DEFAULT_CHUNKER } from '../chunker/params.js';
import { isAllZero } from '../chunker/zero.js';

const MiB = 1 << 20;
const total = Number(process.argv[2] ?? 256) * MiB;
const data = new Uint8Array(total);
for (let off = 0; off < total; off += 64 * MiB) data.set(randomBytes(Math.min(64 * MiB, total - off)), off);
const blobs = Array.from({ length: Math.ceil(total / MiB) }, (_, i) => data.subarray(i * MiB, (i + 1) * MiB));
const key = new Uint8Array(randomBytes(32));

function measure(name: string, bytes: number, run: () => void): void {
  const t0 = process.hrtime.bigint();
  run();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${name.padEnd(36)} ${(bytes / MiB / s).toFixed(0).padStart(6)} MiB/s`);
}

let sealed: Uint8Array[] = [];
measure('seal (native XChaCha20-Poly1305)', total, () => { sealed = blobs.map((b) => seal(key, b)); });
measure('open', total, () => { for (const s of sealed) open(key, s); });

await sodium.ready;
const nonce = new Uint8Array(24);
measure('seal (libsodium WASM, for comparison)', total, () => {
  for (const b of blobs) sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(b, null, null, nonce, key);
});

const hash = await createBlobHasher(new Uint8Array(randomBytes(32)));
measure('blob id (keyed BLAKE3, hash-wasm)', total, () => { for (const b of blobs) hash(b); });

measure('StreamChunker, 1 MiB pushes', total, () => {
  const c = new StreamChunker(DEFAULT_CHUNKER);
  for (const b of blobs) c.push(b);
  c.finish();
});
measure('chunkBuffer', total, () => { chunkBuffer(data, DEFAULT_CHUNKER); });

const zeros = new Uint8Array(total);
measure('isAllZero (all zeros)', total, () => { isAllZero(zeros); });
