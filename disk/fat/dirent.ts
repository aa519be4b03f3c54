/** Pure parsing of FAT directory entries, including VFAT long names. */

export const ATTR_READ_ONLY = 0x01;
export const ATTR_VOLUME_ID = 0x08;
export const ATTR_DIRECTORY = 0x10;
const ATTR_LONG_NAME = 0x0f;
const LFN_MAX_ENTRIES = 20;

export interface FatDirEntry {
  name: string;
  attributes: number;
  firstCluster: number;
  size: number;
  /** Index of the short entry inside the directory (unique per directory). */
  index: number;
  createDate: number;
  createTime: number;
  createTenths: number;
  accessDate: number;
  writeDate: number;
  writeTime: number;
}

/** Code page 437, the OEM code page DOS short names are usually written in (upper half). */
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐' +
  '└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

function oemText(bytes: Uint8Array, lower: boolean): string {
  let s = '';
  for (const b of bytes) {
    let ch = b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80];
    if (lower && b >= 0x41 && b <= 0x5a) ch = ch.toLowerCase();
    s += ch;
  }
  return s.replace(/ +$/, '');
}

/** The 8.3 name, honouring the lowercase flags Windows NT keeps in the reserved byte. */
export function shortName(entry: Uint8Array): string {
  const raw = entry.slice(0, 11);
  if (raw[0] === 0x05) raw[0] = 0xe5;
  const base = oemText(raw.subarray(0, 8), (entry[12] & 0x08) !== 0);
  const ext = oemText(raw.subarray(8, 11), (entry[12] & 0x10) !== 0);
  return ext ? `${base}.${ext}` : base;
}

export function shortNameChecksum(entry: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + entry[i]) & 0xff;
  return sum;
}

const LFN_CHAR_OFFSETS = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

function lfnUnits(entry: Uint8Array): number[] {
  return LFN_CHAR_OFFSETS.map((o) => entry[o] | (entry[o + 1] << 8));
}

/** Joins the UTF-16 pieces of a long name; null when the padding is malformed. */
function joinLongName(units: number[]): string | null {
  const end = units.indexOf(0);
  const used = end < 0 ? units : units.slice(0, end);
  if (end >= 0 && units.slice(end + 1).some((u) => u !== 0xffff)) return null;
  if (used.length === 0) return null;
  return String.fromCharCode(...used);
}

interface PendingLongName {
  checksum: number;
  nextOrdinal: number;
  /** Pieces in physical order: the last part of the name comes first on disk. */
  pieces: number[][];
}

/**
 * Parses the entries of one directory. Stops at the end marker; skips deleted entries,
 * volume labels and dot entries. A long name whose sequence or checksum is broken is
 * dropped, and the 8.3 name is used instead (reported through `warn`).
 */
export function parseDirectory(bytes: Uint8Array, warn: (message: string) => void): FatDirEntry[] {
  const out: FatDirEntry[] = [];
  let pending: PendingLongName | null = null;
  const count = Math.floor(bytes.length / 32);
  for (let i = 0; i < count; i++) {
    const e = bytes.subarray(i * 32, i * 32 + 32);
    if (e[0] === 0x00) break;
    if (e[0] === 0xe5) {
      pending = null;
      continue;
    }
    const attributes = e[11];
    if ((attributes & 0x3f) === ATTR_LONG_NAME) {
      const ordinal = e[0] & 0x1f;
      if (e[0] & 0x40) {
        pending = ordinal >= 1 && ordinal <= LFN_MAX_ENTRIES ? { checksum: e[13], nextOrdinal: ordinal - 1, pieces: [lfnUnits(e)] } : null;
      } else if (pending && ordinal === pending.nextOrdinal && ordinal >= 1 && e[13] === pending.checksum) {
        pending.pieces.push(lfnUnits(e));
        pending.nextOrdinal--;
      } else {
        pending = null;
      }
      continue;
    }
    const long = pending;
    pending = null;
    if (attributes & ATTR_VOLUME_ID) continue;
    if (e[0] === 0x2e && (e[1] === 0x20 || (e[1] === 0x2e && e[2] === 0x20))) continue;

    let name = shortName(e);
    if (long) {
      const joined =
        long.nextOrdinal === 0 && long.checksum === shortNameChecksum(e) ? joinLongName(long.pieces.reverse().flat()) : null;
      if (joined === null) warn(`FAT: broken long name for "${name}"; using the short name`);
      else name = joined;
    }
    out.push({
      name,
      attributes,
      firstCluster: (e[26] | (e[27] << 8)) + (e[20] | (e[21] << 8)) * 0x10000,
      size: (e[28] | (e[29] << 8) | (e[30] << 16)) + e[31] * 0x1000000,
      index: i,
      createTenths: e[13],
      createTime: e[14] | (e[15] << 8),
      createDate: e[16] | (e[17] << 8),
      accessDate: e[18] | (e[19] << 8),
      writeTime: e[22] | (e[23] << 8),
      writeDate: e[24] | (e[25] << 8),
    });
  }
  return out;
}
