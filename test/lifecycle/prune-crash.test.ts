import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { CAIRN_BIN } from '../helpers.js';
import { checkReport, env, jsonLines, makeRepo, restoreAll, TestRepo, writeSource } from './lifecycle-helpers.js';

const KILLS = 20;

/**
 * Runs prune and kills it with SIGKILL `delayMs` after it announced its first step (so the
 * varying start-up time of node does not skew where kills land). Returns the steps it announced.
 */
function pruneKilledAfter(t: TestRepo, delayMs: number): Promise<{ steps: string[]; finished: boolean; ms: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CAIRN_BIN, ...t.g, 'prune', '--json', '--max-unused', '0%'], { env: { ...process.env, CAIRN_TEST_WEAK_KDF: '1', ...env } });
    let out = '';
    let err = '';
    let started = 0;
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d) => {
      out += d;
      if (!started) {
        started = Date.now();
        timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === null && code !== 0) reject(new Error(`prune failed on its own (exit ${code}): ${err}`));
      const steps = jsonLines(out.split('\n').filter((l) => l.endsWith('}')).join('\n')).filter((l) => l.message_type === 'prune_step').map((l) => l.step as string);
      resolve({ steps, finished: signal === null, ms: Date.now() - started });
    });
  });
}

test(`kill -9 at ${KILLS} moments during prune: check passes, every snapshot restores, the next backup works`, async (tc) => {
  const t = await makeRepo('16K');
  let gen = 0;
  const nextBackup = async () => {
    await writeSource(t.src, gen, 80);
    await t.backup(`2024-05-${String((gen % 28) + 1).padStart(2, '0')} 08:00:00`);
    gen++;
  };
  for (let i = 0; i < 3; i++) await nextBackup();

  // One prune run to the end tells how long a run takes here.
  await t.ok(['forget', '--keep-last', '2']);
  const full = await pruneKilledAfter(t, 60_000);
  assert.ok(full.finished);
  const reached: string[] = [];
  let estimate = full.ms;
  for (let i = 0; i < KILLS; i++) {
    await nextBackup();
    await t.ok(['forget', '--keep-last', '2']);
    // Spread the kills over a run; the estimate of its length shrinks when a run ends before its kill.
    const r = await pruneKilledAfter(t, Math.round((((i % 10) + Math.random()) / 10) * estimate));
    if (r.finished) estimate = Math.min(estimate, r.ms);
    reached.push(r.finished ? 'finished' : `killed after ${r.steps.at(-1) ?? 'start'}`);

    const [c] = await Promise.all([checkReport(t), restoreAll(t, `kill ${i} (${reached.at(-1)})`)]);
    assert.equal(c.code, 0, `kill ${i} (${reached.at(-1)}): check failed: ${JSON.stringify(c.problems)}`);
    assert.deepEqual(c.problems.filter((p) => p.severity === 'error'), []);
  }
  await nextBackup();
  tc.diagnostic(`prune takes ${full.ms} ms; kills landed: ${JSON.stringify(count(reached))}`);
  const killedIn = new Set(reached.filter((r) => r !== 'finished'));
  assert.ok(killedIn.size >= 3, `kills should land in different phases: ${JSON.stringify(count(reached))}`);

  // A prune run to the end cleans up whatever the interrupted ones left.
  const last = await pruneKilledAfter(t, 60_000);
  assert.ok(last.finished);
  const c = await checkReport(t, ['--read-data']);
  assert.equal(c.code, 0);
  assert.deepEqual(c.problems, []);
  await restoreAll(t, 'final');
});

function count(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}
