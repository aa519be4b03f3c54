import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pseudoRandom, treeDigest } from '../helpers.js';
import { blobPacks, checkReport, jsonLines, listSnapshots, makeRepo, repoFiles, restoreAll, TestRepo } from './lifecycle-helpers.js';

const removePack = (t: TestRepo, id: string) => fs.rm(path.join(t.repo, 'data', id.slice(0, 2), id));

interface LsNode {
  path: string;
  type: string;
  subtree?: string;
}

async function lsNodes(t: TestRepo, id: string): Promise<LsNode[]> {
  return jsonLines((await t.ok(['ls', '--json', id])).stdout).filter((l) => l.message_type === 'node') as LsNode[];
}

/** The tree blob id of directory `dir` in snapshot `id`. */
async function subtreeOf(t: TestRepo, id: string, dir: string): Promise<string> {
  return (await lsNodes(t, id)).find((n) => n.path === dir)!.subtree!;
}

/** The content blob ids of `file` in snapshot `id`, read from its directory's tree blob. */
async function contentOf(t: TestRepo, id: string, file: string): Promise<string[]> {
  const tree = JSON.parse((await t.ok(['cat', 'blob', await subtreeOf(t, id, path.dirname(file))])).stdout) as { nodes: { name: string; content?: string[] }[] };
  return tree.nodes.find((n) => n.name === path.basename(file))!.content!;
}


async function repair(t: TestRepo, extra: string[] = []) {
  const r = await t.run(['repair', 'snapshots', '--json', ...extra]);
  const lines = jsonLines(r.stdout);
  const errors = lines.filter((l) => l.message_type === 'error').map((l) => l.error as string).join('\n');
  return { ...r, lines, errors, summary: lines.find((l) => l.message_type === 'summary')! };
}

/** A copy of the source as it is now, to build what a repaired snapshot must restore to. */
async function keepCopy(t: TestRepo, name: string): Promise<string> {
  const copy = path.join(t.dir, name);
  await fs.cp(t.src, copy, { recursive: true });
  return copy;
}

/**
 * Three snapshots. s1: docs/a.txt, docs/b.txt, big/x.bin (90,000 bytes, a pack of its own
 * with 32 KiB packs) and big/multi.bin (3 MiB, several chunks, each in a pack of its own).
 * s2: x.bin changed. s3: docs/a.txt changed, multi.bin deleted.
 */
async function threeSnapshots() {
  const t = await makeRepo('32K');
  const multi = pseudoRandom(3 * 1024 * 1024, 77);
  await fs.mkdir(path.join(t.src, 'docs'));
  await fs.mkdir(path.join(t.src, 'big'));
  await fs.writeFile(path.join(t.src, 'docs/a.txt'), pseudoRandom(3000, 1));
  await fs.writeFile(path.join(t.src, 'docs/b.txt'), pseudoRandom(5000, 2));
  await fs.writeFile(path.join(t.src, 'big/x.bin'), pseudoRandom(90000, 3));
  await fs.writeFile(path.join(t.src, 'big/multi.bin'), multi);
  const s1 = await t.backup('2024-03-01 10:00:00');
  const c1 = await keepCopy(t, 'copy-1');
  await fs.writeFile(path.join(t.src, 'big/x.bin'), pseudoRandom(91000, 4));
  const s2 = await t.backup('2024-03-02 10:00:00');
  const c2 = await keepCopy(t, 'copy-2');
  await fs.writeFile(path.join(t.src, 'docs/a.txt'), pseudoRandom(3500, 5));
  await fs.rm(path.join(t.src, 'big/multi.bin'));
  const s3 = await t.backup('2024-03-03 10:00:00');
  return { t, s1, s2, s3, c1, c2, multi };
}

test('lost data packs: check fails and prune refuses; after repair index and repair snapshots --forget, check is clean, prune runs, and each snapshot restores to its source less the lost content', async () => {
  const { t, s1, s2, s3, c1, c2, multi } = await threeSnapshots();
  const x = path.join(t.src, 'big/x.bin');
  const m = path.join(t.src, 'big/multi.bin');
  const blobs = await blobPacks(t);
  const [xBlob] = await contentOf(t, s1, x);
  const chunks = await contentOf(t, s1, m);
  assert.ok(chunks.length >= 3, `multi.bin has ${chunks.length} chunks; the test needs at least 3`);
  const sizes = chunks.map((c) => blobs.get(c)!.rawLength);
  assert.equal(sizes.reduce((a, b) => a + b, 0), multi.length);
  const lostPacks = [blobs.get(xBlob)!.pack, blobs.get(chunks[1])!.pack];
  // Nothing else lives in those packs, so exactly these blobs are lost.
  const lostBlobs = [...blobs].filter(([, b]) => lostPacks.includes(b.pack)).map(([id]) => id).sort();
  assert.deepEqual(lostBlobs, [xBlob, chunks[1]].sort());
  for (const p of lostPacks) await removePack(t, p);

  // Before: check names the files, prune refuses and says what to do.
  const before = await checkReport(t);
  assert.equal(before.code, 1);
  assert.deepEqual(before.problems.map((p) => p.object).sort(), lostPacks.map((p) => `data/${p}`).sort());
  for (const p of before.problems) assert.match(p.message, /`cairn repair index` drops it from the index, then `cairn repair snapshots`/);
  const pr = await t.run(['prune']);
  assert.equal(pr.code, 1);
  assert.match(pr.stderr, /prune stopped before changing anything: .*`cairn repair snapshots`/);

  // The index still lists the lost packs: repair snapshots stops and asks for repair index first.
  const files = await repoFiles(t);
  const early = await repair(t, ['--forget']);
  assert.equal(early.code, 1);
  assert.match(early.errors, /the index lists 2 packs that are gone .*: run `cairn repair index` first/);
  assert.deepEqual(await repoFiles(t), files, 'nothing written');
  assert.deepEqual((await listSnapshots(t)).sort(), [s1, s2, s3].sort());

  await t.ok(['repair', 'index']);
  const afterIndex = await checkReport(t);
  assert.equal(afterIndex.code, 1);
  for (const p of afterIndex.problems) assert.match(p.message, /is missing: no index lists it and no pack holds it; `cairn repair snapshots` removes what needs it/);

  // --dry-run says what would change, and writes nothing.
  const filesBefore = await repoFiles(t);
  const dry = await repair(t, ['--dry-run', '--forget']);
  assert.equal(dry.code, 0, dry.stdout);
  const changed = (lines: Record<string, any>[]) => lines.filter((l) => l.message_type === 'changed').map((l) => [l.snapshot_id, l.path, l.type, l.reason, l.missing_blobs, l.size_after]);
  const kept = sizes[0] + sizes.slice(2).reduce((a, b) => a + b, 0);
  const want = [
    [s1, m, 'file', 'missing-content', 1, kept],
    [s1, x, 'file', 'missing-content', 1, 0],
    [s2, m, 'file', 'missing-content', 1, kept],
  ];
  assert.deepEqual(changed(dry.lines), want);
  assert.ok(dry.lines.filter((l) => l.message_type === 'changed').every((l) => l.dry_run === true));
  assert.deepEqual([dry.summary.repaired, dry.summary.unchanged, dry.summary.forgotten], [2, 1, 0]);
  assert.deepEqual(await repoFiles(t), filesBefore, 'a dry run writes nothing');

  const dirsBefore = new Map<string, { docs: string; big: string }>();
  for (const id of [s1, s2]) dirsBefore.set(id, { docs: await subtreeOf(t, id, path.join(t.src, 'docs')), big: await subtreeOf(t, id, path.join(t.src, 'big')) });
  const r = await repair(t, ['--forget']);
  assert.equal(r.code, 0, r.stdout);
  assert.deepEqual(changed(r.lines), want);
  const repaired = r.lines.filter((l) => l.message_type === 'repaired');
  assert.deepEqual(repaired.map((l) => l.snapshot_id), [s1, s2]);
  assert.deepEqual(r.lines.filter((l) => l.message_type === 'unchanged').map((l) => l.snapshot_id), [s3]);
  const text = await t.run(['repair', 'snapshots', '--dry-run']);
  assert.match(text.stdout, /nothing to repair/);

  const now = await listSnapshots(t);
  const n1 = repaired[0].new_id as string;
  const n2 = repaired[1].new_id as string;
  assert.deepEqual([...now].sort(), [n1, n2, s3].sort(), 'the unaffected snapshot keeps its id; the originals are gone');
  for (const [n, old] of [[n1, s1], [n2, s2]]) {
    const s = JSON.parse((await t.ok(['cat', 'snapshot', n])).stdout);
    assert.equal(s.original, old);
    assert.deepEqual(s.tags, [], 'with --forget no `repaired` tag, as restic');
  }
  // Unchanged subtrees keep their tree ids; the trees above a change are new.
  for (const [n, old] of [[n1, s1], [n2, s2]]) {
    assert.equal(await subtreeOf(t, n, path.join(t.src, 'docs')), dirsBefore.get(old)!.docs);
    assert.notEqual(await subtreeOf(t, n, path.join(t.src, 'big')), dirsBefore.get(old)!.big);
  }

  // What each repaired snapshot must restore to: x.bin empty, multi.bin the chunks that remain, joined.
  const joined = Buffer.concat([multi.subarray(0, sizes[0]), multi.subarray(sizes[0] + sizes[1])]);
  await fs.writeFile(path.join(c1, 'big/x.bin'), '');
  for (const c of [c1, c2]) await fs.writeFile(path.join(c, 'big/multi.bin'), joined);
  t.expected.set(n1, { digest: await treeDigest(c1), src: t.src });
  t.expected.set(n2, { digest: await treeDigest(c2), src: t.src });

  const after = await checkReport(t);
  assert.equal(after.code, 0);
  assert.deepEqual(after.problems, []);
  await t.ok(['prune', '--max-unused', '0%']);
  assert.deepEqual((await checkReport(t, ['--read-data'])).problems, []);
  await restoreAll(t, 'after repair and prune');

  // A second run finds nothing to repair and writes nothing.
  const files2 = await repoFiles(t);
  const again = await repair(t, ['--forget']);
  assert.equal(again.code, 0);
  assert.deepEqual([again.summary.repaired, again.summary.unchanged], [0, 3]);
  assert.deepEqual(await repoFiles(t), files2);
  assert.deepEqual(await listSnapshots(t), now);
});

test('a lost tree pack: a subdirectory whose tree is gone becomes an empty directory; a snapshot whose root tree is gone is reported for forget; without --forget the originals stay, tagged copies are added', async () => {
  // Few small files: each backup's trees fit in one pack.
  const t = await makeRepo('32K');
  for (const d of ['docs', 'small', 'big']) await fs.mkdir(path.join(t.src, d));
  await fs.writeFile(path.join(t.src, 'docs/a.txt'), pseudoRandom(3000, 1));
  await fs.writeFile(path.join(t.src, 'docs/b.txt'), pseudoRandom(5000, 2));
  await fs.writeFile(path.join(t.src, 'small/c.txt'), pseudoRandom(2000, 3));
  await fs.writeFile(path.join(t.src, 'big/x.bin'), pseudoRandom(90000, 4));
  const s1 = await t.backup('2024-04-01 10:00:00');
  // The second backup reuses docs' tree from the first one's tree pack; every other tree is new.
  await fs.writeFile(path.join(t.src, 'small/c.txt'), pseudoRandom(2100, 5));
  await fs.writeFile(path.join(t.src, 'big/x.bin'), pseudoRandom(90500, 6));
  const s2 = await t.backup('2024-04-02 10:00:00');
  const c2 = await keepCopy(t, 'copy-2');

  const docs = path.join(t.src, 'docs');
  const docsTree = await subtreeOf(t, s2, docs);
  assert.equal(docsTree, await subtreeOf(t, s1, docs));
  const blobs = await blobPacks(t);
  const lost = blobs.get(docsTree)!.pack;
  const s1Root = JSON.parse((await t.ok(['cat', 'snapshot', s1])).stdout).tree as string;
  const s2Root = JSON.parse((await t.ok(['cat', 'snapshot', s2])).stdout).tree as string;
  assert.equal(blobs.get(s1Root)!.pack, lost, 'the first snapshot\'s root tree is in the same pack');
  assert.notEqual(blobs.get(s2Root)!.pack, lost);
  await removePack(t, lost);

  const before = await checkReport(t);
  assert.equal(before.code, 1);
  assert.equal((await t.run(['prune'])).code, 1);
  await t.ok(['repair', 'index']);

  const r = await repair(t);
  assert.equal(r.code, 1, 'a snapshot that cannot be repaired is an error');
  assert.deepEqual(
    r.lines.filter((l) => l.message_type === 'changed').map((l) => [l.snapshot_id, l.path, l.type, l.reason, l.tree]),
    [[s2, docs, 'dir', 'missing-tree', docsTree]],
  );
  const bad = r.lines.filter((l) => l.message_type === 'not_repairable');
  assert.deepEqual(bad.map((l) => l.snapshot_id), [s1]);
  assert.match(bad[0].reason, new RegExp(`root tree ${s1Root} is missing.*cairn forget ${s1.slice(0, 8)}`));
  assert.match(r.errors, new RegExp(`snapshot ${s1.slice(0, 8)} cannot be repaired`));
  const n2 = r.lines.find((l) => l.message_type === 'repaired')!.new_id as string;

  const all = await listSnapshots(t);
  assert.deepEqual([...all].sort(), [s1, s2, n2].sort(), 'without --forget the originals are kept');
  const snap = JSON.parse((await t.ok(['cat', 'snapshot', n2])).stdout);
  assert.deepEqual(snap.tags, ['repaired']);
  assert.equal(snap.original, s2);
  const text = (await t.run(['repair', 'snapshots', s2, '--dry-run'])).stdout;
  assert.match(text, /replace.* with an empty directory \(its tree blob [0-9a-f]+ is missing\)/);

  // The user forgets what repair could not fix and the broken original, as the output says.
  await t.ok(['forget', s1, s2]);
  const after = await checkReport(t);
  assert.equal(after.code, 0);
  assert.deepEqual(after.problems, []);
  await t.ok(['prune']);
  // docs restores as an empty directory; everything else as it was backed up.
  for (const f of await fs.readdir(path.join(c2, 'docs'))) await fs.rm(path.join(c2, 'docs', f));
  t.expected.set(n2, { digest: await treeDigest(c2), src: t.src });
  assert.equal((await lsNodes(t, n2)).filter((n) => n.path.startsWith(`${docs}/`)).length, 0);
  await restoreAll(t, 'after repair, forget and prune');
  const again = await repair(t);
  assert.equal(again.code, 0);
  assert.equal(again.summary.repaired, 0);
});

test('a tree blob that the index lists but that fails authentication: its directory becomes an empty directory', async () => {
  const t = await makeRepo('32K');
  for (const d of ['docs', 'big']) await fs.mkdir(path.join(t.src, d));
  await fs.writeFile(path.join(t.src, 'docs/a.txt'), pseudoRandom(3000, 1));
  await fs.writeFile(path.join(t.src, 'big/x.bin'), pseudoRandom(90000, 4));
  const s1 = await t.backup('2024-05-01 10:00:00');
  const c1 = await keepCopy(t, 'copy-1');
  const docs = path.join(t.src, 'docs');
  const docsTree = await subtreeOf(t, s1, docs);
  const entry = (await blobPacks(t)).get(docsTree)!;
  const file = path.join(t.repo, 'data', entry.pack.slice(0, 2), entry.pack);
  const bytes = await fs.readFile(file);
  bytes[entry.offset + 30] ^= 0x01;
  await fs.writeFile(file, bytes);

  const r = await repair(t, ['--forget']);
  assert.equal(r.code, 0, r.stdout);
  const changes = r.lines.filter((l) => l.message_type === 'changed');
  assert.deepEqual(changes.map((l) => [l.snapshot_id, l.path, l.reason, l.tree]), [[s1, docs, 'damaged-tree', docsTree]]);
  assert.match(changes[0].detail, /fails authentication/);
  const n1 = r.lines.find((l) => l.message_type === 'repaired')!.new_id as string;
  await fs.rm(path.join(c1, 'docs/a.txt'));
  t.expected.clear();
  t.expected.set(n1, { digest: await treeDigest(c1), src: t.src });
  await restoreAll(t, 'after repairing a damaged tree');
});
