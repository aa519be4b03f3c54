/**
 * Runs fuzz inputs in a worker thread. Off the test runner's thread there is no per-promise
 * bookkeeping, and the parent can terminate a worker stuck in a synchronous loop, which a
 * timer on the same thread could never interrupt.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { exerciseExt, exercisePartitions } from './fuzz-exercise.js';
import { fixGptChecksums, mutate, type Region } from './fuzz-tools.js';
import { prng } from './tools.js';

export interface FuzzTarget {
  name: string;
  image: Uint8Array;
  regions: Region[];
}

export interface FuzzJob {
  kind: 'ext' | 'partitions';
  targets: FuzzTarget[];
  seed: number;
  count: number;
}

/** Messages to the parent: `input` before each input, then `done` or `fail`. */
export type FuzzMessage =
  | { type: 'input'; index: number; context: string }
  | { type: 'done'; withWarnings: number; withErrors: number; slowestMs: number }
  | { type: 'fail'; message: string };

async function runJob(job: FuzzJob, post: (m: FuzzMessage) => void): Promise<void> {
  const rand = prng(job.seed);
  const exercise = job.kind === 'ext' ? exerciseExt : exercisePartitions;
  let withWarnings = 0;
  let withErrors = 0;
  let slowestMs = 0;
  for (let i = 0; i < job.count; i++) {
    const t = job.targets[i % job.targets.length];
    let bytes = t.image.slice();
    let what: string[];
    if (rand() < 0.05) {
      const keep = Math.floor(rand() * bytes.length);
      bytes = bytes.subarray(0, keep);
      what = [`truncate to ${keep}`];
    } else {
      what = mutate(bytes, t.regions, rand);
      // Half the GPT inputs get valid CRCs again, so damaged fields reach the entry parser.
      if (job.kind === 'partitions' && t.name.startsWith('gpt') && rand() < 0.5) {
        fixGptChecksums(bytes);
        what.push('CRCs fixed');
      }
    }
    const context = `#${i} ${t.name}: ${what.join('; ')}`;
    post({ type: 'input', index: i, context });
    const started = Date.now();
    const r = await exercise(bytes, context);
    slowestMs = Math.max(slowestMs, Date.now() - started);
    if (r.warnings) withWarnings++;
    if (r.errors) withErrors++;
  }
  post({ type: 'done', withWarnings, withErrors, slowestMs });
}

// Also loaded by `node --test` as a plain file: then there is no parent and it does nothing.
if (parentPort && workerData) {
  const port = parentPort;
  runJob(workerData as FuzzJob, (m) => port.postMessage(m)).catch((e: Error) =>
    port.postMessage({ type: 'fail', message: e.stack ?? String(e) } satisfies FuzzMessage),
  );
}
