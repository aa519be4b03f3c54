/**
 * Which bytes of an ext file system are in use, from the block bitmaps. Groups whose
 * bitmap was never initialized (BLOCK_UNINIT) count as free except for their metadata.
 * Group metadata (superblock copies, descriptor tables, bitmaps, inode tables) is added
 * from the layout as well, so a missing or damaged bitmap never drops it. meta_bg backup
 * descriptor copies and sparse_super2 details are covered only through the bitmaps.
 */
import type { ByteRange } from '../types.js';
import type { Warn } from '../warnings.js';
import { BG_BLOCK_UNINIT, descriptorBlock, inodeTableBlocks, type GroupTable } from './groups.js';
import {
  INCOMPAT_META_BG, RO_COMPAT_GDT_CSUM, RO_COMPAT_METADATA_CSUM, groupFirstBlock, groupHasSuper, has, type Superblock,
} from './superblock.js';

/** Collects [start, end) block spans and turns them into sorted, merged byte ranges. */
class SpanSet {
  private starts: number[] = [];
  private ends: number[] = [];

  add(start: number, end: number): void {
    if (end > start) {
      this.starts.push(start);
      this.ends.push(end);
    }
  }

  toByteRanges(blockSize: number, limitBytes: number): ByteRange[] {
    const order = this.starts.map((_, i) => i).sort((a, b) => this.starts[a] - this.starts[b]);
    const out: ByteRange[] = [];
    let curStart = -1;
    let curEnd = -1;
    const flush = () => {
      const s = Math.min(curStart * blockSize, limitBytes);
      const e = Math.min(curEnd * blockSize, limitBytes);
      if (e > s) out.push({ offset: s, length: e - s });
    };
    for (const i of order) {
      if (curEnd >= this.starts[i]) {
        curEnd = Math.max(curEnd, this.ends[i]);
        continue;
      }
      if (curStart >= 0) flush();
      curStart = this.starts[i];
      curEnd = this.ends[i];
    }
    if (curStart >= 0) flush();
    return out;
  }
}

export async function used(
  sb: Superblock, groups: GroupTable, sourceSize: number,
  readBlock: (n: number) => Promise<Uint8Array>, warn: Warn,
): Promise<ByteRange[]> {
  const spans = new SpanSet();
  const ratio = sb.clusterSize / sb.blockSize;
  const uninitMeaningful = has(sb.roCompat, RO_COMPAT_GDT_CSUM) || has(sb.roCompat, RO_COMPAT_METADATA_CSUM);
  const itb = inodeTableBlocks(sb);
  const gdtBlocks = Math.ceil((sb.groupCount * sb.descSize) / sb.blockSize);
  const metaBg = has(sb.incompat, INCOMPAT_META_BG);

  // The boot block(s) before the first group.
  spans.add(0, sb.firstDataBlock);
  for (let g = 0; g < groups.count; g++) {
    const first = groupFirstBlock(sb, g);
    const end = Math.min(first + sb.blocksPerGroup, sb.blocksCount);
    if (groupHasSuper(sb, g)) {
      const tableBlocks = metaBg ? Math.min(sb.firstMetaBg, gdtBlocks) : gdtBlocks;
      spans.add(first, Math.min(end, first + 1 + tableBlocks + sb.reservedGdtBlocks));
    }
    if (metaBg) spans.add(descriptorBlock(sb, g), descriptorBlock(sb, g) + 1);
    spans.add(groups.blockBitmap[g], groups.blockBitmap[g] + 1);
    spans.add(groups.inodeBitmap[g], groups.inodeBitmap[g] + 1);
    spans.add(groups.inodeTable[g], groups.inodeTable[g] + itb);

    if (uninitMeaningful && groups.flags[g] & BG_BLOCK_UNINIT) continue;
    const bitmapBlock = groups.blockBitmap[g];
    let bitmap: Uint8Array | null = null;
    if (bitmapBlock > 0 && bitmapBlock < sb.blocksCount) {
      try {
        bitmap = await readBlock(bitmapBlock);
      } catch (e) {
        warn(`block bitmap of group ${g}: ${(e as Error).message}`);
      }
    } else {
      warn(`group ${g} has an invalid block bitmap location ${bitmapBlock}`);
    }
    if (!bitmap) {
      // Unknown allocation: keep the whole group rather than lose data.
      spans.add(first, end);
      continue;
    }
    const clusters = Math.min(sb.clustersPerGroup, Math.ceil((end - first) / ratio));
    addBitmapRuns(bitmap, clusters, (c0, c1) => spans.add(first + c0 * ratio, Math.min(end, first + c1 * ratio)));
  }
  return spans.toByteRanges(sb.blockSize, Math.min(sourceSize, sb.blocksCount * sb.blockSize));
}

/** Calls `emit(start, end)` for each run of set bits among the first `bits` bits. */
function addBitmapRuns(bitmap: Uint8Array, bits: number, emit: (start: number, end: number) => void): void {
  const limit = Math.min(bits, bitmap.length * 8);
  let runStart = -1;
  let i = 0;
  while (i < limit) {
    const byte = bitmap[i >> 3];
    if ((i & 7) === 0 && i + 8 <= limit && (byte === 0 || byte === 0xff)) {
      if (byte === 0xff && runStart < 0) runStart = i;
      if (byte === 0 && runStart >= 0) {
        emit(runStart, i);
        runStart = -1;
      }
      i += 8;
      continue;
    }
    const set = (byte >> (i & 7)) & 1;
    if (set && runStart < 0) runStart = i;
    if (!set && runStart >= 0) {
      emit(runStart, i);
      runStart = -1;
    }
    i++;
  }
  if (runStart >= 0) emit(runStart, limit);
}
