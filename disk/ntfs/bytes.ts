/** Little-endian field readers that never read outside the buffer (missing bytes are 0). */
export const u8 = (b: Uint8Array, o: number): number => b[o] ?? 0;
export const u16 = (b: Uint8Array, o: number): number => u8(b, o) | (u8(b, o + 1) << 8);
export const u32 = (b: Uint8Array, o: number): number => (u16(b, o) | (u16(b, o + 2) << 16)) >>> 0;
export const u64 = (b: Uint8Array, o: number): bigint => BigInt(u32(b, o)) | (BigInt(u32(b, o + 4)) << 32n);

/** A 64-bit size or position as a number, or null when it cannot be a real one. */
export function safeU64(b: Uint8Array, o: number): number | null {
  const v = u64(b, o);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;
}

/** The 48-bit record number of an MFT reference (the top 16 bits are a sequence number). */
export const mftRefRecord = (b: Uint8Array, o: number): number => u32(b, o) + u16(b, o + 4) * 0x100000000;
export const mftRefSequence = (b: Uint8Array, o: number): number => u16(b, o + 6);

export function utf16(b: Uint8Array, o: number, units: number): string {
  const end = Math.min(b.length, o + units * 2);
  return Buffer.from(b.buffer, b.byteOffset + o, Math.max(0, end - o) & ~1).toString('utf16le');
}

const FILETIME_UNIX_EPOCH = 116444736000000000n;

/** Windows FILETIME (100 ns ticks since 1601) to nanoseconds since the Unix epoch. */
export function filetimeToNs(b: Uint8Array, o: number): bigint {
  return (u64(b, o) - FILETIME_UNIX_EPOCH) * 100n;
}
