/** The ext4 extent tree: header and entry parsing, and a bounded walk into runs. */
import { u16, u32 } from '../bytes.js';
import { RunList, type MapContext, type Run } from './runs.js';

const EXTENT_MAGIC = 0xf30a;
/** The kernel never builds deeper trees; deeper means damage (and bounds the recursion). */
export const MAX_EXTENT_DEPTH = 5;
const ENTRY_SIZE = 12;
const INIT_MAX_LEN = 32768;

interface ExtentHeader {
  entries: number;
  depth: number;
}

export function parseExtentHeader(node: Uint8Array): ExtentHeader | string {
  if (node.length < ENTRY_SIZE || u16(node, 0) !== EXTENT_MAGIC) return 'bad extent header magic';
  const entries = u16(node, 2);
  const max = u16(node, 4);
  const depth = u16(node, 6);
  if (depth > MAX_EXTENT_DEPTH) return `extent tree depth ${depth} exceeds ${MAX_EXTENT_DEPTH}`;
  if (entries > max || ENTRY_SIZE * (entries + 1) > node.length) return `${entries} extent entries do not fit the node`;
  return { entries, depth };
}

function leaf(node: Uint8Array, i: number): Run {
  const off = ENTRY_SIZE * (i + 1);
  const rawLen = u16(node, off + 4);
  const uninit = rawLen > INIT_MAX_LEN;
  return {
    logical: u32(node, off),
    count: uninit ? rawLen - INIT_MAX_LEN : rawLen,
    physical: u16(node, off + 6) * 0x100000000 + u32(node, off + 8),
    uninit,
  };
}

function index(node: Uint8Array, i: number): { logical: number; child: number } {
  const off = ENTRY_SIZE * (i + 1);
  return { logical: u32(node, off), child: u16(node, off + 8) * 0x100000000 + u32(node, off + 4) };
}

/**
 * Maps the extent tree rooted in i_block. Damaged nodes and extents become warnings and
 * are skipped; every tree block is visited at most once and depth is capped, so the walk
 * ends on any input.
 */
export async function mapExtents(iBlock: Uint8Array, ctx: MapContext, ino: number): Promise<Run[]> {
  const out = new RunList();
  const visited = new Set<number>();
  let nextLogical = 0;

  const walk = async (node: Uint8Array, expectedDepth: number | null, where: string): Promise<void> => {
    const header = parseExtentHeader(node);
    if (typeof header === 'string') return ctx.warn(`inode ${ino}: ${where}: ${header}`);
    if (expectedDepth !== null && header.depth !== expectedDepth) {
      return ctx.warn(`inode ${ino}: ${where}: depth ${header.depth}, expected ${expectedDepth}`);
    }
    for (let i = 0; i < header.entries; i++) {
      if (header.depth === 0) {
        const e = leaf(node, i);
        if (e.count === 0) continue;
        if (e.logical < nextLogical) {
          ctx.warn(`inode ${ino}: extent at logical block ${e.logical} overlaps its predecessor; skipped`);
          continue;
        }
        if (e.logical >= ctx.logicalLimit) return;
        if (e.physical + e.count > ctx.blocksCount || e.physical === 0) {
          ctx.warn(`inode ${ino}: extent at logical block ${e.logical} points outside the file system; read as zeros`);
          nextLogical = e.logical + e.count;
          continue;
        }
        out.push(e.logical, e.physical, Math.min(e.count, ctx.logicalLimit - e.logical), e.uninit);
        nextLogical = e.logical + e.count;
        continue;
      }
      const { logical, child } = index(node, i);
      if (logical >= ctx.logicalLimit) return;
      if (visited.has(child) || child === 0 || child >= ctx.blocksCount) {
        ctx.warn(`inode ${ino}: extent index points to ${visited.has(child) ? 'an already visited' : 'an invalid'} block ${child}; skipped`);
        continue;
      }
      visited.add(child);
      let block: Uint8Array;
      try {
        block = await ctx.readBlock(child);
      } catch (e) {
        ctx.warn(`inode ${ino}: extent block ${child}: ${(e as Error).message}`);
        continue;
      }
      await walk(block, header.depth - 1, `extent block ${child}`);
    }
  };

  await walk(iBlock, null, 'extent root');
  return out.runs;
}
