/**
 * Mutates small ext images (fixed seed) and checks that opening, walking and reading each
 * one ends in success, warnings or a clear error: no crash class, no hang, no unbounded
 * reading.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, symlinkSync, openSync, writeSync, closeSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { probeExt } from '../../disk/ext.js';
import type { DiskNode } from '../../disk/types.js';
import { exerciseExt } from './fuzz-exercise.js';
import { runFuzz, type Region } from './fuzz-tools.js';
import type { FuzzTarget } from './fuzz-worker.js';
import { fileBytes, memorySource, prng, randomBytes, run, tempDir } from './tools.js';

/** At least 10,000 per parser in CI; CAIRN_FUZZ_COUNT raises it for longer runs. */
const MUTATIONS = 10_000;
const PER_INPUT_MS = 2000;

const tmp = tempDir('cairn-extfuzz-');
after(() => tmp.cleanup());

function buildTree(root: string): void {
  const rand = prng(7);
  mkdirSync(join(root, 'dir', 'sub'), { recursive: true });
  writeFileSync(join(root, 'tiny.txt'), 'tiny');
  writeFileSync(join(root, 'dir', 'sub', 'file.bin'), randomBytes(rand, 3000));
  writeFileSync(join(root, 'indirect.bin'), randomBytes(rand, 40 * 1024));
  mkdirSync(join(root, 'many'));
  for (let i = 0; i < 60; i++) writeFileSync(join(root, 'many', `name-number-${i}`), i % 10 ? '' : `#${i}`);
  const fd = openSync(join(root, 'fragmented.bin'), 'w');
  for (let i = 0; i < 8; i++) writeSync(fd, randomBytes(rand, 1024), 0, 1024, i * 8192);
  closeSync(fd);
  truncateSync(join(root, 'fragmented.bin'), 7 * 8192 + 1024);
  symlinkSync('tiny.txt', join(root, 'fast'));
  symlinkSync('dir/sub/' + 'x'.repeat(80), join(root, 'slow'));
  run('mkfifo', [join(root, 'fifo')], 'coreutils');
  run('setfattr', ['-n', 'user.small', '-v', 'v', join(root, 'tiny.txt')], 'attr');
  run('setfattr', ['-n', 'user.large', '-v', 'y'.repeat(300), join(root, 'dir', 'sub', 'file.bin')], 'attr');
}

const debugfs = (img: string, cmd: string) => run('debugfs', ['-R', cmd, img], 'e2fsprogs');

/** Metadata the mutations aim at: superblock, descriptors, bitmaps, inode tables, tree blocks. */
async function regionsOf(img: string, bytes: Uint8Array): Promise<Region[]> {
  const dump = run('dumpe2fs', [img], 'e2fsprogs');
  const bs = Number(/^Block size:\s+(\d+)/m.exec(dump)![1]);
  const regions: Region[] = [
    { name: 'superblock', offset: 1024, length: 1024 },
    { name: 'whole image', offset: 0, length: bytes.length },
  ];
  const add = (name: string, first: number, last = first) => regions.push({ name, offset: first * bs, length: (last - first + 1) * bs });
  for (const m of dump.matchAll(/Primary superblock at (\d+), Group descriptors at (\d+)-(\d+)/g)) add('group descriptors', Number(m[2]), Number(m[3]));
  for (const m of dump.matchAll(/Block bitmap at (\d+)/g)) add('block bitmap', Number(m[1]));
  for (const m of dump.matchAll(/Inode table at (\d+)-(\d+)/g)) add('inode table', Number(m[1]), Math.min(Number(m[2]), Number(m[1]) + 7));
  for (const path of ['/', '/dir', '/dir/sub', '/many', '/fragmented.bin', '/indirect.bin', '/slow', '/dir/sub/file.bin']) {
    const stat = debugfs(img, `stat ${path}`);
    for (const m of stat.matchAll(/\((ETB\d|IND|DIND|TIND)\):(\d+)/g)) add(`tree block of ${path}`, Number(m[2]));
    const acl = /File ACL: (\d+)/.exec(stat);
    if (acl && acl[1] !== '0') add(`xattr block of ${path}`, Number(acl[1]));
  }
  const fs = (await probeExt(memorySource(bytes)))!;
  const walk = async (dir: DiskNode, depth: number): Promise<void> => {
    for (const e of (await fs.extents(dir)) ?? []) regions.push({ name: 'directory block', offset: e.diskOffset, length: e.length });
    if (depth < 3) for (const n of await fs.list(dir)) if (n.type === 'dir') await walk(n, depth + 1);
  };
  await walk(fs.root(), 0);
  return regions;
}

describe('ext reader under random damage', () => {
  const targets: FuzzTarget[] = [];

  before(async () => {
    const src = join(tmp.path, 'src');
    mkdirSync(src);
    buildTree(src);
    const variants: [string, string[]][] = [
      ['ext4 1K extents+htree', ['-t', 'ext4', '-b', '1024', '-O', '^has_journal,metadata_csum,dir_index', '-N', '128']],
      ['ext4 1K inline_data', ['-t', 'ext4', '-b', '1024', '-I', '256', '-O', '^has_journal,inline_data', '-N', '128']],
      ['ext2 1K block maps', ['-t', 'ext2', '-b', '1024', '-I', '128', '-N', '128']],
    ];
    for (const [name, opts] of variants) {
      const img = join(tmp.path, `${targets.length}.img`);
      run('truncate', ['-s', '400K', img], 'coreutils');
      run('mkfs.ext4', ['-q', '-F', ...opts, '-d', src, img], 'e2fsprogs');
      run('sh', ['-c', `e2fsck -fyD ${img} >/dev/null 2>&1; true`], 'e2fsprogs');
      const image = fileBytes(img);
      targets.push({ name, image, regions: await regionsOf(img, image) });
    }
  });

  it('the undamaged images read without warnings', async () => {
    for (const t of targets) assert.deepEqual(await exerciseExt(t.image, t.name), { warnings: 0, errors: 0 });
  });

  it(`survives ${MUTATIONS} mutated images`, async () => {
    const r = await runFuzz({ kind: 'ext', targets, seed: Number(process.env.CAIRN_FUZZ_SEED ?? 20240611), count: Number(process.env.CAIRN_FUZZ_COUNT ?? MUTATIONS) }, PER_INPUT_MS);
    // The mutations must reach the damage paths, not only bytes nobody reads.
    assert.ok(r.withWarnings > MUTATIONS / 10, `only ${r.withWarnings} inputs produced warnings`);
    assert.ok(r.withErrors > MUTATIONS / 100, `only ${r.withErrors} inputs produced errors`);
  });
});
