/** Shared by the image tests: running Debian tools, repositories in temp dirs, sparse images. */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, promises as fs } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { CAIRN_BIN, cairn, tempDir } from '../helpers.js';

export const env = { CAIRN_PASSWORD: 'correct horse' };

/** Runs a tool; a missing tool fails with the Debian package to install. */
export function tool(cmd: string, args: string[], pkg: string, input?: string): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${cmd} is missing: install the Debian package "${pkg}"`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export async function sha256File(p: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export interface TestRepo {
  dir: string;
  g: string[];
  run: (args: string[], opts?: { timeoutMs?: number }) => ReturnType<typeof cairn>;
  ok: (args: string[]) => Promise<string>;
  json: (args: string[]) => Promise<Record<string, any>[]>;
}

export async function newRepo(dir?: string): Promise<TestRepo> {
  dir ??= await tempDir('cairn-image-');
  const repo = path.join(dir, `repo-${Math.random().toString(36).slice(2, 8)}`);
  const g = ['--repo', repo, '--cache-dir', path.join(dir, 'cache')];
  const run = (args: string[], opts?: { timeoutMs?: number }) => cairn([...g, ...args], env, opts);
  const ok = async (args: string[]) => {
    const r = await run(args);
    assert.equal(r.code, 0, `cairn ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const json = async (args: string[]) => (await ok([...args, '--json'])).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  await ok(['init']);
  return { dir, g, run, ok, json };
}

export function summaryOf(lines: Record<string, any>[]): Record<string, any> {
  const s = lines.find((l) => l.message_type === 'summary');
  assert.ok(s, 'a summary line');
  return s;
}

/** Bytes the file occupies on disk (sparse files take less than their size). */
export async function allocated(p: string): Promise<number> {
  return (await fs.stat(p)).blocks * 512;
}

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${what} needs root (losetup); run the tests as root`);
}

/** Attaches a loop device to a file; returns its path and a detach function. */
export function loopDevice(file: string): { dev: string; detach: () => void } {
  const dev = tool('losetup', ['--find', '--show', file], 'mount').trim();
  return { dev, detach: () => void tool('losetup', ['-d', dev], 'mount') };
}

/** `cairn ARGS > file`: stdout kept as raw bytes (the helpers' cairn() decodes it as text). */
export function cairnToFile(r: TestRepo, args: string[], file: string): Promise<{ code: number | null; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const out = openSync(file, 'w');
    const child = spawn(process.execPath, [CAIRN_BIN, ...r.g, ...args], { env: { ...process.env, CAIRN_TEST_WEAK_KDF: '1', ...env }, stdio: ['ignore', out, 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      closeSync(out);
      resolve({ code, stderr, ms: Date.now() - started });
    });
  });
}
