/** The ext parsers on hand-made damaged structures: each damage becomes a warning or a clear error. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { probeExt } from '../../disk/ext.js';
import { mapBlockPointers } from '../../disk/ext/blockmap.js';
import { parseDirBlock } from '../../disk/ext/dir.js';
import { mapExtents } from '../../disk/ext/extents.js';
import type { MapContext } from '../../disk/ext/runs.js';
import { DiskFormatError } from '../../disk/types.js';
import { memorySource, run, tempDir, fileBytes } from './tools.js';
import { join } from 'node:path';

function dirent(ino: number, recLen: number, name: string): Buffer {
  const b = Buffer.alloc(recLen < 8 ? 8 : recLen);
  b.writeUInt32LE(ino, 0);
  b.writeUInt16LE(recLen, 4);
  b[6] = name.length;
  b[7] = 1;
  b.write(name, 8, 'latin1');
  return b;
}

describe('directory blocks', () => {
  it('keeps the entries before a zero rec_len and warns', () => {
    const block = Buffer.alloc(1024);
    dirent(12, 16, 'a').copy(block, 0);
    dirent(13, 0, 'b').copy(block, 16);
    const warnings: string[] = [];
    const entries = parseDirBlock(block, 1024, true, (m) => warnings.push(m), 'dir');
    assert.deepEqual(entries.map((e) => [e.ino, Buffer.from(e.name).toString()]), [[12, 'a']]);
    assert.match(warnings[0], /malformed entry at offset 16 \(rec_len 0/);
  });

  it('stops at a rec_len that runs past the block, and at a name longer than its record', () => {
    const warnings: string[] = [];
    assert.deepEqual(parseDirBlock(dirent(12, 2048, 'a').subarray(0, 1024), 1024, true, (m) => warnings.push(m), 'dir'), []);
    const long = Buffer.alloc(1024);
    dirent(12, 1024, 'x'.repeat(200)).copy(long);
    long[6] = 255;
    long.writeUInt16LE(12, 4);
    assert.deepEqual(parseDirBlock(long, 1024, true, (m) => warnings.push(m), 'dir'), []);
    assert.equal(warnings.length, 2);
  });
});

/** A map context over a block array; blocks are 1 KiB. */
function ctx(blocks: Map<number, Buffer>, warnings: string[], logicalLimit = 1 << 20): MapContext {
  return {
    blocksCount: 1000,
    logicalLimit,
    warn: (m) => warnings.push(m),
    readBlock: async (n) => blocks.get(n) ?? Buffer.alloc(1024),
  };
}

function extentNode(depth: number, entries: number[][]): Buffer {
  const b = Buffer.alloc(1024);
  b.writeUInt16LE(0xf30a, 0);
  b.writeUInt16LE(entries.length, 2);
  b.writeUInt16LE(84, 4);
  b.writeUInt16LE(depth, 6);
  entries.forEach((e, i) => {
    const off = 12 * (i + 1);
    if (depth === 0) {
      const [logical, len, physical] = e;
      b.writeUInt32LE(logical, off);
      b.writeUInt16LE(len, off + 4);
      b.writeUInt32LE(physical, off + 8);
    } else {
      const [logical, child] = e;
      b.writeUInt32LE(logical, off);
      b.writeUInt32LE(child, off + 4);
    }
  });
  return b;
}

describe('extent trees', () => {
  it('visits an index block that points to itself once', async () => {
    const warnings: string[] = [];
    const root = extentNode(1, [[0, 50]]).subarray(0, 60);
    const loop = extentNode(1, [[0, 50], [10, 50]]);
    const runs = await mapExtents(root, ctx(new Map([[50, loop]]), warnings), 11);
    assert.deepEqual(runs, []);
    assert.ok(warnings.some((w) => /depth 1, expected 0/.test(w)));
  });

  it('rejects a depth above 5 and entries that overflow the node', async () => {
    const warnings: string[] = [];
    await mapExtents(extentNode(6, []).subarray(0, 60), ctx(new Map(), warnings), 11);
    const crowded = extentNode(0, []).subarray(0, 60);
    crowded.writeUInt16LE(40, 2);
    crowded.writeUInt16LE(40, 4);
    await mapExtents(crowded, ctx(new Map(), warnings), 11);
    assert.match(warnings[0], /depth 6 exceeds 5/);
    assert.match(warnings[1], /do not fit/);
  });

  it('skips extents outside the file system and overlapping ones, keeps the rest', async () => {
    const warnings: string[] = [];
    const root = extentNode(0, [[0, 4, 100], [2, 4, 200], [10, 5, 999], [20, 32768 + 3, 300]]).subarray(0, 60);
    const runs = await mapExtents(root, ctx(new Map(), warnings), 11);
    assert.deepEqual(runs, [
      { logical: 0, physical: 100, count: 4, uninit: false },
      { logical: 20, physical: 300, count: 3, uninit: true },
    ]);
    assert.equal(warnings.length, 2);
  });
});

describe('block maps', () => {
  it('does not loop on an indirect block that points to itself', async () => {
    const warnings: string[] = [];
    const iBlock = Buffer.alloc(60);
    iBlock.writeUInt32LE(500, 13 * 4); // double indirect
    const self = Buffer.alloc(1024);
    for (let i = 0; i < 256; i++) self.writeUInt32LE(500, i * 4);
    const runs = await mapBlockPointers(iBlock, 1024, ctx(new Map([[500, self]]), warnings), 11);
    assert.deepEqual(runs, []);
    assert.equal(warnings.filter((w) => /indirect block 500 is referenced twice/.test(w)).length, 256);
  });
});

describe('superblock checks', () => {
  const tmp = tempDir('cairn-sb-');
  const img = join(tmp.path, 'sb.img');
  run('truncate', ['-s', '4M', img], 'coreutils');
  run('mkfs.ext4', ['-q', '-F', '-b', '1024', img], 'e2fsprogs');
  const clean = fileBytes(img);
  tmp.cleanup();

  const damaged = (offset: number, value: number, width: 2 | 4) => {
    const b = clean.slice();
    const view = new DataView(b.buffer);
    if (width === 2) view.setUint16(1024 + offset, value, true);
    else view.setUint32(1024 + offset, value, true);
    return memorySource(b);
  };

  it('returns null without the magic', async () => {
    assert.equal(await probeExt(damaged(0x38, 0x1234, 2)), null);
    assert.equal(await probeExt(memorySource(new Uint8Array(100))), null);
  });

  for (const [what, offset, value, width, message] of [
    ['blocks per group 0', 0x20, 0, 4, /0 clusters per group/],
    ['block size 2^40', 0x18, 30, 4, /block size 2\^40/],
    ['inode size 100', 0x58, 100, 2, /inode size 100/],
    ['inodes per group 0', 0x28, 0, 4, /0 inodes per group/],
    ['block count 0', 0x04, 0, 4, /block count 0/],
    ['unknown incompat bit', 0x60, 0x80000002, 4, /unsupported incompatible features 0x80000000/],
  ] as const) {
    it(`rejects ${what} with a DiskFormatError`, async () => {
      await assert.rejects(probeExt(damaged(offset, value, width)), (e: Error) => e instanceof DiskFormatError && message.test(e.message));
    });
  }
});
