/** A repository with small packs and a source tree that changes from one backup to the next. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CAIRN_BIN, cairn, diffDigests, EntryDigest, pseudoRandom, RunResult, tempDir, treeDigest } from '../helpers.js';

export const env = { CAIRN_PASSWORD: 'lifecycle' };

export interface TestRepo {
  dir: string;
  src: string;
  repo: string;
  g: string[];
  /** What each snapshot must restore to, and the source it was taken of. */
  expected: Map<string, { digest: Map<string, EntryDigest>; src: string }>;
  run(args: string[], extraEnv?: Record<string, string>): Promise<RunResult>;
  ok(args: string[], extraEnv?: Record<string, string>): Promise<RunResult>;
  backup(time: string, extra?: string[], src?: string): Promise<string>;
}

export async function makeRepo(packSize = '32K'): Promise<TestRepo> {
  const dir = await tempDir('cairn-life-');
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  const t = testRepo(dir, src, 'repo');
  await t.ok(['init', '--pack-size', packSize]);
  return t;
}

/** Commands on the repository `dir/name` (not created here), backing up `src`. */
export function testRepo(dir: string, src: string, name: string, repoEnv: Record<string, string> = env): TestRepo {
  const repo = path.join(dir, name);
  const g = ['--repo', repo, '--cache-dir', path.join(dir, 'cache')];
  const run = (args: string[], extraEnv: Record<string, string> = {}) => cairn([...g, ...args], { ...repoEnv, ...extraEnv });
  const ok = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const r = await run(args, extraEnv);
    assert.equal(r.code, 0, `cairn ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
    return r;
  };
  const t: TestRepo = {
    dir, src, repo, g, expected: new Map(), run, ok,
    async backup(time, extra = [], from = src) {
      const digest = await treeDigest(from);
      const r = await ok(['backup', '--json', '--time', time, ...extra, from]);
      const summary = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((m) => m.message_type === 'summary');
      t.expected.set(summary.snapshot_id, { digest, src: from });
      return summary.snapshot_id as string;
    },
  };
  return t;
}

/**
 * Small files (several per pack) and a few larger ones. Each generation changes a third of
 * the files, and a file keeps its last version, so packs of old generations end up partly used.
 */
export async function writeSource(src: string, generation: number, smallFiles = 60): Promise<void> {
  await fs.mkdir(path.join(src, 'small'), { recursive: true });
  await fs.mkdir(path.join(src, 'big'), { recursive: true });
  for (let i = 0; i < smallFiles; i++) {
    const version = lastChange(i, generation);
    await fs.writeFile(path.join(src, 'small', `f${i}.dat`), pseudoRandom(3000 + ((i * 977) % 5000), i * 1000 + version + 1));
  }
  for (let i = 0; i < 3; i++) {
    const version = lastChange(i, generation);
    await fs.writeFile(path.join(src, 'big', `b${i}.bin`), pseudoRandom(90_000 + i * 1000, 7_000_000 + i * 1000 + version));
  }
}

function lastChange(file: number, generation: number): number {
  for (let g = generation; g >= 1; g--) if ((file + g) % 3 === 0) return g;
  return 0;
}

export async function listSnapshots(t: TestRepo): Promise<string[]> {
  const r = await t.ok(['snapshots', '--json']);
  return (JSON.parse(r.stdout) as { id: string }[]).map((s) => s.id);
}

/** Restores every snapshot (in parallel) and compares each with what was backed up. */
export async function restoreAll(t: TestRepo, label: string): Promise<void> {
  const ids = await listSnapshots(t);
  await Promise.all(
    ids.map(async (id) => {
      const want = t.expected.get(id);
      assert.ok(want, `${label}: snapshot ${id} is not one the test made`);
      const target = path.join(t.dir, `restore-${id.slice(0, 8)}-${Date.now()}`);
      await t.ok(['restore', id, '--target', target]);
      assert.deepEqual(diffDigests(want.digest, await treeDigest(path.join(target, want.src))), [], `${label}: snapshot ${id.slice(0, 8)} restores differently`);
      await fs.rm(target, { recursive: true, force: true });
    }),
  );
}

export async function dataBytes(repo: string): Promise<number> {
  let n = 0;
  for (const d of await fs.readdir(path.join(repo, 'data'))) {
    for (const f of await fs.readdir(path.join(repo, 'data', d))) n += (await fs.stat(path.join(repo, 'data', d, f))).size;
  }
  return n;
}

export function jsonLines(stdout: string): Record<string, any>[] {
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export async function checkReport(t: TestRepo, extra: string[] = []): Promise<{ code: number | null; problems: Record<string, any>[]; summary: Record<string, any> }> {
  const r = await t.run(['check', '--json', ...extra]);
  const lines = jsonLines(r.stdout);
  return { code: r.code, problems: lines.filter((l) => l.message_type === 'problem'), summary: lines.find((l) => l.message_type === 'summary')! };
}

/** Every object of the repository but the locks, with its size. */
export async function repoFiles(t: TestRepo): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(t.repo, { recursive: true, withFileTypes: true })) {
    const p = path.join(e.parentPath ?? (e as any).path, e.name);
    if (e.isFile() && !p.includes(`${path.sep}locks${path.sep}`)) out.push(`${path.relative(t.repo, p)} ${(await fs.stat(p)).size}`);
  }
  return out.sort();
}

export interface IndexedBlobInfo {
  pack: string;
  type: string;
  offset: number;
  length: number;
  rawLength: number;
}

/** Blob id -> where the index places it, from every index file present. */
export async function blobPacks(t: TestRepo): Promise<Map<string, IndexedBlobInfo>> {
  const out = new Map<string, IndexedBlobInfo>();
  for (const name of await fs.readdir(path.join(t.repo, 'index'))) {
    for (const p of JSON.parse((await t.ok(['cat', 'index', name])).stdout).packs as { id: string; blobs: (Omit<IndexedBlobInfo, 'pack'> & { id: string })[] }[]) {
      for (const b of p.blobs) out.set(b.id, { pack: p.id, type: b.type, offset: b.offset, length: b.length, rawLength: b.rawLength });
    }
  }
  return out;
}

/** Starts `cairn ARGS` and kills it with SIGKILL after `ms`; resolves whether it was killed before it finished. */
export function killedAfter(args: string[], ms: number, extraEnv: Record<string, string> = env): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CAIRN_BIN, ...args], { env: { ...process.env, CAIRN_TEST_WEAK_KDF: '1', ...extraEnv }, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (_code, signal) => {
      clearTimeout(timer);
      resolve(signal === 'SIGKILL');
    });
  });
}
