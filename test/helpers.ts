/** Shared by tests: temp dirs, running the CLI, and checksumming trees. */
import { createHash } from 'node:crypto';
import { promises as fs, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { getAttribute, listAttributes } from 'fs-xattr';

export const CAIRN_BIN = fileURLToPath(new URL('../../bin/cairn.js', import.meta.url));

const tempDirs: string[] = [];

/**
 * A fresh directory under the system's temp dir, removed when the test file's process
 * exits (repeated runs otherwise filled /tmp: 63 GB after a few days of test runs).
 */
export async function tempDir(prefix = 'cairn-test-'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  if (tempDirs.length === 0) process.on('exit', removeTempDirs);
  tempDirs.push(dir);
  return dir;
}

function removeTempDirs() {
  // A directory with something still mounted in it is left alone: removing through a
  // FUSE mount served by this very process would wait forever.
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((m): m is string => !!m);
  for (const dir of tempDirs) {
    if (mounts.some((m) => m === dir || m.startsWith(dir + '/'))) continue;
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // A file the test left read-only or busy: the rest is removed.
    }
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `cairn ARGS` with a weak KDF (fast tests) and the given env. */
export function cairn(args: string[], env: Record<string, string> = {}, opts: { input?: string | Uint8Array; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CAIRN_BIN, ...args], {
      env: { ...process.env, CAIRN_TEST_WEAK_KDF: '1', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The stdout of `cairn ARGS` as bytes (a dump), rejecting unless it exits 0. */
export function cairnStdout(args: string[], env: Record<string, string> = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CAIRN_BIN, ...args], { env: { ...process.env, CAIRN_TEST_WEAK_KDF: '1', ...env } });
    const parts: Buffer[] = [];
    child.stdout.on('data', (d) => parts.push(d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(parts)) : reject(new Error(`cairn ${args.join(' ')} exited ${code}`))));
  });
}

/** A repository in `dir` (packs of `packSize`, so blobs spread over packs) holding one backup of `src`. */
export async function repoWithBackup(dir: string, src: string, env: Record<string, string>, packSize: string): Promise<{ repo: string; g: string[] }> {
  const repo = path.join(dir, 'repo');
  const g = ['--repo', repo, '--cache-dir', path.join(dir, 'cache')];
  const init = await cairn([...g, 'init', '--pack-size', packSize], env);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const b = await cairn([...g, 'backup', src], env);
  if (b.code !== 0) throw new Error(`backup failed: ${b.stderr}`);
  return { repo, g };
}

export interface EntryDigest {
  desc: string;
  mtimeNs?: bigint;
}

/** Every entry below `root`: relative path -> type, mode, size, link target and SHA-256 of content. */
export async function treeDigest(root: string, opts: { times?: boolean; owners?: boolean; xattrs?: boolean } = {}): Promise<Map<string, EntryDigest>> {
  const out = new Map<string, EntryDigest>();
  const walk = async (dir: Buffer, rel: string) => {
    const names = (await fs.readdir(dir, { encoding: 'buffer' })) as Buffer[];
    for (const n of names) {
      const p = Buffer.concat([dir, Buffer.from('/'), n]);
      const r = `${rel}/${n.toString('base64')}`;
      const st = await fs.lstat(p, { bigint: true });
      let desc = `mode=${(st.mode & 0o7777n).toString(8)}`;
      if (opts.owners) desc += ` uid=${st.uid} gid=${st.gid}`;
      if ((st.isFile() || st.isDirectory()) && opts.xattrs && Buffer.from(p.toString()).equals(p)) {
        for (const x of (await listAttributes(p.toString())).sort()) desc += ` xattr:${x}=${(await getAttribute(p.toString(), x)).toString('hex')}`;
      }
      if (st.isFile()) desc += ` file size=${st.size} sha256=${createHash('sha256').update(await fs.readFile(p)).digest('hex')}`;
      else if (st.isDirectory()) desc = `dir ${desc}`;
      else if (st.isSymbolicLink()) desc = `symlink -> ${((await fs.readlink(p, { encoding: 'buffer' })) as Buffer).toString('base64')}`;
      else if (st.isFIFO()) desc = `fifo ${desc}`;
      else if (st.isCharacterDevice()) desc = `chardev ${st.rdev} ${desc}`;
      else if (st.isBlockDevice()) desc = `blockdev ${st.rdev} ${desc}`;
      out.set(r, { desc, mtimeNs: opts.times && !st.isSymbolicLink() ? st.mtimeNs : undefined });
      if (st.isDirectory()) await walk(p, r);
    }
  };
  await walk(Buffer.from(root), '');
  return out;
}

/** Differences; times may differ by 2 µs, since Node sets them from float seconds. */
export function diffDigests(a: Map<string, EntryDigest>, b: Map<string, EntryDigest>): string[] {
  const problems: string[] = [];
  for (const [k, v] of a) {
    const w = b.get(k);
    const name = Buffer.from(k.split('/').pop() ?? '', 'base64').toString();
    if (w?.desc !== v.desc) problems.push(`${name}: ${v.desc} != ${w?.desc ?? 'missing'}`);
    else if (v.mtimeNs !== undefined) {
      const d = v.mtimeNs - (w.mtimeNs ?? 0n);
      if (d > 2000n || d < -2000n) problems.push(`${name}: mtime ${v.mtimeNs} != ${w.mtimeNs}`);
    }
  }
  for (const k of b.keys()) if (!a.has(k)) problems.push(`extra: ${k}`);
  return problems;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Deterministic pseudo-random bytes (xorshift), so tests are repeatable. */
export function pseudoRandom(size: number, seed: number): Buffer {
  const n = Math.ceil(size / 4) * 4;
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b.subarray(0, size);
}
