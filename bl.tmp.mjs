import { createBlobHasher } from './dist/crypto/blob-id.js';
const key = new Uint8Array(32).fill(1);
for (const kind of ['native', 'wasm']) {
  const h = await createBlobHasher(key, kind);
  for (const size of [4096, 65536, 1 << 20]) {
    const buf = new Uint8Array(size).fill(3); const n = Math.floor((512 << 20) / size);
    h(buf); const t = process.hrtime.bigint(); for (let i = 0; i < n; i++) h(buf);
    const s = Number(process.hrtime.bigint() - t) / 1e9; console.log(kind, size, ((n * size) / s / 1e9).toFixed(2), 'GB/s');
  }
}
