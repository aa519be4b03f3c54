import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { checkReport, dataBytes, jsonLines, listSnapshots, makeRepo, restoreAll, writeSource } from './lifecycle-helpers.js';

test('forget --prune frees space, repacks partly used packs, and the rest restores byte for byte', async () => {
  const t = await makeRepo();
  const ids: string[] = [];
  for (let gen = 0; gen < 4; gen++) {
    await writeSource(t.src, gen);
    if (gen === 2) await fs.rm(path.join(t.src, 'small', 'f7.dat'));
    ids.push(await t.backup(`2024-03-0${gen + 1} 12:00:00`));
  }
  const before = await dataBytes(t.repo);

  const dry = jsonLines((await t.ok(['forget', '--keep-last', '2', '--prune', '--dry-run', '--json'])).stdout);
  assert.equal((await listSnapshots(t)).length, 4, 'a dry run removes nothing');
  assert.equal(await dataBytes(t.repo), before);
  const drySummary = dry.find((l) => l.message_type === 'prune_summary')!;
  assert.equal(drySummary.dry_run, true);

  const r = await t.ok(['forget', '--keep-last', '2', '--prune', '--max-unused', '5%', '--json']);
  const lines = jsonLines(r.stdout);
  const group = lines.find((l) => l.message_type === 'group')!;
  assert.deepEqual(group.keep.map((k: any) => [k.id, k.reasons]), [[ids[3], ['last snapshot']], [ids[2], ['last snapshot']]]);
  assert.deepEqual(group.remove.map((k: any) => k.id), [ids[1], ids[0]]);
  const s = lines.find((l) => l.message_type === 'prune_summary')!;
  assert.ok(s.delete_packs > 0, `deleted ${s.delete_packs} packs`);
  assert.ok(s.repack_packs > 0, `repacked ${s.repack_packs} packs`);
  assert.deepEqual(lines.filter((l) => l.message_type === 'prune_step').map((l) => l.step), ['index', 'snapshots', 'plan', 'repack', 'write-index', 'delete-index', 'delete-packs', 'done']);
  const after = await dataBytes(t.repo);
  assert.equal(before - after, s.bytes_freed, 'the bytes reported freed are the bytes that left data/');
  assert.ok(s.bytes_freed > 0);

  assert.deepEqual(await listSnapshots(t).then((l) => l.sort()), [ids[2], ids[3]].sort());
  const check = await checkReport(t, ['--read-data']);
  assert.equal(check.code, 0);
  assert.deepEqual(check.problems, [], 'no errors and no warnings after prune');
  assert.equal(check.summary.packs_read, check.summary.packs);
  assert.equal((await fs.readdir(path.join(t.repo, 'index'))).length, 1, 'one index file replaces the old ones');
  await restoreAll(t, 'after prune');

  // Nothing left to do: a second prune changes nothing.
  const again = jsonLines((await t.ok(['prune', '--json'])).stdout).find((l) => l.message_type === 'prune_summary')!;
  assert.equal(again.bytes_freed, 0);
  assert.equal(await dataBytes(t.repo), after);

  // A new backup still deduplicates against what prune kept and repacked.
  const b = jsonLines((await t.ok(['backup', '--json', t.src])).stdout).find((l) => l.message_type === 'summary')!;
  assert.equal(b.files_new + b.files_changed, 0);
});

test('a pack that no index lists is a warning for check, and prune deletes it', async () => {
  const t = await makeRepo();
  await writeSource(t.src, 0, 10);
  await t.backup('2024-01-01 00:00:00');
  const stray = Buffer.from('left behind by an interrupted backup');
  const name = createHash('sha256').update(stray).digest('hex');
  await fs.writeFile(path.join(t.repo, 'data', name.slice(0, 2), name), stray);

  const c = await checkReport(t);
  assert.equal(c.code, 0, 'a stray pack is not an error');
  assert.deepEqual(c.problems, [{ message_type: 'problem', severity: 'warning', object: `data/${name}`, message: 'is not in any index (left by an interrupted backup or prune; `cairn prune` deletes it)', affects: [] }]);

  const p = jsonLines((await t.ok(['prune', '--json'])).stdout).find((l) => l.message_type === 'prune_summary')!;
  assert.equal(p.unreferenced_packs, 1);
  assert.equal(p.bytes_freed, stray.length);
  await assert.rejects(fs.stat(path.join(t.repo, 'data', name.slice(0, 2), name)));
  assert.deepEqual((await checkReport(t)).problems, []);
  await restoreAll(t, 'after removing a stray pack');
});

test('prune refuses to touch a repository in which a used blob has lost its pack', async () => {
  const t = await makeRepo();
  await writeSource(t.src, 0, 10);
  await t.backup('2024-01-01 00:00:00');
  const index = (await fs.readdir(path.join(t.repo, 'index')))[0];
  const packs = JSON.parse((await t.ok(['cat', 'index', index])).stdout).packs as { id: string; blobs: { type: string }[] }[];
  const victim = packs.find((p) => p.blobs[0].type === 'data')!.id;
  await fs.rm(path.join(t.repo, 'data', victim.slice(0, 2), victim));
  const before = await dataBytes(t.repo);
  const r = await t.run(['prune']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`prune stopped before changing anything: \\d+ used blobs have no sound copy \\(e\\.g\\. [0-9a-f]{64}\\); pack ${victim} is missing; run \`cairn check\``));
  assert.equal(await dataBytes(t.repo), before);
  assert.deepEqual(await fs.readdir(path.join(t.repo, 'index')), [index]);
});
