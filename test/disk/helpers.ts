import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, fstatSync, readFileSync } from 'node:fs';
import type { ReadAt } from '../../disk/source.js';
import type { ByteRange, DiskNode, FileSystem, PhysicalExtent } from '../../disk/types.js';

/** Fails with a clear message when a Debian tool the test needs is missing. */
export function requireTool(tool: string, debianPackage: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'pipe', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
  } catch {
    throw new Error(`this test needs \`${tool}\`: apt-get install ${debianPackage}`);
  }
}

export function run(cmd: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin`, ...env } }).toString();
}

/** An image file as a ReadAt. */
export function fileSource(path: string): ReadAt & { close(): void } {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  return {
    size,
    async read(offset, length) {
      const n = Math.max(0, Math.min(length, size - offset));
      const buf = new Uint8Array(n);
      if (n > 0) readSync(fd, buf, 0, n, offset);
      return buf;
    },
    close: () => closeSync(fd),
  };
}

/** An in-memory image as a ReadAt. */
export function bufferSource(bytes: Uint8Array): ReadAt {
  return { size: bytes.length, read: async (o, l) => bytes.slice(o, Math.max(o, Math.min(bytes.length, o + l))) };
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
export const sha256File = (p: string) => sha256(readFileSync(p));

export interface WalkedFile {
  node: DiskNode;
  path: string;
}

/** Every node under the root, by path; directories are visited once (by id). */
export async function walk(fs: FileSystem, maxNodes = 100_000): Promise<Map<string, WalkedFile>> {
  const out = new Map<string, WalkedFile>();
  const seenDirs = new Set<number>();
  const queue: { dir: DiskNode; path: string }[] = [{ dir: fs.root(), path: '' }];
  while (queue.length > 0 && out.size < maxNodes) {
    const { dir, path } = queue.shift()!;
    if (seenDirs.has(dir.id)) continue;
    seenDirs.add(dir.id);
    for (const node of await fs.list(dir)) {
      const p = `${path}/${Buffer.from(node.name).toString('utf8')}`;
      out.set(p, { node, path: p });
      if (node.type === 'dir') queue.push({ dir: node, path: p });
    }
  }
  return out;
}

/** Reads a file through the extent map, to compare against readFile. */
export async function readViaExtents(src: ReadAt, size: number, extents: PhysicalExtent[]): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  for (const x of extents) out.set(await src.read(x.diskOffset, x.length), x.fileOffset);
  return out;
}

export function insideRanges(ranges: ByteRange[], x: { diskOffset: number; length: number }): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid];
    if (x.diskOffset < r.offset) hi = mid - 1;
    else if (x.diskOffset >= r.offset + r.length) lo = mid + 1;
    else return x.diskOffset + x.length <= r.offset + r.length;
  }
  return false;
}

export function assertSortedMerged(ranges: ByteRange[]): void {
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i].offset <= ranges[i - 1].offset + ranges[i - 1].length) throw new Error(`ranges not sorted/merged at ${i}`);
  }
}

/** Deterministic pseudo-random bytes (xorshift32), so content differs per file but not per run. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export function randomBytes(seed: number, n: number): Uint8Array {
  const next = prng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = next() & 0xff;
  return out;
}
