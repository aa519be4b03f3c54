/**
 * What every fault trial shares: a repository, the snapshots known to be complete with
 * what each must restore to, running cairn (also killed at a chosen moment), and the
 * checks after a trial: `check --read-data` passes, every snapshot restores
 * byte-identical, and the next backup succeeds.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CAIRN_BIN, cairn, diffDigests, EntryDigest, RunResult, sha256, treeDigest } from '../../test/helpers.js';

export type Expectation = { kind: 'files'; src: string; digest: Map<string, EntryDigest> } | { kind: 'image'; sha256: string };

export class TrialRepo {
  readonly repo: string;
  readonly g: string[];
  /** Snapshots known to be complete, and what each restores to. */
  readonly expected = new Map<string, Expectation>();
  env: Record<string, string>;
  private restores = 0;

  constructor(readonly dir: string, repo?: string, password = 'fault-matrix') {
    this.repo = repo ?? path.join(dir, 'repo');
    this.g = ['--repo', this.repo, '--cache-dir', path.join(dir, 'cache')];
    this.env = { CAIRN_PASSWORD: password };
  }

  run(args: string[], extraEnv: Record<string, string> = {}): Promise<RunResult> {
    return cairn([...this.g, ...args], { ...this.env, ...extraEnv }, { timeoutMs: 300_000 });
  }

  async ok(args: string[], extraEnv: Record<string, string> = {}): Promise<RunResult> {
    const r = await this.run(args, extraEnv);
    if (r.code !== 0) throw new Error(`cairn ${args.join(' ')} exited ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return r;
  }

  /**
   * Starts cairn and sends SIGKILL after `ms`, or as soon as `killOn` resolves; says
   * whether the kill came before it finished.
   */
  killedAfter(args: string[], ms: number, extraEnv: Record<string, string> = {}, killOn?: Promise<unknown>): Promise<{ killed: boolean; code: number | null; ms: number; stderr: string }> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const child = spawn(process.execPath, [CAIRN_BIN, ...this.g, ...args], {
        env: { ...process.env, CAIRN_TEST_WEAK_KDF: '1', ...this.env, ...extraEnv },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      void killOn?.then(() => child.kill('SIGKILL'));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ killed: signal === 'SIGKILL', code, ms: Date.now() - started, stderr });
      });
    });
  }

  /** Time of an uninterrupted run, to spread kills over. */
  async timed(args: string[], extraEnv: Record<string, string> = {}): Promise<number> {
    const t0 = Date.now();
    await this.ok(args, extraEnv);
    return Date.now() - t0;
  }

  async snapshotIds(): Promise<string[]> {
    const r = await this.ok(['snapshots', '--json']);
    return (JSON.parse(r.stdout) as { id: string }[]).map((s) => s.id);
  }

  /** Backs up and records what the snapshot must restore to. */
  async backupFiles(src: string, extra: string[] = []): Promise<string> {
    const digest = await treeDigest(src);
    const id = summaryId(await this.ok(['backup', '--json', ...extra, src]));
    this.expected.set(id, { kind: 'files', src, digest });
    return id;
  }

  async backupImage(image: string): Promise<string> {
    const want = sha256(await fs.readFile(image));
    const id = summaryId(await this.ok(['backup', '--json', '--image', image]));
    this.expected.set(id, { kind: 'image', sha256: want });
    return id;
  }

  /**
   * The checks after a trial. A snapshot that appeared during the trial (the kill came
   * after it was saved) must restore to `during`, what the interrupted run was given.
   * Returns what went wrong; empty when the trial succeeded.
   */
  async verify(during?: Expectation): Promise<string[]> {
    const problems: string[] = [];
    const ids = await this.snapshotIds();
    for (const id of ids) {
      if (this.expected.has(id)) continue;
      if (during) this.expected.set(id, during);
      else problems.push(`snapshot ${id.slice(0, 8)} appeared, but no complete run made it`);
    }
    const checked = async () => {
      const c = await this.run(['check', '--read-data', '--json']);
      if (c.code === 0) return [];
      const lines = c.stdout.trim().split('\n').filter((l) => l.includes('"problem"'));
      return [`check --read-data exited ${c.code}: ${lines.slice(0, 3).join(' ') || c.stderr.trim()}`];
    };
    const known = ids.filter((id) => this.expected.has(id));
    const results = await Promise.all([checked(), ...known.map((id) => this.restoreMatches(id, this.expected.get(id)!))]);
    return [...problems, ...results.flat()];
  }

  async restoreMatches(id: string, want: Expectation): Promise<string[]> {
    const target = path.join(this.dir, `restore-${this.restores++}`);
    try {
      if (want.kind === 'image') {
        const r = await this.run(['restore', id, '--image', '--target', target]);
        if (r.code !== 0) return [`restore of image ${id.slice(0, 8)} exited ${r.code}: ${r.stderr.trim()}`];
        return sha256(await fs.readFile(target)) === want.sha256 ? [] : [`image ${id.slice(0, 8)} restores with different bytes`];
      }
      const r = await this.run(['restore', id, '--target', target]);
      if (r.code !== 0) return [`restore of ${id.slice(0, 8)} exited ${r.code}: ${r.stderr.trim()}`];
      const diff = diffDigests(want.digest, await treeDigest(path.join(target, want.src)));
      return diff.length === 0 ? [] : [`snapshot ${id.slice(0, 8)} restores differently: ${diff.slice(0, 3).join('; ')}`];
    } finally {
      await fs.rm(target, { recursive: true, force: true });
    }
  }

  /** Keeps the newest `n` snapshots so that verifying stays cheap over many trials. */
  async keepLast(n: number): Promise<void> {
    await this.ok(['forget', '--keep-last', String(n)]);
    const left = new Set(await this.snapshotIds());
    for (const id of this.expected.keys()) if (!left.has(id)) this.expected.delete(id);
  }
}

export function summaryId(r: RunResult): string {
  const s = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((m) => m.message_type === 'summary');
  if (!s?.snapshot_id) throw new Error(`no summary in: ${r.stdout.slice(-300)}`);
  return s.snapshot_id as string;
}

/** The moment of trial i of n: spread evenly over `duration`, with some jitter. */
export function momentOf(i: number, n: number, duration: number): number {
  return Math.max(1, Math.round(((i % n) + Math.random()) / n * duration));
}

export async function filesBelow(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(root, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  }
  return out;
}
