/**
 * Reads a disk's partition table: MBR (with extended/logical partitions) or GPT.
 * Partition numbers follow Linux: MBR p1..p4 primary, p5+ logical; GPT entry index + 1.
 */
import type { ReadAt } from './source.js';
import type { OpenOptions } from './types.js';
import { makeWarner, type Warn } from './warnings.js';
import {
  MBR_SECTOR, PROTECTIVE_TYPE, type MbrEntry, isExtendedType, isPlausibleTable, isUsed, mbrTypeName, parseMbrSector,
} from './partitions/mbr.js';
import {
  entriesCrcMatches, hasGptSignature, parseGptEntries, parseGptHeader, type GptHeader,
} from './partitions/gpt.js';

export interface Partition {
  number: number;
  /** Byte offset on the disk. */
  start: number;
  /** Size in bytes. */
  size: number;
  /** MBR: the type byte as "0x83"; GPT: the lower-case type GUID. */
  type: string;
  name?: string;
}

export interface PartitionTable {
  scheme: 'mbr' | 'gpt' | 'none';
  partitions: Partition[];
}

/** Linux stops at 256 minors per disk; a longer EBR chain is damage. */
const MAX_LOGICAL = 256;
const GPT_SECTOR_SIZES = [512, 4096];

export async function readPartitionTable(src: ReadAt, opts?: OpenOptions): Promise<PartitionTable> {
  const warn = makeWarner(opts, 'partition table');
  if (src.size < MBR_SECTOR) return { scheme: 'none', partitions: [] };
  const sector0 = await src.read(0, MBR_SECTOR);
  const entries = parseMbrSector(sector0);

  if (!entries || !isPlausibleTable(sector0, entries)) {
    const gpt = await findGpt(src, () => {});
    if (gpt) {
      warn('GPT found without a valid protective MBR');
      return { scheme: 'gpt', partitions: gpt };
    }
    return { scheme: 'none', partitions: [] };
  }
  if (entries.some((e) => e.type === PROTECTIVE_TYPE)) {
    const gpt = await findGpt(src, warn);
    if (gpt) return { scheme: 'gpt', partitions: gpt };
    warn('protective MBR but no valid GPT; reading the MBR as it is');
  }
  return { scheme: 'mbr', partitions: await readMbr(src, entries, warn) };
}

async function readMbr(src: ReadAt, entries: MbrEntry[], warn: Warn): Promise<Partition[]> {
  const parts: Partition[] = [];
  entries.forEach((e, i) => {
    if (isUsed(e)) parts.push(checked(src, { number: i + 1, start: e.startLba * MBR_SECTOR, size: e.sectors * MBR_SECTOR, type: mbrTypeName(e.type) }, warn));
  });
  let next = 5;
  for (const ext of entries.filter((e) => isUsed(e) && isExtendedType(e.type))) {
    next = await readLogical(src, ext.startLba, ext.sectors, next, parts, warn);
  }
  return parts;
}

/** Walks the EBR chain of one extended partition; returns the next free partition number. */
async function readLogical(src: ReadAt, extStart: number, extSectors: number, next: number, parts: Partition[], warn: Warn): Promise<number> {
  const seen = new Set<number>();
  let ebrLba = extStart;
  for (let step = 0; step < MAX_LOGICAL; step++) {
    if (seen.has(ebrLba)) {
      warn(`EBR chain loops back to LBA ${ebrLba}; stopped`);
      return next;
    }
    seen.add(ebrLba);
    if ((ebrLba + 1) * MBR_SECTOR > src.size) {
      warn(`EBR at LBA ${ebrLba} lies past the end of the disk; stopped`);
      return next;
    }
    const ebr = parseMbrSector(await src.read(ebrLba * MBR_SECTOR, MBR_SECTOR));
    if (!ebr) {
      warn(`EBR at LBA ${ebrLba} has no signature; stopped`);
      return next;
    }
    const [logical, link] = ebr;
    if (isUsed(logical) && !isExtendedType(logical.type)) {
      const startLba = ebrLba + logical.startLba;
      if (startLba + logical.sectors > extStart + extSectors) warn(`logical partition ${next} extends past its extended partition`);
      parts.push(checked(src, { number: next++, start: startLba * MBR_SECTOR, size: logical.sectors * MBR_SECTOR, type: mbrTypeName(logical.type) }, warn));
    }
    if (!isUsed(link) || !isExtendedType(link.type)) return next;
    ebrLba = extStart + link.startLba;
  }
  warn(`more than ${MAX_LOGICAL} logical partitions; stopped`);
  return next;
}

function checked(src: ReadAt, p: Partition, warn: Warn): Partition {
  if (p.start + p.size > src.size) warn(`partition ${p.number} extends past the end of the disk`);
  return p;
}

async function findGpt(src: ReadAt, warn: Warn): Promise<Partition[] | null> {
  for (const sectorSize of GPT_SECTOR_SIZES) {
    if (src.size < sectorSize * 2) continue;
    if (!hasGptSignature(await src.read(sectorSize, 8))) continue;
    return readGpt(src, sectorSize, warn);
  }
  return null;
}

/** The primary table, or the backup (with a warning) when the primary is damaged. */
async function readGpt(src: ReadAt, sectorSize: number, warn: Warn): Promise<Partition[] | null> {
  const primary = await readGptCopy(src, sectorSize, 1);
  if (primary.entries) return toPartitions(primary.header, primary.entries, sectorSize, src, warn);
  warn(`primary GPT is damaged (${primary.problem}); trying the backup`);
  const candidates = new Set([Math.floor(src.size / sectorSize) - 1]);
  if (primary.header) candidates.add(primary.header.alternateLba);
  for (const lba of candidates) {
    const backup = await readGptCopy(src, sectorSize, lba);
    if (backup.entries) return toPartitions(backup.header, backup.entries, sectorSize, src, warn);
    warn(`backup GPT at LBA ${lba} is damaged too (${backup.problem})`);
  }
  return null;
}

type GptCopy =
  | { header: GptHeader; entries: Uint8Array; problem?: undefined }
  | { header?: GptHeader; entries?: undefined; problem: string };

async function readGptCopy(src: ReadAt, sectorSize: number, lba: number): Promise<GptCopy> {
  if (lba < 1 || (lba + 1) * sectorSize > src.size) return { problem: `LBA ${lba} is outside the disk` };
  const header = parseGptHeader(await src.read(lba * sectorSize, sectorSize), lba);
  if (typeof header === 'string') return { problem: header };
  const bytes = header.entryCount * header.entrySize;
  if (header.entriesLba * sectorSize + bytes > src.size) return { header, problem: 'entry array lies past the end of the disk' };
  const entries = await src.read(header.entriesLba * sectorSize, bytes);
  if (!entriesCrcMatches(entries, header)) return { header, problem: 'entry array CRC32 mismatch' };
  return { header, entries };
}

function toPartitions(header: GptHeader, entries: Uint8Array, sectorSize: number, src: ReadAt, warn: Warn): Partition[] {
  const parts: Partition[] = [];
  for (const e of parseGptEntries(entries, header, warn)) {
    const start = e.firstLba * sectorSize;
    const size = (e.lastLba - e.firstLba + 1) * sectorSize;
    if (!Number.isSafeInteger(start + size)) {
      warn(`GPT entry ${e.index + 1} lies beyond any possible disk; skipped`);
      continue;
    }
    parts.push(checked(src, { number: e.index + 1, start, size, type: e.typeGuid, name: e.name }, warn));
  }
  return parts;
}
