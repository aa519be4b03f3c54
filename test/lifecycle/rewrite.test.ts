import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pseudoRandom, treeDigest } from '../helpers.js';
import { checkReport, jsonLines, listSnapshots, makeRepo, repoFiles, restoreAll, TestRepo, writeSource } from './lifecycle-helpers.js';

const SECRET = 'API_KEY=7f3c9a1e-rewrite-test-only\n';
const secretPath = (t: TestRepo) => path.join(t.src, 'conf', 'secret.env');

interface Node {
  path: string;
  type: string;
  subtree?: string;
}

/**
 * Two backups of a source with conf/secret.env in it. Each snapshot's expected restore is
 * recorded as the source without the secret: only rewritten snapshots must match it.
 */
async function repoWithSecret(): Promise<{ t: TestRepo; ids: string[]; clean: Map<string, Awaited<ReturnType<typeof treeDigest>>> }> {
  const t = await makeRepo();
  const ids: string[] = [];
  const clean = new Map<string, Awaited<ReturnType<typeof treeDigest>>>();
  for (const gen of [1, 2]) {
    await writeSource(t.src, gen);
    await fs.mkdir(path.join(t.src, 'conf'), { recursive: true });
    await fs.writeFile(path.join(t.src, 'conf', 'app.ini'), pseudoRandom(2000, 4242 + gen));
    await fs.writeFile(secretPath(t), SECRET);
    const id = await t.backup(`2024-05-0${gen} 09:00:00`);
    const copy = path.join(t.dir, `clean-${gen}`);
    await fs.cp(t.src, copy, { recursive: true });
    await fs.rm(path.join(copy, 'conf', 'secret.env'));
    clean.set(id, await treeDigest(copy));
    ids.push(id);
  }
  return { t, ids, clean };
}

async function nodes(t: TestRepo, id: string): Promise<Node[]> {
  return jsonLines((await t.ok(['ls', '--json', id])).stdout).filter((l) => l.message_type === 'node') as Node[];
}

async function snapshotObject(t: TestRepo, id: string): Promise<Record<string, any>> {
  return JSON.parse((await t.ok(['cat', 'snapshot', id])).stdout);
}

/** The data blob ids of the secret, read from its directory's tree blob. */
async function secretBlobs(t: TestRepo, id: string): Promise<string[]> {
  const conf = (await nodes(t, id)).find((n) => n.path === path.join(t.src, 'conf'))!;
  const tree = JSON.parse((await t.ok(['cat', 'blob', conf.subtree!])).stdout) as { nodes: { name: string; content?: string[] }[] };
  return tree.nodes.find((n) => n.name === 'secret.env')!.content!;
}

/** Blob ids listed by the index files in effect. */
async function indexedBlobs(t: TestRepo): Promise<Set<string>> {
  const files = new Map<string, { supersedes: string[]; packs: { blobs: { id: string }[] }[] }>();
  for (const name of await fs.readdir(path.join(t.repo, 'index'))) files.set(name, JSON.parse((await t.ok(['cat', 'index', name])).stdout));
  const superseded = new Set([...files.values()].flatMap((f) => f.supersedes));
  const ids = new Set<string>();
  for (const [name, f] of files) if (!superseded.has(name)) for (const p of f.packs) for (const b of p.blobs) ids.add(b.id);
  return ids;
}


test('rewrite --exclude --forget: the secret is gone from every snapshot, the rest restores byte for byte, prune drops its blob, and a second run does nothing', async () => {
  const { t, ids, clean } = await repoWithSecret();
  const blobs = await secretBlobs(t, ids[0]);
  const indexed = await indexedBlobs(t);
  for (const b of blobs) assert.ok(indexed.has(b), 'the secret is in the index before the rewrite');

  const lines = jsonLines((await t.ok(['rewrite', '--json', '--exclude', '*.env', '--forget'])).stdout);
  const removed = lines.filter((l) => l.message_type === 'removed');
  assert.deepEqual(removed.map((l) => [l.snapshot_id, l.path, l.type, l.files, l.bytes]), ids.map((id) => [id, secretPath(t), 'file', 1, SECRET.length]));
  const rewritten = lines.filter((l) => l.message_type === 'rewritten');
  assert.deepEqual(rewritten.map((l) => l.snapshot_id), ids);
  assert.equal(lines.find((l) => l.message_type === 'summary')!.forgotten, 2);

  const now = await listSnapshots(t);
  assert.deepEqual([...now].sort(), rewritten.map((l) => l.new_id).sort(), 'only the rewritten snapshots are left');
  for (const r of rewritten) {
    const s = await snapshotObject(t, r.new_id);
    assert.equal(s.original, r.snapshot_id);
    assert.deepEqual(s.tags, [], 'replacing its original, a rewritten snapshot gets no `rewrite` tag');
    const paths = (await nodes(t, r.new_id)).map((n) => n.path);
    assert.ok(!paths.some((p) => p.endsWith('secret.env')), `secret.env is still in ${r.new_id}`);
    assert.ok(paths.includes(path.join(t.src, 'conf', 'app.ini')), 'its neighbour stays');
    t.expected.set(r.new_id, { digest: clean.get(r.snapshot_id)!, src: t.src });
  }
  await restoreAll(t, 'after rewrite');
  const check = await checkReport(t);
  assert.equal(check.code, 0);
  assert.deepEqual(check.problems, []);

  await t.ok(['prune', '--max-unused', '0%']);
  const after = await indexedBlobs(t);
  for (const b of blobs) assert.ok(!after.has(b), 'prune removed the secret from the index');
  assert.ok(after.size < indexed.size, `blobs: ${indexed.size} before, ${after.size} after`);
  assert.deepEqual((await checkReport(t, ['--read-data'])).problems, []);
  await restoreAll(t, 'after prune');

  const files = await repoFiles(t);
  const again = jsonLines((await t.ok(['rewrite', '--json', '--exclude', '*.env', '--forget'])).stdout);
  const summary = again.find((l) => l.message_type === 'summary')!;
  assert.deepEqual([summary.rewritten, summary.unchanged], [0, 2]);
  assert.deepEqual(await listSnapshots(t), now, 'snapshot ids unchanged');
  assert.deepEqual(await repoFiles(t), files, 'nothing written');
});

test('rewrite without --forget keeps the originals, tags the new ones `rewrite` with `original` set, and updates their totals; --iexclude ignores case', async () => {
  const { t, ids } = await repoWithSecret();
  const text = (await t.ok(['rewrite', '--iexclude', '*.ENV'])).stdout;
  assert.match(text, /cairn forget/, 'says how to drop the originals');
  assert.match(text, /cairn prune/);
  const all = await listSnapshots(t);
  assert.equal(all.length, 4);
  for (const id of ids) assert.ok(all.includes(id), `original ${id} is kept`);
  for (const id of all.filter((i) => !ids.includes(i))) {
    const s = await snapshotObject(t, id);
    assert.ok(ids.includes(s.original), 'original names the snapshot it was rewritten from');
    assert.deepEqual(s.tags, ['rewrite']);
    const old = await snapshotObject(t, s.original);
    assert.equal(s.time, old.time);
    assert.equal(s.summary.totalFiles, old.summary.totalFiles - 1);
    assert.equal(s.summary.totalBytes, old.summary.totalBytes - SECRET.length);
    assert.ok(!(await nodes(t, id)).some((n) => n.path.endsWith('secret.env')));
  }
  for (const id of ids) assert.ok((await nodes(t, id)).some((n) => n.path === secretPath(t)), 'the originals still hold the secret');

  const first = all.find((i) => !ids.includes(i))!;
  const { original } = await snapshotObject(t, first);
  const lines = jsonLines((await t.ok(['rewrite', '--json', '--exclude', 'app.ini', first])).stdout);
  const second = await snapshotObject(t, lines.find((l) => l.message_type === 'rewritten')!.new_id);
  assert.equal(second.original, original, 'a second rewrite keeps the first id as original');
  assert.deepEqual(second.tags, ['rewrite'], 'the tag is not doubled');
});

test('rewrite --dry-run says what it would remove and writes nothing; an image snapshot is skipped', async () => {
  const { t, ids } = await repoWithSecret();
  const img = path.join(t.dir, 'disk.img');
  await fs.writeFile(img, pseudoRandom(300_000, 99));
  await t.ok(['backup', '--image', img]);
  const patterns = path.join(t.dir, 'patterns');
  await fs.writeFile(patterns, '# secrets\n*.env\n');
  const files = await repoFiles(t);
  const before = await listSnapshots(t);

  const lines = jsonLines((await t.ok(['rewrite', '--json', '--dry-run', '--forget', '--exclude-file', patterns])).stdout);
  assert.deepEqual(lines.filter((l) => l.message_type === 'removed').map((l) => [l.snapshot_id, l.path, l.dry_run]), ids.map((id) => [id, secretPath(t), true]));
  const skipped = lines.filter((l) => l.message_type === 'skipped');
  assert.equal(skipped.length, 1);
  assert.match(skipped[0].reason, /image snapshot/);
  assert.equal(lines.filter((l) => l.message_type === 'rewritten').length, 0);
  assert.deepEqual(await repoFiles(t), files, 'a dry run writes nothing');
  assert.deepEqual(await listSnapshots(t), before);
});

test('rewrite saves new trees only above the removed path: an untouched subtree keeps its id', async () => {
  const { t, ids } = await repoWithSecret();
  const dirs = async (id: string) => new Map((await nodes(t, id)).filter((n) => n.type === 'dir').map((n) => [n.path, n.subtree]));
  const old = await dirs(ids[1]);
  const blobsBefore = (await indexedBlobs(t)).size;
  const lines = jsonLines((await t.ok(['rewrite', '--json', '--exclude', 'secret.env', ids[1]])).stdout);
  const id = lines.find((l) => l.message_type === 'rewritten')!.new_id;
  assert.equal(lines.find((l) => l.message_type === 'summary')!.snapshots, 1, 'only the named snapshot');
  const now = await dirs(id);
  for (const d of ['small', 'big']) assert.equal(now.get(path.join(t.src, d)), old.get(path.join(t.src, d)), `${d} keeps its tree`);
  // conf and every directory from the root down to it.
  const changed = [...old.keys()].filter((p) => now.get(p) !== old.get(p));
  const above = path.join(t.src, 'conf').split('/').slice(1).map((_, i, parts) => `/${parts.slice(0, i + 1).join('/')}`);
  assert.deepEqual(changed.sort(), above.filter((p) => old.has(p)).sort());
  // A new tree for each of those and the root, and no other blob.
  assert.equal((await indexedBlobs(t)).size - blobsBefore, changed.length + 1);
});
