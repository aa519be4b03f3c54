import { mftRefRecord, safeU64, u16, u32, u8, utf16 } from './bytes.js';
import { parseRuns, type DataRun } from './runs.js';

export const AT_STANDARD_INFORMATION = 0x10;
export const AT_ATTRIBUTE_LIST = 0x20;
export const AT_FILE_NAME = 0x30;
export const AT_DATA = 0x80;
export const AT_INDEX_ROOT = 0x90;
export const AT_INDEX_ALLOCATION = 0xa0;
export const AT_BITMAP = 0xb0;
export const AT_REPARSE_POINT = 0xc0;
const AT_END = 0xffffffff;

export const ATTR_FLAG_COMPRESSED = 0x0001;
export const ATTR_FLAG_ENCRYPTED = 0x4000;

export interface Attribute {
  type: number;
  name: string;
  flags: number;
  /** Resident value; undefined for non-resident attributes. */
  value?: Uint8Array;
  /** Non-resident part: runs of this segment, first VCN, and (in the first segment) sizes. */
  runs?: DataRun[];
  startVcn: number;
  dataSize: number;
  initializedSize: number;
  /** log2 of clusters per compression unit (0 = not compressed). */
  compressionUnit: number;
}

export interface MftRecord {
  inUse: boolean;
  isDirectory: boolean;
  sequence: number;
  /** Record number of the base record (0 when this is a base record). */
  baseRecord: number;
  attributes: Attribute[];
}

const MAX_ATTRIBUTES = 512;

/** Parses a FILE record whose fixups are already applied; damage is reported through `warn`. */
export function parseMftRecord(rec: Uint8Array, totalClusters: number, warn: (message: string) => void): MftRecord {
  const flags = u16(rec, 22);
  const out: MftRecord = {
    inUse: (flags & 0x01) !== 0,
    isDirectory: (flags & 0x02) !== 0,
    sequence: u16(rec, 16),
    baseRecord: mftRefRecord(rec, 32),
    attributes: [],
  };
  const used = Math.min(u32(rec, 24), rec.length);
  let pos = u16(rec, 20);
  while (out.attributes.length < MAX_ATTRIBUTES) {
    if (pos + 8 > used || pos % 8 !== 0) {
      warn('attribute list of the record runs past its end');
      break;
    }
    const type = u32(rec, pos);
    if (type === AT_END) break;
    const length = u32(rec, pos + 4);
    if (length < 24 || pos + length > used) {
      warn(`attribute 0x${type.toString(16)} has bad length ${length}`);
      break;
    }
    const attr = parseAttribute(rec.subarray(pos, pos + length), type, totalClusters, warn);
    if (attr) out.attributes.push(attr);
    pos += length;
  }
  return out;
}

function parseAttribute(a: Uint8Array, type: number, totalClusters: number, warn: (message: string) => void): Attribute | null {
  const nonResident = u8(a, 8) !== 0;
  const nameLength = u8(a, 9);
  const nameOffset = u16(a, 10);
  if (nameLength > 0 && nameOffset + nameLength * 2 > a.length) {
    warn(`attribute 0x${type.toString(16)} name out of bounds`);
    return null;
  }
  const name = nameLength ? utf16(a, nameOffset, nameLength) : '';
  const flags = u16(a, 12);
  if (!nonResident) {
    const valueLength = u32(a, 16);
    const valueOffset = u16(a, 20);
    if (valueOffset + valueLength > a.length) {
      warn(`resident attribute 0x${type.toString(16)} value out of bounds`);
      return null;
    }
    // A view, not a copy: each record buffer is read fresh and belongs to this parse.
    const value = a.subarray(valueOffset, valueOffset + valueLength);
    return { type, name, flags, value, startVcn: 0, dataSize: valueLength, initializedSize: valueLength, compressionUnit: 0 };
  }
  if (a.length < 64) {
    warn(`non-resident attribute 0x${type.toString(16)} too short`);
    return null;
  }
  const startVcn = safeU64(a, 16);
  const runsOffset = u16(a, 32);
  const dataSize = safeU64(a, 48);
  const initializedSize = safeU64(a, 56);
  if (startVcn === null || dataSize === null || initializedSize === null || runsOffset >= a.length) {
    warn(`non-resident attribute 0x${type.toString(16)} has impossible sizes`);
    return null;
  }
  const { runs, error } = parseRuns(a, runsOffset, a.length, startVcn, totalClusters);
  if (error) warn(`attribute 0x${type.toString(16)}: ${error}`);
  return { type, name, flags, runs, startVcn, dataSize, initializedSize: Math.min(initializedSize, dataSize), compressionUnit: u8(a, 34) };
}

export interface AttributeListEntry {
  type: number;
  name: string;
  startVcn: number;
  record: number;
}

/** Entries of an $ATTRIBUTE_LIST value. */
export function parseAttributeList(v: Uint8Array, warn: (message: string) => void): AttributeListEntry[] {
  const out: AttributeListEntry[] = [];
  let pos = 0;
  while (pos + 26 <= v.length && out.length < 65536) {
    const length = u16(v, pos + 4);
    if (length < 26 || pos + length > v.length) {
      warn('malformed attribute list entry');
      break;
    }
    const nameLength = u8(v, pos + 6);
    const nameOffset = u8(v, pos + 7);
    const startVcn = safeU64(v, pos + 8);
    if (startVcn === null || nameOffset + nameLength * 2 > length) {
      warn('malformed attribute list entry');
      break;
    }
    out.push({
      type: u32(v, pos),
      name: nameLength ? utf16(v, pos + nameOffset, nameLength) : '',
      startVcn,
      record: mftRefRecord(v, pos + 16),
    });
    pos += length;
  }
  return out;
}
