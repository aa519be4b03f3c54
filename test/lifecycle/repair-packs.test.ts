import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { sha256, tempDir } from '../helpers.js';
import { blobPacks, checkReport, IndexedBlobInfo, jsonLines, killedAfter, makeRepo, restoreAll, TestRepo, testRepo, writeSource } from './lifecycle-helpers.js';

const packPath = (t: TestRepo, id: string) => path.join(t.repo, 'data', id.slice(0, 2), id);

/** Two snapshots, and a data pack of the first holding several blobs. */
async function twoSnapshots() {
  const t = await makeRepo('64K');
  await writeSource(t.src, 1);
  await t.backup('2024-03-01 10:00:00');
  const blobs = await blobPacks(t);
  const perPack = new Map<string, string[]>();
  for (const [id, b] of blobs) if (b.type === 'data') perPack.set(b.pack, [...(perPack.get(b.pack) ?? []), id]);
  const [pack, inPack] = [...perPack].sort((a, b) => b[1].length - a[1].length)[0];
  assert.ok(inPack.length >= 4, `a pack with several blobs: ${inPack.length}`);
  await writeSource(t.src, 2);
  await t.backup('2024-03-02 10:00:00');
  return { t, blobs, pack, inPack };
}

/** Flips a bit in the middle of a blob's stored bytes; returns the damaged pack's bytes. */
async function damageBlob(t: TestRepo, b: IndexedBlobInfo): Promise<Buffer> {
  const bytes = await fs.readFile(packPath(t, b.pack));
  bytes[b.offset + (b.length >> 1)] ^= 0x40;
  await fs.writeFile(packPath(t, b.pack), bytes);
  return bytes;
}

async function repairPacks(t: TestRepo, args: string[]) {
  const r = await t.run(['repair', 'packs', '--json', ...args]);
  const lines = jsonLines(r.stdout);
  return { ...r, packs: lines.filter((l) => l.message_type === 'pack'), summary: lines.find((l) => l.message_type === 'summary')! };
}

test('repair packs keeps the sound blobs of a damaged pack and saves a copy; backup --force then makes the old snapshot whole', async () => {
  const { t, blobs, pack, inPack } = await twoSnapshots();
  const bytes = await damageBlob(t, blobs.get(inPack[1])!);
  const before = await checkReport(t, ['--read-data']);
  assert.equal(before.code, 1);
  assert.ok(JSON.stringify(before.problems).includes(pack), 'check --read-data names the pack');

  const saveTo = path.join(t.dir, 'damaged');
  const r = await repairPacks(t, [pack.slice(0, 12), '--save-to', saveTo]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.packs.length, 1);
  assert.equal(r.packs[0].pack, pack);
  assert.deepEqual(r.packs[0].lost.map((b: { id: string }) => b.id), [inPack[1]]);
  assert.equal(r.packs[0].salvaged, r.packs[0].blobs - 1);
  assert.equal(r.summary.blobs_lost, 1);
  assert.match(r.stdout + r.stderr, /cairn backup --force/);
  assert.equal(sha256(await fs.readFile(path.join(saveTo, pack))), sha256(bytes), 'the copy is the damaged pack, byte for byte');
  await assert.rejects(fs.access(packPath(t, pack)), 'the damaged pack is gone');

  // Only the lost blob is missing now, and check says so without reading data.
  const after = await checkReport(t);
  assert.equal(after.code, 1);
  const missing = JSON.stringify(after.problems);
  assert.ok(missing.includes(inPack[1]), missing);
  for (const id of inPack.filter((_, i) => i !== 1)) assert.ok(!missing.includes(id), `salvaged blob ${id} reported`);

  // The files of the first snapshot, as they were: a backup that reads every file stores
  // the lost blob again, under the same id, and the first snapshot is whole again.
  await writeSource(t.src, 1);
  await t.backup('2024-03-03 10:00:00', ['--force']);
  const healed = await checkReport(t, ['--read-data']);
  assert.equal(healed.code, 0, JSON.stringify(healed.problems));
  await restoreAll(t, 'after repair packs and backup --force');
});

test('repair packs of a pack whose header is damaged takes its blobs from the index and loses nothing', async () => {
  const { t, pack, inPack } = await twoSnapshots();
  const bytes = await fs.readFile(packPath(t, pack));
  bytes[bytes.length - 10] ^= 0x01;
  await fs.writeFile(packPath(t, pack), bytes);
  assert.equal((await checkReport(t, ['--read-data'])).code, 1);
  const r = await repairPacks(t, [pack, '--save-to', path.join(t.dir, 'damaged')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.packs[0].header_problem, /authentication/);
  assert.equal(r.packs[0].salvaged, inPack.length);
  assert.equal(r.summary.blobs_lost, 0);
  const c = await checkReport(t, ['--read-data']);
  assert.equal(c.code, 0, JSON.stringify(c.problems));
  await restoreAll(t, 'after repairing a pack header');
});

test('repair packs names a pack it cannot find, and needs at least one', async () => {
  const t = await makeRepo('64K');
  await writeSource(t.src, 1, 5);
  await t.backup('2024-03-01 10:00:00');
  const none = await t.run(['repair', 'packs', 'abcdef0123456789']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /pack abcdef0123456789: no such pack in the repository .*cairn repair index/);
  const empty = await t.run(['repair', 'packs']);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /needs the ids of the damaged packs/);
  const flag = await t.run(['repair', 'index', '--save-to', '/tmp']);
  assert.match(flag.stderr, /--save-to: only `repair packs` takes this/);
  assert.equal((await checkReport(t, ['--read-data'])).code, 0, 'nothing was changed');
});

test('kill -9 at several moments of repair packs: no problem but the lost blob, and the next run finishes the job', async () => {
  const { t, blobs, pack, inPack } = await twoSnapshots();
  const bytes = await damageBlob(t, blobs.get(inPack[1])!);
  const saveTo = path.join(t.dir, 'damaged');
  // How long a whole run takes, on a copy of the repository (with a cache of its own), to
  // spread the kills over it.
  const probe = testRepo(await tempDir('cairn-life-'), t.src, 'repo');
  await fs.cp(t.repo, probe.repo, { recursive: true });
  const t0 = Date.now();
  assert.equal((await repairPacks(probe, [pack, '--save-to', saveTo])).code, 0);
  const duration = Date.now() - t0;

  const trials = 6;
  let killed = 0;
  for (let i = 0; i < trials; i++) {
    if (await killedAfter([...t.g, 'repair', 'packs', pack, '--save-to', saveTo], Math.round((duration * (i + 0.5)) / trials))) killed++;
    const c = await checkReport(t);
    const errors = c.problems.filter((p) => p.severity !== 'warning');
    // The lost blob: missing, or (killed between the new index and the delete) still in
    // the damaged pack, which no index lists any more.
    assert.ok(errors.every((p) => p.object === `blob ${inPack[1]}` || p.object === `data/${pack}`), JSON.stringify(errors));
    try {
      await fs.access(packPath(t, pack));
    } catch {
      break; // a run got as far as the delete
    }
  }
  assert.ok(killed >= 1, `${killed} of the runs were killed before they finished`);
  let present = true;
  await fs.access(packPath(t, pack)).catch(() => (present = false));
  // Still listed, or left unindexed by a run killed after its new index: a run finishes it.
  if (present) assert.equal((await repairPacks(t, [pack, '--save-to', saveTo])).code, 0);
  await writeSource(t.src, 1);
  await t.backup('2024-03-03 10:00:00', ['--force']);
  await t.ok(['prune']);
  const healed = await checkReport(t, ['--read-data']);
  assert.equal(healed.code, 0, JSON.stringify(healed.problems));
  await restoreAll(t, 'after interrupted runs of repair packs');
});
