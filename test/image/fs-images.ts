/** Builds real disk images with the real tools, from one source tree. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pseudoRandom } from '../helpers.js';
import { makeNtfsImage, withNtfs3g } from '../disk/ntfs-image.js';
import { tool } from './tools.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A small tree with files of the sizes that matter: empty, sub-chunk, multi-chunk, holes. */
export async function makeSourceTree(dir: string, scale = 1, seed = 1): Promise<void> {
  await fs.mkdir(path.join(dir, 'docs/deep/nested'), { recursive: true });
  await fs.mkdir(path.join(dir, 'Users/ann'), { recursive: true });
  await fs.writeFile(path.join(dir, 'big.bin'), pseudoRandom(Math.round(3 * MiB * scale), seed));
  await fs.writeFile(path.join(dir, 'docs/readme.txt'), 'cairn image test\n'.repeat(1500));
  await fs.writeFile(path.join(dir, 'docs/deep/nested/small.dat'), pseudoRandom(4097, seed + 1));
  await fs.writeFile(path.join(dir, 'empty.txt'), '');
  await fs.writeFile(path.join(dir, 'Users/ann/photo.raw'), pseudoRandom(Math.round(1.5 * MiB * scale), seed + 2));
  await fs.writeFile(path.join(dir, 'Users/ann/zeros-then-data.bin'), Buffer.concat([Buffer.alloc(MiB), pseudoRandom(100 * KiB, seed + 3)]));
  await fs.writeFile(path.join(dir, 'Users/ünïcødé name.txt'), 'non-ASCII name\n');
}

/** Relative path -> SHA-256 of every regular file below dir. */
export async function fileHashes(dir: string, skip: (rel: string) => boolean = () => false): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string, rel: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (skip(r)) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p, r);
      else if (e.isFile()) out.set(r, createHash('sha256').update(await fs.readFile(p)).digest('hex'));
    }
  };
  await walk(dir, '');
  return out;
}

/** Entries the file systems add on their own. */
export const systemEntry = (rel: string) => rel === '/lost+found' || /^\/\$/.test(rel) || rel === '/System Volume Information';

async function sparseFile(file: string, size: number): Promise<void> {
  await fs.writeFile(file, '');
  await fs.truncate(file, size);
}

export async function ext4Image(file: string, src: string, size: number): Promise<void> {
  await sparseFile(file, size);
  tool('mkfs.ext4', ['-q', '-F', '-d', src, file], 'e2fsprogs');
}

export async function fatImage(file: string, src: string, size: number, bits: 12 | 16 | 32 = 16): Promise<void> {
  await sparseFile(file, size);
  tool('mkfs.fat', ['-F', String(bits), file], 'dosfstools');
  const names = await fs.readdir(src);
  if (names.length) tool('mcopy', ['-s', '-p', '-m', '-i', file, ...names.map((n) => path.join(src, n)), '::/'], 'mtools');
}

export async function ntfsImage(file: string, src: string, size: number): Promise<void> {
  tool('mkntfs', ['--version'], 'ntfs-3g');
  makeNtfsImage(file, size);
  await withNtfs3g(file, `${file}.mnt`, () => void execFileSync('cp', ['-r', `${src}/.`, `${file}.mnt`]));
  await fs.rmdir(`${file}.mnt`);
}

export interface PartitionSpec {
  sizeMiB: number;
  build: (file: string) => Promise<void>;
}

/**
 * A partitioned disk: each partition is built as its own file, then copied in at its
 * offset (sparse), after sfdisk wrote the table. Partitions start at 1 MiB, back to back.
 */
export async function partitionedImage(file: string, scheme: 'dos' | 'gpt', parts: PartitionSpec[]): Promise<void> {
  const total = 2 + parts.reduce((n, p) => n + p.sizeMiB, 0);
  await sparseFile(file, total * MiB);
  const script = [`label: ${scheme}`, ...parts.map((p) => `size=${p.sizeMiB}MiB, type=${scheme === 'gpt' ? 'linux' : '83'}`)].join('\n');
  tool('sfdisk', ['--quiet', file], 'fdisk', script + '\n');
  let start = 1;
  for (const [i, p] of parts.entries()) {
    const piece = `${file}.p${i + 1}`;
    await p.build(piece);
    tool('dd', [`if=${piece}`, `of=${file}`, 'bs=1M', `seek=${start}`, 'conv=notrunc,sparse', 'status=none'], 'coreutils');
    await fs.rm(piece);
    start += p.sizeMiB;
  }
}
