/**
 * A storage holder who keeps a copy of an index file that prune has since replaced, and
 * puts it back, must not make cairn trust what it says: its packs may be gone, and a
 * backup that believed it would skip storing blobs that no longer exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { checkReport, jsonLines, makeRepo, restoreAll, TestRepo, writeSource } from '../lifecycle/lifecycle-helpers.js';

async function indexFiles(t: TestRepo): Promise<Map<string, Buffer>> {
  const dir = path.join(t.repo, 'index');
  const out = new Map<string, Buffer>();
  for (const n of await fs.readdir(dir)) if (!n.endsWith('.tmp')) out.set(n, await fs.readFile(path.join(dir, n)));
  return out;
}

async function putBack(t: TestRepo, files: Map<string, Buffer>): Promise<string[]> {
  const now = await indexFiles(t);
  const replayed: string[] = [];
  for (const [n, bytes] of files) {
    if (now.has(n)) continue;
    await fs.writeFile(path.join(t.repo, 'index', n), bytes);
    replayed.push(n);
  }
  assert.ok(replayed.length > 0, 'prune replaced at least one index file');
  return replayed;
}

/** A source whose only file is unique to one generation, so pruning that generation frees its blobs. */
async function uniqueGeneration(t: TestRepo, gen: number) {
  await writeSource(t.src, gen, 20);
  await fs.writeFile(path.join(t.src, 'only-once.bin'), Buffer.alloc(50_000, gen + 1));
}

/** The replayed index files are named by check and ignored by restore and backup. */
async function assertReplayHarmless(t: TestRepo, replayed: string[], label: string) {
  const c = await checkReport(t, ['--read-data']);
  for (const n of replayed) {
    assert.ok(c.problems.some((p) => p.object === `index/${n}`), `${label}: check names index/${n}: ${JSON.stringify(c.problems)}`);
  }
  assert.deepEqual(c.problems.filter((p) => p.severity === 'error'), [], `${label}: a superseded index file is not an error`);
  assert.equal(c.code, 0);
  // Whatever the cache read before, restore and the next backup see the replay too.
  await restoreAll(t, label);
}

test('an index file replaced by one prune and put back is named by check and ignored', async () => {
  const t = await makeRepo('16K');
  for (let gen = 0; gen < 3; gen++) {
    await uniqueGeneration(t, gen);
    await t.backup(`2024-06-0${gen + 1} 10:00:00`);
  }
  const before = await indexFiles(t);
  await t.ok(['forget', '--keep-last', '1', '--prune', '--max-unused', '0%']);
  const replayed = await putBack(t, before);
  await assertReplayHarmless(t, replayed, 'after one prune');

  // A blob only the forgotten snapshots used is gone; the replayed index still lists it.
  // A backup of that content must store it again, not trust the replayed entry.
  await uniqueGeneration(t, 0);
  await t.backup('2024-06-10 10:00:00');
  await assertReplayHarmless(t, replayed, 'after a backup of pruned content');

  const p = jsonLines((await t.ok(['prune', '--json'])).stdout).find((l) => l.message_type === 'prune_summary')!;
  assert.ok(p.index_files_replaced >= replayed.length);
  const c = await checkReport(t, ['--read-data']);
  assert.deepEqual(c.problems, [], 'the next prune removes the replayed index file');
});

test('an index file replaced two prunes ago and put back is still ignored', async () => {
  const t = await makeRepo('16K');
  let gen = 0;
  const nextBackup = async () => {
    await uniqueGeneration(t, gen);
    await t.backup(`2024-07-${String(gen + 1).padStart(2, '0')} 10:00:00`);
    gen++;
  };
  for (let i = 0; i < 3; i++) await nextBackup();
  const oldest = await indexFiles(t);
  await t.ok(['forget', '--keep-last', '1', '--prune', '--max-unused', '0%']);
  for (let i = 0; i < 2; i++) await nextBackup();
  await t.ok(['forget', '--keep-last', '1', '--prune', '--max-unused', '0%']);
  // The index file that superseded `oldest` is itself gone now.
  const replayed = await putBack(t, oldest);
  await assertReplayHarmless(t, replayed, 'after two prunes');

  // Content that only pruned snapshots had: a backup must store it again.
  gen = 0;
  await nextBackup();
  await assertReplayHarmless(t, replayed, 'after a backup of pruned content');
});
