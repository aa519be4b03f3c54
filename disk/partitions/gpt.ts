/** GUID partition table: pure parsing of a header sector and an entry array. */
import { crc32 } from 'node:zlib';
import { u32, u64, slice, isAllZero } from '../bytes.js';

export interface GptHeader {
  myLba: number;
  alternateLba: number;
  firstUsableLba: number;
  lastUsableLba: number;
  entriesLba: number;
  entryCount: number;
  entrySize: number;
  entriesCrc: number;
}

export interface GptEntry {
  index: number;
  typeGuid: string;
  firstLba: number;
  lastLba: number;
  name: string;
}

/** Entry arrays are 16 KiB in practice; anything far larger is damage, not a table. */
export const MAX_ENTRIES_BYTES = 1 << 20;
const SIGNATURE = 'EFI PART';

export function hasGptSignature(sector: Uint8Array): boolean {
  return sector.length >= 8 && Buffer.from(sector.subarray(0, 8)).toString('latin1') === SIGNATURE;
}

/** The header at `expectedLba`, or a string saying why it is not valid. */
export function parseGptHeader(sector: Uint8Array, expectedLba: number): GptHeader | string {
  if (!hasGptSignature(sector)) return 'no "EFI PART" signature';
  const headerSize = u32(sector, 12);
  if (headerSize < 92 || headerSize > sector.length) return `bad header size ${headerSize}`;
  const copy = Uint8Array.from(sector.subarray(0, headerSize));
  copy.fill(0, 16, 20);
  if (crc32(copy) !== u32(sector, 16)) return 'header CRC32 mismatch';
  const fields = [24, 32, 40, 48, 72].map((off) => u64(sector, off));
  if (fields.some((f) => f === null)) return 'LBA field out of range';
  const [myLba, alternateLba, firstUsableLba, lastUsableLba, entriesLba] = fields as number[];
  if (myLba !== expectedLba) return `header says it is at LBA ${myLba}, found at ${expectedLba}`;
  const entryCount = u32(sector, 80);
  const entrySize = u32(sector, 84);
  if (entrySize < 128 || entrySize % 8 !== 0) return `bad entry size ${entrySize}`;
  if (entryCount * entrySize > MAX_ENTRIES_BYTES) return `entry array of ${entryCount} x ${entrySize} bytes is too large`;
  if (firstUsableLba > lastUsableLba) return 'first usable LBA after last usable LBA';
  return { myLba, alternateLba, firstUsableLba, lastUsableLba, entriesLba, entryCount, entrySize, entriesCrc: u32(sector, 88) };
}

export function entriesCrcMatches(entries: Uint8Array, header: GptHeader): boolean {
  return entries.length === header.entryCount * header.entrySize && crc32(entries) === header.entriesCrc;
}

export function parseGptEntries(entries: Uint8Array, header: GptHeader, warn: (m: string) => void): GptEntry[] {
  const out: GptEntry[] = [];
  for (let i = 0; i < header.entryCount; i++) {
    const e = slice(entries, i * header.entrySize, header.entrySize);
    const type = e.subarray(0, 16);
    if (isAllZero(type)) continue;
    const firstLba = u64(e, 32);
    const lastLba = u64(e, 40);
    if (firstLba === null || lastLba === null || firstLba > lastLba) {
      warn(`GPT entry ${i + 1} has an invalid LBA range; skipped`);
      continue;
    }
    out.push({ index: i, typeGuid: formatGuid(type), firstLba, lastLba, name: utf16Name(e.subarray(56, 128)) });
  }
  return out;
}

/** GUIDs are stored with their first three fields little-endian. */
export function formatGuid(b: Uint8Array): string {
  const hex = (from: number, to: number, reverse: boolean) => {
    const part = Array.from(b.subarray(from, to));
    if (reverse) part.reverse();
    return part.map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)].join('-');
}

function utf16Name(raw: Uint8Array): string {
  let end = 0;
  while (end + 1 < raw.length && (raw[end] | raw[end + 1]) !== 0) end += 2;
  return Buffer.from(raw.subarray(0, end)).toString('utf16le');
}
