/** What each fuzz input goes through: everything a backup would do with it. */
import assert from 'node:assert/strict';
import { probeExt } from '../../disk/ext.js';
import { readPartitionTable } from '../../disk/partitions.js';
import { sliceSource } from '../../disk/slice.js';
import type { DiskNode, FileSystem } from '../../disk/types.js';
import { assertClearError, countingSource } from './fuzz-tools.js';
import { memorySource } from './tools.js';

/** Far above what a walk of a sub-MiB image needs, far below "unbounded". */
const MAX_BYTES_READ = 64 << 20;
const MAX_NODES = 5000;
const MAX_READ_PER_FILE = 256 << 10;

export interface Outcome {
  warnings: number;
  errors: number;
}

/** Opens the image and lists, maps, reads and readlinks every node it can reach. */
export async function exerciseExt(bytes: Uint8Array, context: string): Promise<Outcome> {
  const src = countingSource(memorySource(bytes));
  const outcome: Outcome = { warnings: 0, errors: 0 };
  const guard = async (what: string, f: () => Promise<unknown>) => {
    try {
      await f();
    } catch (e) {
      assertClearError(e, `${context}, ${what}`);
      outcome.errors++;
    }
    assert.ok(src.bytesRead <= MAX_BYTES_READ, `${context}: read ${src.bytesRead} bytes`);
  };
  let opened: FileSystem | null = null;
  await guard('open', async () => {
    opened = await probeExt(src, { onWarning: () => outcome.warnings++ });
  });
  if (!opened) return outcome;
  const fs: FileSystem = opened;
  await guard('usedRanges', async () => {
    for (const r of await fs.usedRanges()) {
      assert.ok(Number.isSafeInteger(r.offset) && r.length > 0 && r.offset + r.length <= bytes.length, `${context}: bad used range`);
    }
  });
  const queue: [DiskNode, number][] = [[fs.root(), 0]];
  const seenDirs = new Set<number>();
  for (let visited = 0; queue.length > 0 && visited < MAX_NODES; visited++) {
    const [node, depth] = queue.shift()!;
    if (node.type === 'dir') {
      // Cycles in a damaged tree are the caller's problem: this walker stops on them.
      if (seenDirs.has(node.id) || depth > 16) continue;
      seenDirs.add(node.id);
      await guard('list', async () => {
        for (const child of await fs.list(node)) queue.push([child, depth + 1]);
      });
    }
    await guard('extents', async () => {
      for (const e of (await fs.extents(node)) ?? []) {
        assert.ok(e.length > 0 && e.fileOffset + e.length <= node.size, `${context}: extent beyond the file size`);
      }
    });
    if (node.type === 'file') {
      await guard('readFile', async () => {
        const want = Math.min(node.size, MAX_READ_PER_FILE);
        for (let off = 0; off < want; off += 64 << 10) {
          const n = Math.min(64 << 10, want - off);
          assert.equal((await fs.readFile(node, off, n)).length, n, `${context}: short readFile`);
        }
      });
    }
    if (node.type === 'symlink') await guard('readlink', () => fs.readlink(node));
  }
  return outcome;
}

/** Reads the table and checks that what it returns is usable as slice bounds. */
export async function exercisePartitions(bytes: Uint8Array, context: string): Promise<Outcome> {
  const outcome: Outcome = { warnings: 0, errors: 0 };
  const src = countingSource(memorySource(bytes));
  try {
    const t = await readPartitionTable(src, { onWarning: () => outcome.warnings++ });
    const numbers = new Set<number>();
    for (const p of t.partitions) {
      assert.ok(Number.isSafeInteger(p.start) && p.start >= 0 && Number.isSafeInteger(p.size) && p.size > 0, `${context}: bad bounds`);
      assert.ok(!numbers.has(p.number), `${context}: partition number ${p.number} twice`);
      numbers.add(p.number);
      sliceSource(src, p.start, p.size);
    }
  } catch (e) {
    assertClearError(e, context);
    outcome.errors++;
  }
  assert.ok(src.bytesRead <= MAX_BYTES_READ, `${context}: read ${src.bytesRead} bytes`);
  return outcome;
}
