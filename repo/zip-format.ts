/**
 * ZIP records (PKWARE APPNOTE 6.3), for `cairn dump --archive zip`. Pure: the caller
 * writes a local header, the entry's data, its data descriptor, and at the end the central
 * directory. Every entry is written as ZIP64 (sizes and offsets in 8 bytes), so files over
 * 4 GiB and archives of any size need no second code path; unzip, 7-Zip, Python and
 * Windows read it.
 */
import { deflateRawSync, constants as zlib } from 'node:zlib';
import { encodeBytes } from './tree.js';

export interface ZipEntry {
  /** Path in the archive, relative; a directory's ends in a slash. */
  name: Buffer;
  /** Unix mode with the file type bits (S_IFDIR, S_IFLNK, S_IFREG). */
  mode: number;
  mtimeNs: bigint;
  /** Stored for directories and symlinks, deflated for files. */
  deflated: boolean;
}

export interface WrittenEntry extends ZipEntry {
  offset: number;
  crc: number;
  size: number;
  compressedSize: number;
}

const LOCAL = 0x04034b50;
const DESCRIPTOR = 0x08074b50;
const CENTRAL = 0x02014b50;
const END64 = 0x06064b50;
const END64_LOCATOR = 0x07064b50;
const END = 0x06054b50;
/** 4.5: ZIP64. Made by 3 (Unix), so the mode in the external attributes counts. */
const VERSION = 45;
const MADE_BY = (3 << 8) | VERSION;
/** Bit 3: sizes and CRC follow the data; bit 11: the name is UTF-8 (not set for one that is not). */
function flags(name: Buffer): number {
  return (1 << 3) | (encodeBytes(name).raw === undefined ? 1 << 11 : 0);
}
const MAX32 = 0xffffffff;

export function localHeader(e: ZipEntry): Buffer {
  // ZIP64 extra field with both sizes zero: the descriptor carries them, in 8 bytes.
  const extra = Buffer.concat([zip64Extra([0, 0]), timeExtra(e.mtimeNs)]);
  const h = Buffer.alloc(30);
  h.writeUInt32LE(LOCAL, 0);
  h.writeUInt16LE(VERSION, 4);
  h.writeUInt16LE(flags(e.name), 6);
  h.writeUInt16LE(e.deflated ? 8 : 0, 8);
  writeDosTime(h, 10, e.mtimeNs);
  h.writeUInt32LE(0, 14);
  h.writeUInt32LE(MAX32, 18);
  h.writeUInt32LE(MAX32, 22);
  h.writeUInt16LE(e.name.length, 26);
  h.writeUInt16LE(extra.length, 28);
  return Buffer.concat([h, e.name, extra]);
}

export function dataDescriptor(w: WrittenEntry): Buffer {
  const d = Buffer.alloc(24);
  d.writeUInt32LE(DESCRIPTOR, 0);
  d.writeUInt32LE(w.crc, 4);
  d.writeBigUInt64LE(BigInt(w.compressedSize), 8);
  d.writeBigUInt64LE(BigInt(w.size), 16);
  return d;
}

export function centralDirectory(entries: WrittenEntry[], offset: number): Buffer {
  const records = entries.map((w) => {
    const extra = Buffer.concat([zip64Extra([w.size, w.compressedSize, w.offset]), timeExtra(w.mtimeNs)]);
    const h = Buffer.alloc(46);
    h.writeUInt32LE(CENTRAL, 0);
    h.writeUInt16LE(MADE_BY, 4);
    h.writeUInt16LE(VERSION, 6);
    h.writeUInt16LE(flags(w.name), 8);
    h.writeUInt16LE(w.deflated ? 8 : 0, 10);
    writeDosTime(h, 12, w.mtimeNs);
    h.writeUInt32LE(w.crc, 16);
    h.writeUInt32LE(MAX32, 20);
    h.writeUInt32LE(MAX32, 24);
    h.writeUInt16LE(w.name.length, 28);
    h.writeUInt16LE(extra.length, 30);
    // Comment length, disk number, internal attributes: 0.
    h.writeUInt32LE(((w.mode & 0xffff) << 16) >>> 0, 38);
    h.writeUInt32LE(MAX32, 42);
    return Buffer.concat([h, w.name, extra]);
  });
  const dir = Buffer.concat(records);
  const end64 = Buffer.alloc(56);
  end64.writeUInt32LE(END64, 0);
  end64.writeBigUInt64LE(44n, 4);
  end64.writeUInt16LE(MADE_BY, 12);
  end64.writeUInt16LE(VERSION, 14);
  end64.writeBigUInt64LE(BigInt(entries.length), 24);
  end64.writeBigUInt64LE(BigInt(entries.length), 32);
  end64.writeBigUInt64LE(BigInt(dir.length), 40);
  end64.writeBigUInt64LE(BigInt(offset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(END64_LOCATOR, 0);
  locator.writeBigUInt64LE(BigInt(offset + dir.length), 8);
  locator.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END, 0);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(MAX32, 12);
  end.writeUInt32LE(MAX32, 16);
  return Buffer.concat([dir, end64, locator, end]);
}

/**
 * One piece of a file's deflate stream. Each piece is compressed by itself and ends on a
 * byte boundary (a sync flush), so pieces join into one valid stream; `last` closes it.
 */
export function deflatePiece(data: Uint8Array, last: boolean): Buffer {
  return deflateRawSync(data, { finishFlush: last ? zlib.Z_FINISH : zlib.Z_SYNC_FLUSH });
}

function zip64Extra(values: number[]): Buffer {
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
  return b;
}

/** The extended timestamp field (0x5455): the mtime in Unix seconds, as Info-ZIP writes it. */
function timeExtra(mtimeNs: bigint): Buffer {
  const b = Buffer.alloc(9);
  b.writeUInt16LE(0x5455, 0);
  b.writeUInt16LE(5, 2);
  b.writeUInt8(1, 4);
  b.writeInt32LE(Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Number(mtimeNs / 1_000_000_000n))), 5);
  return b;
}

/** MS-DOS time and date (local time, 2-second steps, 1980 to 2107), which every reader knows. */
function writeDosTime(h: Buffer, at: number, mtimeNs: bigint): void {
  const d = new Date(Number(mtimeNs / 1_000_000n));
  const year = Math.min(2107, Math.max(1980, d.getFullYear()));
  const time = (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1);
  const date = ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate();
  h.writeUInt16LE(time, at);
  h.writeUInt16LE(year === d.getFullYear() ? date : (year - 1980) << 9 | (1 << 5) | 1, at + 2);
}
