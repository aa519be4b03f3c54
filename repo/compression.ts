import { createRequire } from 'node:module';
import type * as zstdBinding from 'zstd-napi/binding.js';
import type { Decompressor } from 'zstd-napi';

type Zstd = { binding: typeof zstdBinding; Decompressor: typeof Decompressor };
let loaded: Zstd | undefined;

/**
 * zstd-napi, loaded on first use rather than with this module: loading it took 12 ms of
 * every start, before the key derivation could begin. Repository.open loads it while the
 * key is derived.
 */
export function loadCompression(): Zstd {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    loaded = { binding: require('zstd-napi/binding.js'), Decompressor: require('zstd-napi').Decompressor };
  }
  return loaded;
}

/** zstd level 3: restic's "auto" level; fast enough not to slow a backup, and a fair ratio. */
const LEVEL = 3;
/**
 * Largest output buffer kept for reuse (a chunk is at most 8 MiB). zstd's own wrapper
 * allocates a fresh compressBound-sized buffer per call above 128 KiB, which in a backup
 * is a megabyte of garbage per chunk for the GC, and page faults to fill it.
 */
const SCRATCH_MAX = 9 * 1024 * 1024;

let cctx: zstdBinding.CCtx | undefined;
let scratch = new Uint8Array(0);
let decompressor: Decompressor | undefined;

/**
 * zstd-compresses `data` and hands `use` the result, or null when compression does not
 * shrink it (store it raw). The compressed bytes live in a buffer that the next call
 * reuses, so `use` must copy what it keeps (sealing does).
 */
export function withCompressed<T>(data: Uint8Array, use: (packed: Uint8Array | null) => T): T {
  if (data.length < 64) return use(null);
  const zstd = loadCompression().binding;
  if (!cctx) {
    cctx = new zstd.CCtx();
    cctx.setParameter(zstd.CParameter.compressionLevel, LEVEL);
  }
  const bound = zstd.compressBound(data.length);
  let out = scratch;
  if (bound > out.length) {
    out = new Uint8Array(bound);
    if (bound <= SCRATCH_MAX) scratch = out;
  }
  const n = cctx.compress2(out, data);
  return use(n < data.length ? out.subarray(0, n) : null);
}

let dctx: zstdBinding.DCtx | undefined;
let plainScratch = new Uint8Array(0);

/**
 * Decompresses `data`, whose plaintext is `rawLength` bytes, into a buffer that the next
 * call overwrites, and returns a view of it: for callers that only write or check the
 * plaintext (restore, check --read-data) and copy what they keep. A fresh buffer per blob
 * was a gigabyte and a half of new memory in the bench's restore.
 */
export function decompressReusing(data: Uint8Array, rawLength: number): Uint8Array {
  dctx ??= new (loadCompression().binding.DCtx)();
  let out = plainScratch;
  if (rawLength > out.length) {
    out = new Uint8Array(rawLength);
    if (rawLength <= SCRATCH_MAX) plainScratch = out;
  }
  const n = dctx.decompress(out, data);
  if (n !== rawLength) throw new Error(`decompressed to ${n} bytes, expected ${rawLength}`);
  return out.subarray(0, n);
}

export function decompress(data: Uint8Array, expectedLength?: number): Uint8Array {
  decompressor ??= new (loadCompression().Decompressor)();
  const out = decompressor.decompress(data);
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new Error(`decompressed to ${out.length} bytes, expected ${expectedLength}`);
  }
  return out;
}
