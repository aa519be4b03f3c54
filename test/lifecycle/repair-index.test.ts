import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { checkReport, jsonLines, makeRepo, restoreAll, TestRepo, writeSource } from './lifecycle-helpers.js';

/** Three snapshots of a changing tree; each backup writes one index file. */
async function threeBackups(): Promise<TestRepo> {
  const t = await makeRepo('32K');
  for (let g = 0; g < 3; g++) {
    await writeSource(t.src, g);
    await t.backup(`2024-01-0${g + 1} 10:00:00`);
  }
  return t;
}

const indexFiles = async (t: TestRepo) => (await fs.readdir(path.join(t.repo, 'index'))).sort();

async function packsListed(t: TestRepo): Promise<Set<string>> {
  const out = new Set<string>();
  for (const name of await indexFiles(t)) for (const p of JSON.parse((await t.ok(['cat', 'index', name])).stdout).packs) out.add(p.id);
  return out;
}

async function repair(t: TestRepo, extra: string[] = []) {
  const r = await t.run(['repair', 'index', '--json', ...extra]);
  const lines = jsonLines(r.stdout);
  return { code: r.code, stderr: r.stderr, lines, summary: lines.find((l) => l.message_type === 'summary')! };
}

test('a damaged index file and a deleted one: repair index rebuilds the index from the packs, and every snapshot restores', async () => {
  const t = await threeBackups();
  const [damaged, deleted, sound] = await indexFiles(t);
  const file = path.join(t.repo, 'index', damaged);
  const bytes = await fs.readFile(file);
  bytes[bytes.length - 20] ^= 0x01;
  await fs.writeFile(file, bytes);
  await fs.rm(path.join(t.repo, 'index', deleted));
  const soundBytes = await fs.readFile(path.join(t.repo, 'index', sound));

  // Before: commands that need no index still work; every one that does stops, and says what to do.
  assert.equal((await t.ok(['snapshots', '--json'])).stdout.match(/"short_id"/g)?.length, 3);
  const before = await t.run(['restore', 'latest', '--target', path.join(t.dir, 'broken')]);
  assert.notEqual(before.code, 0);
  assert.match(before.stderr, new RegExp(`index/${damaged} is damaged: .*Run \`cairn repair index\``));

  const r = await repair(t);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.lines.filter((l) => l.message_type === 'damaged_index_file').map((l) => l.index_file), [damaged]);
  assert.equal(r.summary.index_files_replaced, 2);
  assert.ok(r.summary.packs_from_header > 0, 'the packs of the lost index files were read from their headers');
  assert.ok(r.summary.packs_from_index > 0, 'the sound index file was kept as it was');
  assert.equal(r.summary.packs_from_header + r.summary.packs_from_index, r.summary.packs);

  const after = await indexFiles(t);
  assert.equal(after.length, 1);
  assert.ok(!after.includes(sound) && !after.includes(damaged));
  const c = await checkReport(t);
  assert.equal(c.code, 0);
  assert.deepEqual(c.problems, [], 'the new index lists every pack, and every snapshot finds its blobs');
  await restoreAll(t, 'after repair');

  // A repair interrupted after writing the new index file, before deleting the old ones:
  // the new file supersedes them, so readers ignore them, damaged or not.
  await fs.writeFile(file, bytes);
  await fs.writeFile(path.join(t.repo, 'index', sound), soundBytes);
  await restoreAll(t, 'with the replaced index files back');
  const superseded = await checkReport(t);
  assert.equal(superseded.code, 0);
  assert.deepEqual(superseded.problems.map((p) => [p.severity, p.object]).sort(), [['warning', `index/${damaged}`], ['warning', `index/${sound}`]]);
  assert.equal((await repair(t)).summary.index_files_replaced, 3, 'the next repair deletes them');
  const after2 = await indexFiles(t);
  assert.equal(after2.length, 1);

  // A sound index is left alone.
  const again = await repair(t);
  assert.equal(again.code, 0);
  assert.equal(again.summary.index_files_replaced, 0);
  assert.equal(again.summary.packs_from_header, 0);
  assert.deepEqual(await indexFiles(t), after2);
  // The repaired repository takes new backups and prunes.
  await writeSource(t.src, 3);
  await t.backup('2024-01-04 10:00:00');
  await t.ok(['forget', '--keep-last', '2', '--prune']);
  await restoreAll(t, 'after a backup and a prune');
});

test('a listed pack that is gone is left out of the index, and check names what needed it', async () => {
  const t = await threeBackups();
  const [first] = await indexFiles(t);
  const gone = JSON.parse((await t.ok(['cat', 'index', first])).stdout).packs.find((p: { blobs: { type: string }[] }) => p.blobs.some((b) => b.type === 'data')).id as string;
  await fs.rm(path.join(t.repo, 'data', gone.slice(0, 2), gone));

  const r = await repair(t);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.lines.filter((l) => l.message_type === 'missing_pack').map((l) => l.pack), [gone]);
  assert.equal(r.summary.index_files_replaced, 3);
  const listed = await packsListed(t);
  assert.ok(!listed.has(gone));
  assert.equal(listed.size, r.summary.packs);

  const c = await checkReport(t);
  assert.equal(c.code, 1);
  assert.ok(c.problems.length > 0);
  for (const p of c.problems) assert.match(p.message, /is missing: no index lists it and no pack holds it/);
});

test('--read-all-packs: a damaged pack header is reported; kept while an index lists the pack, left out when none does', async () => {
  const t = await threeBackups();
  const [first] = await indexFiles(t);
  const victim = JSON.parse((await t.ok(['cat', 'index', first])).stdout).packs[0].id as string;
  const file = path.join(t.repo, 'data', victim.slice(0, 2), victim);
  const bytes = await fs.readFile(file);
  bytes[bytes.length - 10] ^= 0x01; // inside the sealed header, before its 4-byte length
  await fs.writeFile(file, bytes);

  // Without the flag the listed pack's header is not read at all.
  assert.equal((await repair(t)).summary.packs_from_header, 0);
  const r = await repair(t, ['--read-all-packs']);
  assert.equal(r.code, 1, 'a pack that cannot be read is an error');
  assert.deepEqual(r.lines.filter((l) => l.message_type === 'unreadable_pack').map((l) => [l.pack, l.indexed]), [[victim, true]]);
  assert.equal(r.summary.index_files_replaced, 0, 'every other header agrees with the index');
  assert.ok((await packsListed(t)).has(victim));
  await restoreAll(t, 'with a damaged header, read by offset');

  // With the index file that listed it gone, nothing says what the pack holds.
  await fs.rm(path.join(t.repo, 'index', first));
  const lost = await repair(t);
  assert.equal(lost.code, 1);
  assert.deepEqual(lost.lines.filter((l) => l.message_type === 'unreadable_pack').map((l) => [l.pack, l.indexed]), [[victim, false]]);
  assert.ok(lost.lines.some((l) => l.message_type === 'error' && new RegExp(`data/${victim}: its header cannot be read .*its blobs are not indexed`).test(l.error)));
  const listed = await packsListed(t);
  assert.ok(!listed.has(victim));
  assert.equal(listed.size, lost.summary.packs - 1);
});
