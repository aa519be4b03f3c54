/**
 * Crash and fault matrix: repeated trials per fault, each at a different moment, and how
 * many of them left a repository that checks, restores and takes the next backup.
 *
 *   npm run build && TRIALS=100 node dist/bench/fault-matrix.js
 *
 * TRIALS (default 100), CASES (comma list, default all: backup, backup-image, prune,
 * key-passwd, full-disk, read-error), WORK (default a new directory under /tmp; kept
 * when KEEP=1). Needs root (tmpfs and FUSE mounts), mkfs.ext4 and fuse3.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CaseName, CaseResult, CASES, runCase } from './faults/cases.js';

async function main() {
  const trials = Number(process.env.TRIALS ?? 100);
  if (!Number.isInteger(trials) || trials < 1) throw new Error(`TRIALS must be a positive integer, not ${process.env.TRIALS}`);
  const cases = (process.env.CASES?.split(',').map((c) => c.trim()) ?? CASES) as CaseName[];
  for (const c of cases) if (!CASES.includes(c)) throw new Error(`unknown case ${c}; cases: ${CASES.join(', ')}`);
  const work = process.env.WORK ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-faults-')));
  const results: CaseResult[] = [];
  try {
    for (const c of cases) {
      const t0 = Date.now();
      const r = await runCase(c, path.join(work, c), trials, (l) => console.error(l));
      results.push(r);
      console.error(`${c}: ${r.succeeded}/${r.trials} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
  } finally {
    if (process.env.KEEP !== '1') await fs.rm(work, { recursive: true, force: true });
  }
  console.log('| case | trials | succeeded | where the faults landed |');
  console.log('|---|---:|---:|---|');
  for (const r of results) console.log(`| ${r.name} | ${r.trials} | ${r.succeeded} | ${Object.entries(r.landed).map(([k, v]) => `${k}: ${v}`).join(', ')} |`);
  const failures = results.flatMap((r) => r.failures.map((f) => `${r.name} ${f}`));
  for (const f of failures) console.log(`FAILED ${f}`);
  process.exitCode = failures.length > 0 ? 1 : 0;
}

main().catch((err) => {
  console.error(`fault-matrix: ${(err as Error).message}`);
  process.exitCode = 1;
});
