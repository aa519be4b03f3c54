/** LZNT1, the compression NTFS uses for compressed $DATA, in 4 KiB chunks. */

const CHUNK = 4096;

/**
 * Decompresses `src` into `out` (the compression unit's size). Stops at a zero chunk
 * header or the end of either buffer; returns an error message for malformed input.
 */
export function decompressLznt1(src: Uint8Array, out: Uint8Array): string | null {
  let sp = 0;
  let chunkStart = 0;
  while (sp + 2 <= src.length && chunkStart < out.length) {
    const header = src[sp] | (src[sp + 1] << 8);
    if (header === 0) break;
    const size = (header & 0x0fff) + 1;
    const end = sp + 2 + size;
    if (end > src.length) return 'LZNT1 chunk runs past the data';
    const chunkEnd = Math.min(out.length, chunkStart + CHUNK);
    if ((header & 0x8000) === 0) {
      out.set(src.subarray(sp + 2, sp + 2 + Math.min(size, chunkEnd - chunkStart)), chunkStart);
    } else {
      const err = decompressChunk(src, sp + 2, end, out, chunkStart, chunkEnd);
      if (err) return err;
    }
    sp = end;
    chunkStart += CHUNK;
  }
  return null;
}

function decompressChunk(src: Uint8Array, sp: number, end: number, out: Uint8Array, start: number, limit: number): string | null {
  let op = start;
  while (sp < end && op < limit) {
    const tags = src[sp++];
    for (let bit = 0; bit < 8 && sp < end && op < limit; bit++) {
      if ((tags & (1 << bit)) === 0) {
        out[op++] = src[sp++];
        continue;
      }
      if (sp + 2 > end) return 'LZNT1 token runs past the chunk';
      const token = src[sp] | (src[sp + 1] << 8);
      sp += 2;
      // The split between offset and length bits moves as the chunk fills.
      let lengthBits = 12;
      for (let p = op - start - 1; p >= 0x10; p >>= 1) lengthBits--;
      const length = (token & ((1 << lengthBits) - 1)) + 3;
      const back = (token >> lengthBits) + 1;
      if (back > op - start) return 'LZNT1 back-reference before the chunk start';
      for (let i = 0; i < length && op < limit; i++, op++) out[op] = out[op - back];
    }
  }
  return null;
}
