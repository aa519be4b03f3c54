import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, utimesSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeFat } from '../../disk/fat/index.js';
import type { FileSystem } from '../../disk/types.js';
import {
  assertSortedMerged, bufferSource, fileSource, insideRanges, randomBytes, readViaExtents, requireTool, run, sha256, walk,
} from './helpers.js';

const MT = { MTOOLS_SKIP_CHECK: '1', TZ: 'UTC' };

/** The source tree: path (relative, '/'-separated) -> content. */
function sourceTree(): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  let seed = 1;
  const add = (path: string, size: number) => files.set(path, randomBytes(seed++, size));
  add('empty', 0);
  add('one.bin', 1);
  add('s511.bin', 511);
  add('s512.bin', 512);
  add('s4097.bin', 4097);
  add('big.bin', 1024 * 1024 + 333);
  add('A Long File Name With Spaces.txt', 100);
  add('MixedCase.Txt', 10);
  add('lower.txt', 11);
  add('UPPER.TXT', 12);
  add('Résumé ünïcode.txt', 13);
  add('nested/level two/level3/deep file.dat', 3000);
  add('nested/x.y', 5);
  for (let i = 0; i < 320; i++) add(`many/entry number ${i}.txt`, i % 7);
  return files;
}

function writeTree(root: string, files: Map<string, Uint8Array>): void {
  for (const [p, data] of files) {
    const full = join(root, p);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, data);
    utimesSync(full, new Date('2021-03-04T05:06:08Z'), new Date('2021-03-04T05:06:08Z'));
  }
}

function freeBytes(img: string): number {
  const m = /([\d ]+) bytes free/.exec(run('mdir', ['-i', img, '::/'], MT));
  assert.ok(m, 'mdir reports free space');
  return Number(m[1].replace(/ /g, ''));
}

/**
 * Writes small files, fills the disk up to a few clusters, deletes every other small
 * file, then writes a file larger than the free tail, which must go into the gaps
 * (mtools allocates after the last allocation on FAT32, so gaps alone are not enough).
 */
function makeFragmentedFile(img: string, dir: string, files: Map<string, Uint8Array>, clusterBytes: number): void {
  run('mmd', ['-i', img, '::/frag'], MT);
  for (let i = 0; i < 24; i++) {
    const data = randomBytes(1000 + i, clusterBytes * 2);
    const local = join(dir, `f${i}`);
    writeFileSync(local, data);
    run('mcopy', ['-i', img, local, `::/frag/f${i}`], MT);
    if (i % 2 === 1) files.set(`frag/f${i}`, data);
  }
  const fillerBytes = freeBytes(img) - 8 * clusterBytes;
  writeFileSync(join(dir, 'filler'), new Uint8Array(fillerBytes));
  run('mcopy', ['-i', img, join(dir, 'filler'), '::/frag/filler'], MT);
  files.set('frag/filler', new Uint8Array(fillerBytes));
  for (let i = 0; i < 24; i += 2) run('mdel', ['-i', img, `::/frag/f${i}`], MT);
  const big = randomBytes(4242, clusterBytes * 30 + 17);
  writeFileSync(join(dir, 'fragmented'), big);
  run('mcopy', ['-i', img, join(dir, 'fragmented'), '::/frag/fragmented'], MT);
  files.set('frag/fragmented', big);
}

async function checkImage(fs: FileSystem, src: ReturnType<typeof fileSource>, files: Map<string, Uint8Array>, warnings: string[]) {
  const tree = await walk(fs);
  const seenFiles = [...tree.values()].filter((w) => w.node.type === 'file');
  assert.equal(seenFiles.length, files.size, 'file count');
  const used = await fs.usedRanges();
  assertSortedMerged(used);
  for (const [path, data] of files) {
    const w = tree.get(`/${path}`);
    assert.ok(w, `missing ${path}`);
    assert.equal(w.node.type, 'file');
    assert.equal(w.node.size, data.length, `size of ${path}`);
    const content = await fs.readFile(w.node, 0, w.node.size + 10);
    assert.equal(sha256(content), sha256(data), `content of ${path}`);
    const extents = await fs.extents(w.node);
    assert.ok(extents);
    assert.equal(sha256(await readViaExtents(src, w.node.size, extents)), sha256(data), `extents of ${path}`);
    for (const x of extents) assert.ok(insideRanges(used, x), `${path}: extent outside used ranges`);
    if (data.length > 7) {
      const mid = await fs.readFile(w.node, 3, 5);
      assert.deepEqual(mid, data.subarray(3, 8));
    }
  }
  const ro = tree.get('/lower.txt')!.node;
  assert.equal(ro.mode, 0o444, 'read-only attribute gives 0444');
  assert.equal(tree.get('/one.bin')!.node.mode, 0o644);
  assert.equal(tree.get('/nested')!.node.mode, 0o755);
  assert.equal(tree.get('/nested/x.y')!.node.mtimeNs, BigInt(Date.parse('2021-03-04T05:06:08Z')) * 1_000_000n);
  assert.equal(tree.get('/many')!.node.type, 'dir');
  assert.equal([...tree.keys()].filter((k) => k.startsWith('/many/')).length, 320);
  const ids = new Set([...tree.values()].map((w) => w.node.id));
  assert.equal(ids.size, tree.size, 'ids are unique');
  assert.deepEqual(warnings, []);
  return tree;
}

for (const kind of [12, 16, 32] as const) {
  test(`FAT${kind}: an mtools-written image reads back exactly`, async () => {
    requireTool('mkfs.fat', 'dosfstools');
    requireTool('mcopy', 'mtools');
    const dir = mkdtempSync(join(tmpdir(), 'cairn-fat-'));
    try {
      const files = sourceTree();
      const srcDir = join(dir, 'src');
      writeTree(srcDir, files);
      const img = join(dir, 'img');
      const sizeKb = kind === 12 ? 8192 : kind === 16 ? 16384 : 40000;
      run('mkfs.fat', ['-F', String(kind), ...(kind === 32 ? ['-s', '1'] : []), '-n', 'CAIRNTEST', '-C', img, String(sizeKb)]);
      run('mcopy', ['-s', '-m', '-i', img, ...['empty', 'one.bin', 's511.bin', 's512.bin', 's4097.bin', 'big.bin', 'A Long File Name With Spaces.txt', 'MixedCase.Txt', 'lower.txt', 'UPPER.TXT', 'Résumé ünïcode.txt', 'nested', 'many'].map((n) => join(srcDir, n)), '::/'], MT);
      run('mattrib', ['-i', img, '+r', '::/lower.txt'], MT);
      const clusterBytes = kind === 32 ? 512 : 2048;
      makeFragmentedFile(img, dir, files, clusterBytes);

      const warnings: string[] = [];
      const src = fileSource(img);
      try {
        const fs = await probeFat(src, { onWarning: (m) => warnings.push(m) });
        assert.ok(fs, 'probe recognizes the image');
        assert.equal(fs.type, 'fat');
        const tree = await checkImage(fs, src, files, warnings);
        const frag = await fs.extents(tree.get('/frag/fragmented')!.node);
        assert.ok(frag && frag.length > 1, `the fragmented file has ${frag?.length} extents`);
      } finally {
        src.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('FAT: other boot sectors are not FAT', async () => {
  const ntfsLike = new Uint8Array(4096);
  ntfsLike.set([0xeb, 0x52, 0x90, ...Buffer.from('NTFS    ')]);
  ntfsLike[11] = 0; ntfsLike[12] = 2; ntfsLike[13] = 8; ntfsLike[21] = 0xf8;
  ntfsLike[510] = 0x55; ntfsLike[511] = 0xaa;
  assert.equal(await probeFat(bufferSource(ntfsLike)), null);
  assert.equal(await probeFat(bufferSource(new Uint8Array(100))), null);
});

test('FAT: impossible geometry is a DiskFormatError', async () => {
  requireTool('mkfs.fat', 'dosfstools');
  const dir = mkdtempSync(join(tmpdir(), 'cairn-fat-'));
  try {
    const img = join(dir, 'img');
    run('mkfs.fat', ['-F', '12', '-C', img, '2048']);
    const src = fileSource(img);
    const bytes = new Uint8Array(statSync(img).size);
    bytes.set(await src.read(0, bytes.length));
    src.close();
    bytes[14] = 0; bytes[15] = 0; // no reserved sectors
    await assert.rejects(probeFat(bufferSource(bytes)), { name: 'DiskFormatError' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
