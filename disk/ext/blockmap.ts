/** ext2/3 block maps: 12 direct pointers, then single, double and triple indirect blocks. */
import { u32 } from '../bytes.js';
import { RunList, type MapContext, type Run } from './runs.js';

const DIRECT = 12;

/**
 * Maps a block-mapped file. Zero pointers are holes and are not descended; each
 * indirect block is read at most once and only below the file's size, so the walk is
 * bounded by the blocks that exist.
 */
export async function mapBlockPointers(iBlock: Uint8Array, blockSize: number, ctx: MapContext, ino: number): Promise<Run[]> {
  const out = new RunList();
  const perBlock = blockSize / 4;
  const visited = new Set<number>();
  let outside = 0;

  const data = (logical: number, ptr: number) => {
    if (ptr >= ctx.blocksCount) outside++;
    else out.push(logical, ptr, 1, false);
  };

  const walk = async (block: number, level: number, base: number): Promise<void> => {
    if (block >= ctx.blocksCount || visited.has(block)) {
      ctx.warn(`inode ${ino}: indirect block ${block} is ${visited.has(block) ? 'referenced twice' : 'outside the file system'}; skipped`);
      return;
    }
    visited.add(block);
    let buf: Uint8Array;
    try {
      buf = await ctx.readBlock(block);
    } catch (e) {
      ctx.warn(`inode ${ino}: indirect block ${block}: ${(e as Error).message}`);
      return;
    }
    const span = perBlock ** (level - 1);
    for (let i = 0; i < perBlock; i++) {
      const logical = base + i * span;
      if (logical >= ctx.logicalLimit) return;
      const ptr = u32(buf, i * 4);
      if (ptr === 0) continue;
      if (level === 1) data(logical, ptr);
      else await walk(ptr, level - 1, logical);
    }
  };

  for (let i = 0; i < DIRECT && i < ctx.logicalLimit; i++) {
    const ptr = u32(iBlock, i * 4);
    if (ptr !== 0) data(i, ptr);
  }
  let base = DIRECT;
  for (let level = 1; level <= 3; level++) {
    const ptr = u32(iBlock, (DIRECT + level - 1) * 4);
    if (base >= ctx.logicalLimit) break;
    if (ptr !== 0) await walk(ptr, level, base);
    base += perBlock ** level;
  }
  if (outside > 0) ctx.warn(`inode ${ino}: ${outside} block pointers lie outside the file system; read as zeros`);
  return out.runs;
}
