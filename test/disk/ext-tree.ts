/**
 * Builds the source tree the ext tests put into images with `mkfs.ext4 -d`, and walks
 * trees (the source on disk, or a FileSystem) into comparable records.
 */
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, symlinkSync, linkSync, writeFileSync, writeSync, chmodSync, lchownSync, utimesSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import type { DiskNode, FileSystem, NodeType } from '../../disk/types.js';
import { prng, randomBytes, run } from './tools.js';

export const BIG_DIR_ENTRIES = 600;
const GiB = 2 ** 30;
/** Files above this are compared by sampled windows rather than a whole-file hash. */
export const HASH_LIMIT = 128 << 20;

/** The xattrs set on the source, by relative path. */
export const EXPECTED_XATTRS: Record<string, Record<string, string>> = {
  'small.txt': { 'user.comment': 'hello', 'trusted.level': 'seven' },
  'nested/a/deep.txt': { 'user.big': 'x'.repeat(700), 'security.label': 'lbl' },
};

export function buildSourceTree(root: string): void {
  const rand = prng(42);
  const p = (...parts: string[]) => join(root, ...parts);
  mkdirSync(p('nested', 'a', 'b', 'c'), { recursive: true });
  writeFileSync(p('small.txt'), 'small file, fits inline\n');
  writeFileSync(p('medium.txt'), randomBytes(rand, 150)); // inline, continued in system.data
  writeFileSync(p('empty'), '');
  writeFileSync(p('nested', 'a', 'deep.txt'), 'deep\n');
  writeFileSync(p('nested', 'a', 'b', 'c', 'deeper.bin'), randomBytes(rand, 5000));
  writeFileSync(p('indirect.bin'), randomBytes(rand, 300 * 1024 + 17)); // > 12 blocks at any block size
  writeFileSync(p('double.bin'), randomBytes(rand, 1200 * 1024)); // double indirect at 1 KiB blocks

  mkdirSync(p('bigdir'));
  for (let i = 0; i < BIG_DIR_ENTRIES; i++) {
    const name = `entry-with-a-longish-name-${String(i).padStart(4, '0')}`;
    writeFileSync(p('bigdir', name), i % 50 === 0 ? `content ${i}\n` : '');
  }

  sparse(p('sparse.bin'), 20 << 20, [[0, randomBytes(rand, 4096)], [5 << 20, randomBytes(rand, 10000)], [(20 << 20) - 4096, randomBytes(rand, 4096)]]);
  // More than 4 extents do not fit in the inode: forces an extent tree of depth 1.
  // Sparse files end in data: mke2fs -d with inline_data drops a trailing hole from i_size.
  sparse(p('fragmented.bin'), 11 * 65536 + 4096, Array.from({ length: 12 }, (_, i): [number, Buffer] => [i * 65536, randomBytes(rand, 4096)]));
  sparse(p('triple.bin'), 70 << 20, [[(70 << 20) - 8192, randomBytes(rand, 8192)]]); // triple indirect at 1 KiB blocks
  sparse(p('huge.bin'), 5 * GiB, [[4.5 * GiB, randomBytes(rand, 6000)], [5 * GiB - 4096, randomBytes(rand, 4096)]]);

  symlinkSync('small.txt', p('fastlink'));
  symlinkSync('nested/a/b/c/' + 'long-target-name-'.repeat(5) + 'end', p('slowlink'));
  linkSync(p('small.txt'), p('hardlink.txt'));
  writeFileSync(Buffer.from([...Buffer.from(root + '/'), 0x6e, 0x6f, 0xff, 0xfe, 0x2e, 0x62]), 'latin-1 name\n');
  writeFileSync(p('héllo ✓.txt'), 'unicode\n');
  run('mkfifo', [p('fifo')], 'coreutils');
  run('mknod', [p('chardev'), 'c', '4', '70'], 'coreutils');
  run('mknod', [p('blockdev'), 'b', '259', '300000'], 'coreutils'); // needs the new dev_t encoding

  writeFileSync(p('setuid'), '#!/bin/sh\n');
  chmodSync(p('setuid'), 0o4755);
  lchownSync(p('setuid'), 100_000, 200_000); // ids above 16 bits
  utimesSync(p('nested', 'a', 'deep.txt'), 1_000_000_000.5, 1_700_000_000.25);

  for (const [rel, attrs] of Object.entries(EXPECTED_XATTRS)) {
    for (const [name, value] of Object.entries(attrs)) run('setfattr', ['-n', name, '-v', value, p(rel)], 'attr');
  }
}

function sparse(path: string, size: number, pieces: [number, Buffer][]): void {
  const fd = openSync(path, 'w');
  try {
    for (const [at, data] of pieces) writeSync(fd, data, 0, data.length, at);
  } finally {
    closeSync(fd);
  }
  truncateSync(path, size);
}

export interface Entry {
  type: NodeType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  /** Whole seconds: mkfs -d copies no nanoseconds. */
  mtimeS: bigint;
  target?: string;
  rdev?: string;
  /** SHA-256 of the content, or of sampled windows for files above HASH_LIMIT. */
  digest?: string;
}

function windows(size: number): [number, number][] {
  if (size <= HASH_LIMIT) return [[0, size]];
  const w = 1 << 20;
  return [[0, w], [Math.floor(size / 2), w], [4.5 * GiB, w], [size - w, w]].filter(([o]) => o < size).map(([o, l]) => [o, Math.min(l, size - o)]);
}

const key = (parts: Buffer[]) => Buffer.concat(parts.flatMap((x, i) => (i ? [Buffer.from('/'), x] : [x]))).toString('hex');

/** Records of the source tree, keyed by the hex of the raw relative path. */
export function walkSource(root: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const visit = (dir: Buffer, rel: Buffer[]) => {
    for (const name of readdirSync(dir, { encoding: 'buffer' })) {
      const full = Buffer.concat([dir, Buffer.from('/'), name]);
      const st = lstatSync(full, { bigint: true });
      const type: NodeType = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink'
        : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'chardev' : st.isBlockDevice() ? 'blockdev' : 'socket';
      const e: Entry = { type, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), size: type === 'dir' ? 0 : Number(st.size), nlink: type === 'dir' ? 0 : Number(st.nlink), mtimeS: st.mtimeNs / 1_000_000_000n };
      if (type === 'symlink') e.target = readlinkSync(full, { encoding: 'buffer' }).toString('hex');
      if (type === 'chardev' || type === 'blockdev') {
        const dev = st.rdev;
        e.rdev = `${((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)}:${(dev & 0xffn) | ((dev >> 12n) & ~0xffn)}`;
      }
      if (type === 'file') {
        const fd = openSync(full, 'r');
        const h = createHash('sha256');
        const buf = Buffer.alloc(1 << 20);
        for (const [off, len] of windows(e.size)) {
          for (let done = 0; done < len; ) {
            const n = readSync(fd, buf, 0, Math.min(buf.length, len - done), off + done);
            if (n === 0) break;
            h.update(buf.subarray(0, n));
            done += n;
          }
        }
        closeSync(fd);
        e.digest = h.digest('hex');
      }
      out.set(key([...rel, name]), e);
      if (type === 'dir') visit(full, [...rel, name]);
    }
  };
  visit(Buffer.from(root), []);
  return out;
}

/** The same records from a FileSystem, plus the nodes themselves for further checks. */
export async function walkFs(fs: FileSystem): Promise<{ entries: Map<string, Entry>; nodes: Map<string, DiskNode> }> {
  const entries = new Map<string, Entry>();
  const nodes = new Map<string, DiskNode>();
  const visit = async (dir: DiskNode, rel: Buffer[], depth: number) => {
    if (depth > 64) throw new Error('directory nesting deeper than 64: a cycle?');
    for (const n of await fs.list(dir)) {
      const path = [...rel, Buffer.from(n.name)];
      const k = key(path);
      if (Buffer.from(n.name).toString() === 'lost+found' && rel.length === 0) continue;
      const e: Entry = { type: n.type, mode: n.mode, uid: n.uid, gid: n.gid, size: n.type === 'dir' ? 0 : n.size, nlink: n.type === 'dir' ? 0 : n.nlink, mtimeS: n.mtimeNs / 1_000_000_000n };
      if (n.type === 'symlink') e.target = Buffer.from(await fs.readlink(n)).toString('hex');
      if (n.rdev) e.rdev = `${n.rdev.major}:${n.rdev.minor}`;
      if (n.type === 'file') {
        const h = createHash('sha256');
        for (const [off, len] of windows(n.size)) {
          for (let done = 0; done < len; done += 1 << 20) h.update(await fs.readFile(n, off + done, Math.min(1 << 20, len - done)));
        }
        e.digest = h.digest('hex');
      }
      entries.set(k, e);
      nodes.set(k, n);
      if (n.type === 'dir') await visit(n, path, depth + 1);
    }
  };
  await visit(fs.root(), [], 0);
  return { entries, nodes };
}

export function pathKey(rel: string): string {
  return key(rel.split('/').map((s) => Buffer.from(s)));
}
