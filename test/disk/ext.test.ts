import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { probeExt } from '../../disk/ext.js';
import { openFileSource, type FileSource } from '../../disk/file-source.js';
import type { ByteRange, DiskNode, FileSystem } from '../../disk/types.js';
import { BIG_DIR_ENTRIES, EXPECTED_XATTRS, buildSourceTree, pathKey, walkFs, walkSource, type Entry } from './ext-tree.js';
import { run, tempDir } from './tools.js';

const IMAGE_SIZE = 128 << 20;

interface Config {
  name: string;
  mkfs: string[];
  /** Extra checks that the image really uses the feature under test. */
  check?: (img: string, fs: FileSystem, nodes: Map<string, DiskNode>) => Promise<void>;
}

const debugfs = (img: string, cmd: string) => run('debugfs', ['-R', cmd, img], 'e2fsprogs');

const CONFIGS: Config[] = [
  {
    name: 'ext4, 4 KiB blocks, 64bit, flex_bg, htree',
    mkfs: ['-t', 'ext4', '-b', '4096', '-O', '64bit,flex_bg,dir_index,metadata_csum'],
    async check(img) {
      const flags = Number(/Flags: (0x[0-9a-f]+)/.exec(debugfs(img, 'stat /bigdir'))![1]);
      assert.ok(flags & 0x1000, 'bigdir should be an htree (INDEX_FL)');
      assert.match(debugfs(img, 'ex /fragmented.bin'), /^ *1\/ *1 /m, 'fragmented.bin should have an extent leaf block');
    },
  },
  {
    name: 'ext4, 1 KiB blocks',
    mkfs: ['-t', 'ext4', '-b', '1024', '-O', '^64bit'],
    async check(img) {
      assert.match(debugfs(img, 'ex /fragmented.bin'), /^ *1\/ *1 /m);
    },
  },
  {
    name: 'ext4, inline_data',
    mkfs: ['-t', 'ext4', '-b', '4096', '-I', '256', '-O', 'inline_data'],
    async check(_img, fs, nodes) {
      assert.equal(await fs.extents(nodes.get(pathKey('small.txt'))!), null, 'small.txt should be inline');
      assert.equal(await fs.extents(nodes.get(pathKey('nested/a/b/c'))!), null, 'a one-entry directory should be inline');
    },
  },
  {
    name: 'ext3-style, 1 KiB blocks, block maps up to triple indirect',
    mkfs: ['-t', 'ext3', '-b', '1024'],
    async check(img) {
      assert.match(debugfs(img, 'stat /triple.bin'), /\(TIND\)/, 'triple.bin should use a triple indirect block');
    },
  },
  { name: 'ext2, 4 KiB blocks, 128-byte inodes', mkfs: ['-t', 'ext2', '-b', '4096', '-I', '128'] },
  // Without a journal: its minimum of 1024 blocks would fill half of the image.
  { name: 'ext4, 64 KiB blocks', mkfs: ['-t', 'ext4', '-b', '65536', '-O', '^has_journal'] },
  { name: 'ext4, 2 KiB blocks, 64bit without flex_bg', mkfs: ['-t', 'ext4', '-b', '2048', '-O', '64bit,^flex_bg'] },
  { name: 'ext4, bigalloc', mkfs: ['-t', 'ext4', '-b', '4096', '-O', 'bigalloc', '-C', '16384'] },
  { name: 'ext4, meta_bg', mkfs: ['-t', 'ext4', '-b', '1024', '-O', 'meta_bg,^resize_inode'] },
];

const tmp = tempDir('cairn-ext-');
const srcDir = join(tmp.path, 'src');
let expected: Map<string, Entry>;

before(() => {
  run('mkdir', [srcDir], 'coreutils');
  buildSourceTree(srcDir);
  expected = walkSource(srcDir);
});
after(() => tmp.cleanup());

function makeImage(config: Config, index: number): string {
  const img = join(tmp.path, `img${index}.ext`);
  run('truncate', ['-s', String(IMAGE_SIZE), img], 'coreutils');
  run('mkfs.ext4', ['-q', '-F', ...config.mkfs, '-d', srcDir, img], 'e2fsprogs');
  // -D rebuilds large directories as htrees.
  const fsck = run('sh', ['-c', `e2fsck -fyD ${img} >/dev/null 2>&1; echo $?`], 'e2fsprogs').trim();
  assert.ok(['0', '1'].includes(fsck), `e2fsck exit ${fsck}`);
  return img;
}

function readImage(img: string, offset: number, length: number): Buffer {
  const fd = openSync(img, 'r');
  try {
    const buf = Buffer.alloc(length);
    assert.equal(readSync(fd, buf, 0, length, offset), length);
    return buf;
  } finally {
    closeSync(fd);
  }
}

function inside(ranges: ByteRange[], offset: number, length: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid];
    if (r.offset + r.length <= offset) lo = mid + 1;
    else if (r.offset > offset) hi = mid - 1;
    else return offset + length <= r.offset + r.length;
  }
  return false;
}

CONFIGS.forEach((config, index) => {
  describe(config.name, () => {
    let img: string;
    let source: FileSource;
    let fs: FileSystem;
    let entries: Map<string, Entry>;
    let nodes: Map<string, DiskNode>;
    const warnings: string[] = [];

    before(async () => {
      img = makeImage(config, index);
      source = await openFileSource(img);
      const opened = await probeExt(source, { onWarning: (m) => warnings.push(m) });
      assert.ok(opened, 'probeExt should recognise the image');
      fs = opened;
      ({ entries, nodes } = await walkFs(fs));
    });
    after(() => source?.close());

    it('lists every entry with the type, mode, owner, size, links, target, device and content of the source', () => {
      assert.deepEqual(warnings, []);
      assert.equal(entries.size, expected.size);
      for (const [key, want] of expected) {
        assert.deepEqual(entries.get(key), want, `entry ${Buffer.from(key, 'hex').toString()}`);
      }
      assert.equal([...entries.keys()].filter((k) => Buffer.from(k, 'hex').toString().startsWith('bigdir/')).length, BIG_DIR_ENTRIES);
    });

    it('reads user, trusted and security xattrs', () => {
      for (const [rel, attrs] of Object.entries(EXPECTED_XATTRS)) {
        const got = nodes.get(pathKey(rel))?.xattrs ?? {};
        const want = Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, new Uint8Array(Buffer.from(v))]));
        assert.deepEqual(got, want, rel);
      }
      assert.equal(nodes.get(pathKey('medium.txt'))?.xattrs, undefined, 'system.data must not show as an xattr');
    });

    it('readFile stops at the file size and refuses one oversized read', async () => {
      const small = nodes.get(pathKey('small.txt'))!;
      assert.equal((await fs.readFile(small, 0, 1 << 20)).length, small.size);
      assert.equal((await fs.readFile(small, small.size + 10, 5)).length, 0);
      await assert.rejects(fs.readFile(nodes.get(pathKey('huge.bin'))!, 0, 300 << 20), /read in smaller pieces/);
    });

    it('maps hard links to one inode', () => {
      assert.equal(nodes.get(pathKey('hardlink.txt'))!.id, nodes.get(pathKey('small.txt'))!.id);
    });

    it('extents() agree with readFile() and with the raw image', async () => {
      let compared = 0;
      for (const [key, node] of nodes) {
        if (node.type !== 'file') continue;
        const extents = await fs.extents(node);
        if (extents === null) continue;
        let last = -1;
        for (const e of extents) {
          assert.ok(e.fileOffset > last && e.length > 0 && e.fileOffset + e.length <= node.size, `sorted, within size: ${key}`);
          last = e.fileOffset;
          const n = Math.min(e.length, 1 << 20);
          const viaReader = Buffer.from(await fs.readFile(node, e.fileOffset, n));
          assert.ok(viaReader.equals(readImage(img, e.diskOffset, n)), `extent of ${Buffer.from(key, 'hex').toString()} at ${e.fileOffset}`);
          compared += n;
        }
      }
      assert.ok(compared > 1 << 20, `compared only ${compared} bytes`);
      const huge = await fs.extents(nodes.get(pathKey('huge.bin'))!);
      assert.ok(huge && huge.reduce((s, e) => s + e.length, 0) < 1 << 20, 'the 5 GiB sparse file keeps its holes');
    });

    it('usedRanges() cover all file data and match the free block count', async () => {
      const ranges = await fs.usedRanges();
      for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i - 1].offset + ranges[i - 1].length < ranges[i].offset, 'sorted and merged');
      for (const [key, node] of nodes) {
        for (const e of (await fs.extents(node)) ?? []) {
          assert.ok(inside(ranges, e.diskOffset, e.length), `extent of ${Buffer.from(key, 'hex').toString()} lies in used ranges`);
        }
      }
      const total = ranges.reduce((s, r) => s + r.length, 0);
      const header = run('dumpe2fs', ['-h', img], 'e2fsprogs');
      const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(header)![1]);
      const inUse = (field('Block count') - field('Free blocks')) * field('Block size');
      assert.equal(total, inUse, 'used bytes equal (block count - free blocks) * block size');
      assert.ok(total < IMAGE_SIZE / 4, `a mostly empty file system uses ${total} bytes`);
    });

    if (config.check) it('really uses the feature under test', () => config.check!(img, fs, nodes));
  });
});

describe('inode details', () => {
  it('decodes nanoseconds and the epoch extension bits of timestamps', async () => {
    const img = makeImage(CONFIGS[0], 100);
    const ns = 123_456_789;
    run('debugfs', ['-w', '-R', `sif /nested/a/deep.txt mtime_extra ${ns * 4}`, img], 'e2fsprogs');
    run('debugfs', ['-w', '-R', `sif /nested/a/deep.txt atime 1000`, img], 'e2fsprogs');
    run('debugfs', ['-w', '-R', `sif /nested/a/deep.txt atime_extra ${(5 << 2) | 1}`, img], 'e2fsprogs');
    const source = await openFileSource(img);
    try {
      const fs = (await probeExt(source))!;
      const { nodes } = await walkFs(fs);
      const node = nodes.get(pathKey('nested/a/deep.txt'))!;
      assert.equal(node.mtimeNs, 1_700_000_000n * 1_000_000_000n + BigInt(ns));
      assert.equal(node.atimeNs, (1000n + 2n ** 32n) * 1_000_000_000n + 5n);
    } finally {
      await source.close();
    }
  });

  /** A small image of one file, made with `mkfs.ext4 -b 1024 extra... -d`. */
  function smallImage(name: string, content: Buffer, size: number, extra: string[]): string {
    const dir = join(tmp.path, `${name}-src`);
    run('mkdir', [dir], 'coreutils');
    writeFileSync(join(dir, 'f'), content);
    truncateSync(join(dir, 'f'), size);
    const img = join(tmp.path, `${name}.img`);
    run('truncate', ['-s', '8M', img], 'coreutils');
    run('mkfs.ext4', ['-q', '-F', '-b', '1024', ...extra, '-d', dir, img], 'e2fsprogs');
    return img;
  }

  async function onlyFile(img: string) {
    const source = await openFileSource(img);
    const fs = (await probeExt(source))!;
    const [node] = (await fs.list(fs.root())).filter((n) => Buffer.from(n.name).toString() === 'f');
    return { source, fs, node };
  }

  it('reads uninitialized extents as zeros, leaves them out of extents(), keeps them in usedRanges()', async () => {
    const data = Buffer.alloc(4096, 0x5a);
    const img = smallImage('uninit', data, 65536, []);
    run('debugfs', ['-w', '-R', 'fallocate /f 4 40', img], 'e2fsprogs');
    const m = /^\s*\d+\/\s*\d+\s+\d+\/\s*\d+\s+4 -\s+40\s+(\d+) -\s+(\d+)\s+37 Uninit/m.exec(debugfs(img, 'ex /f'));
    assert.ok(m, 'debugfs should show an uninitialized extent for blocks 4-40');
    const [first, last] = [Number(m[1]), Number(m[2])];
    // Stale bytes under the unwritten extent must not show through.
    const fd = openSync(img, 'r+');
    writeSync(fd, Buffer.alloc((last - first + 1) * 1024, 0xee), 0, (last - first + 1) * 1024, first * 1024);
    closeSync(fd);
    const { source, fs, node } = await onlyFile(img);
    try {
      assert.ok(Buffer.from(await fs.readFile(node, 0, node.size)).equals(Buffer.concat([data, Buffer.alloc(65536 - 4096)])));
      const extents = (await fs.extents(node))!;
      assert.equal(extents.reduce((s, e) => s + e.length, 0), 4096);
      assert.ok(inside(await fs.usedRanges(), first * 1024, (last - first + 1) * 1024), 'preallocated blocks are in use');
    } finally {
      await source.close();
    }
  });

  it('reads an xattr value stored in its own inode (ea_inode)', async () => {
    const img = smallImage('eainode', Buffer.from('x'), 1, ['-O', 'ea_inode']);
    const value = 'v'.repeat(3000);
    const dir = join(tmp.path, 'eainode-src');
    run('setfattr', ['-n', 'user.huge', '-v', value, join(dir, 'f')], 'attr');
    run('mkfs.ext4', ['-q', '-F', '-b', '1024', '-O', 'ea_inode', '-d', dir, img], 'e2fsprogs');
    assert.match(debugfs(img, 'stat /f'), /File ACL: 0\b/, 'the value must not sit in an xattr block');
    const { source, node } = await onlyFile(img);
    try {
      assert.deepEqual(node.xattrs, { 'user.huge': new Uint8Array(Buffer.from(value)) });
    } finally {
      await source.close();
    }
  });
});
