import type { ReadAt } from '../source.js';
import { readPadded } from '../read-padded.js';
import type { FatGeometry } from './bpb.js';

const PAGE_BYTES = 64 * 1024;
/** At most this many FAT pages stay cached (4 MiB), so a huge FAT32 does not fill memory. */
const MAX_CACHED_PAGES = 64;

/** What a FAT entry says about the cluster after this one. */
export type FatLink =
  | { kind: 'next'; cluster: number }
  | { kind: 'end' }
  | { kind: 'free' }
  | { kind: 'bad' };

/** Decodes one entry of a FAT held in `bytes` (which starts at the FAT's first byte). */
export function decodeEntry(kind: 12 | 16 | 32, raw: number): FatLink {
  const eoc = kind === 12 ? 0xff8 : kind === 16 ? 0xfff8 : 0x0ffffff8;
  if (raw === 0) return { kind: 'free' };
  if (raw >= eoc) return { kind: 'end' };
  if (raw === eoc - 1) return { kind: 'bad' };
  return { kind: 'next', cluster: raw };
}

/** Raw value of entry `n`; `at(i)` gives the FAT byte at offset i. */
export function rawEntry(kind: 12 | 16 | 32, n: number, at: (i: number) => number): number {
  if (kind === 12) {
    const o = Math.floor((n * 3) / 2);
    const v = at(o) | (at(o + 1) << 8);
    return n & 1 ? v >> 4 : v & 0xfff;
  }
  if (kind === 16) return at(n * 2) | (at(n * 2 + 1) << 8);
  const o = n * 4;
  return (at(o) | (at(o + 1) << 8) | (at(o + 2) << 16) | ((at(o + 3) & 0x0f) << 24)) >>> 0;
}

/** Random access to the active FAT through a small page cache. */
export class FatTable {
  private readonly pages = new Map<number, Uint8Array>();

  constructor(
    private readonly src: ReadAt,
    private readonly geo: FatGeometry,
    private readonly warn: (message: string) => void,
  ) {}

  private async page(index: number): Promise<Uint8Array> {
    const cached = this.pages.get(index);
    if (cached) {
      this.pages.delete(index);
      this.pages.set(index, cached);
      return cached;
    }
    const start = index * PAGE_BYTES;
    const length = Math.min(PAGE_BYTES, this.geo.fatBytes - start);
    const bytes = await readPadded(this.src, this.geo.fatOffset + start, length, this.warn);
    if (this.pages.size >= MAX_CACHED_PAGES) this.pages.delete(this.pages.keys().next().value as number);
    this.pages.set(index, bytes);
    return bytes;
  }

  /** The link stored for `cluster` (2 .. clusterCount + 1). */
  async link(cluster: number): Promise<FatLink> {
    const width = this.geo.kind === 12 ? 1.5 : this.geo.kind / 8;
    const first = Math.floor(cluster * width);
    const firstPage = Math.floor(first / PAGE_BYTES);
    const lastPage = Math.floor((first + Math.ceil(width) - 1) / PAGE_BYTES);
    const a = await this.page(firstPage);
    const b = lastPage === firstPage ? a : await this.page(lastPage);
    const at = (i: number) => {
      const p = Math.floor(i / PAGE_BYTES);
      const buf = p === firstPage ? a : b;
      return buf[i - p * PAGE_BYTES] ?? 0;
    };
    return decodeEntry(this.geo.kind, rawEntry(this.geo.kind, cluster, at));
  }

  /**
   * Calls `onUsed(first, count)` for each run of clusters the FAT marks non-free, up to
   * `lastCluster` (callers stop at the end of the source, so a damaged BPB that claims a
   * huge volume costs no more than the image itself).
   */
  async scanUsed(lastCluster: number, onUsed: (first: number, count: number) => void): Promise<void> {
    const last = Math.min(this.geo.clusterCount + 1, lastCluster);
    let runStart = -1;
    for (let c = 2; c <= last; c++) {
      const used = (await this.link(c)).kind !== 'free';
      if (used && runStart < 0) runStart = c;
      if (!used && runStart >= 0) {
        onUsed(runStart, c - runStart);
        runStart = -1;
      }
    }
    if (runStart >= 0) onUsed(runStart, last + 1 - runStart);
  }
}
