/** Helpers shared by the disk/ tests: running Debian tools, temp dirs, in-memory sources. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReadAt } from '../../disk/source.js';

/** Runs a tool; a missing tool fails with the Debian package to install. */
export function run(tool: string, args: string[], pkg: string, input?: string): string {
  const r = spawnSync(tool, args, { input, encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(`${tool} is missing: install the Debian package "${pkg}"`);
  }
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

let tempBase: string | undefined;

/**
 * The source trees need user xattrs, which tmpfs lacks on older kernels: use the system
 * temp dir when it keeps them, else a folder in the working directory.
 */
function xattrCapableBase(): string {
  if (tempBase) return tempBase;
  const probe = mkdtempSync(join(tmpdir(), 'cairn-xattr-'));
  const ok = spawnSync('setfattr', ['-n', 'user.probe', '-v', '1', probe]).status === 0;
  rmSync(probe, { recursive: true, force: true });
  tempBase = ok ? tmpdir() : join(process.cwd(), '.test-tmp');
  mkdirSync(tempBase, { recursive: true });
  return tempBase;
}

export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(xattrCapableBase(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export function memorySource(buf: Uint8Array): ReadAt {
  return {
    size: buf.length,
    async read(offset, length) {
      return buf.subarray(Math.min(offset, buf.length), Math.min(offset + length, buf.length));
    },
  };
}

export function fileBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

/** A deterministic PRNG (mulberry32) so every run builds and mutates the same bytes. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

export function sh(cmd: string): string {
  return execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });
}
