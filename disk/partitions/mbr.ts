/** MBR (DOS) partition table: pure parsing of one 512-byte sector. */
import { u8, u16, u32 } from '../bytes.js';

export interface MbrEntry {
  status: number;
  type: number;
  startLba: number;
  sectors: number;
}

export const MBR_SECTOR = 512;
export const PROTECTIVE_TYPE = 0xee;

export function isExtendedType(type: number): boolean {
  return type === 0x05 || type === 0x0f || type === 0x85;
}

/** The four entries of a sector that carries the 0x55AA signature, else null. */
export function parseMbrSector(sector: Uint8Array): MbrEntry[] | null {
  if (sector.length < MBR_SECTOR || u16(sector, 510) !== 0xaa55) return null;
  const entries: MbrEntry[] = [];
  for (let i = 0; i < 4; i++) {
    const off = 446 + i * 16;
    entries.push({
      status: u8(sector, off),
      type: u8(sector, off + 4),
      startLba: u32(sector, off + 8),
      sectors: u32(sector, off + 12),
    });
  }
  return entries;
}

export function isUsed(e: MbrEntry): boolean {
  return e.type !== 0 && e.sectors !== 0;
}

/**
 * A FAT or NTFS boot sector also ends in 0x55AA. Like Linux, take the sector as a
 * partition table only if every status byte is 0x00 or 0x80, and not when it looks like
 * a volume boot record with no partitions in it.
 */
export function isPlausibleTable(sector: Uint8Array, entries: MbrEntry[]): boolean {
  if (entries.some((e) => e.status !== 0 && e.status !== 0x80)) return false;
  if (entries.some(isUsed)) return true;
  return !looksLikeVolumeBootRecord(sector);
}

function looksLikeVolumeBootRecord(sector: Uint8Array): boolean {
  const jump = sector[0] === 0xeb || sector[0] === 0xe9;
  const bytesPerSector = u16(sector, 11);
  return jump && [512, 1024, 2048, 4096].includes(bytesPerSector);
}

export function mbrTypeName(type: number): string {
  return '0x' + type.toString(16).padStart(2, '0');
}
