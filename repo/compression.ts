import { Compressor, Decompressor } from 'zstd-napi';

/** zstd level 3: restic's "auto" level; fast enough not to slow a backup, and a fair ratio. */
const LEVEL = 3;

let compressor: Compressor | undefined;
let decompressor: Decompressor | undefined;

/** zstd-compress; null when compression does not shrink the data (store it raw). */
export function compressIfSmaller(data: Uint8Array): Uint8Array | null {
  if (data.length < 64) return null;
  if (!compressor) {
    compressor = new Compressor();
    compressor.setParameters({ compressionLevel: LEVEL });
  }
  const out = compressor.compress(data);
  return out.length < data.length ? out : null;
}

export function decompress(data: Uint8Array, expectedLength?: number): Uint8Array {
  decompressor ??= new Decompressor();
  const out = decompressor.decompress(data);
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new Error(`decompressed to ${out.length} bytes, expected ${expectedLength}`);
  }
  return out;
}
