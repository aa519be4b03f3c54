import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { sha256 } from '../helpers.js';
import { ext4Image, makeSourceTree } from '../image/fs-images.js';
import { checkReport, dataBytes, env, jsonLines, killedAfter, makeRepo, restoreAll, TestRepo, testRepo, writeSource } from './lifecycle-helpers.js';

const MiB = 1024 * 1024;
/** B has a password of its own: copy must open A with the --from-* password, B with its own. */
const envB = { CAIRN_PASSWORD: 'offsite', CAIRN_FROM_PASSWORD: env.CAIRN_PASSWORD };

interface Snap {
  id: string;
  original?: string;
  tags: string[];
}

async function snapshotsOf(t: TestRepo): Promise<Snap[]> {
  return JSON.parse((await t.ok(['snapshots', '--json'])).stdout);
}

/** B, made with `init --from-repo A` (A's password from a file, B's from the environment). */
async function copyTarget(a: TestRepo, name = 'b'): Promise<TestRepo> {
  const pw = path.join(a.dir, 'a-password');
  await fs.writeFile(pw, `${env.CAIRN_PASSWORD}\n`);
  const b = testRepo(a.dir, a.src, name, { CAIRN_PASSWORD: envB.CAIRN_PASSWORD });
  await b.ok(['init', '--from-repo', a.repo, '--from-password-file', pw]);
  return b;
}

/** B, made by plain `init`: its blob-id key is its own, so copy rewrites every tree for it. */
async function plainTarget(a: TestRepo, name = 'plain'): Promise<TestRepo> {
  const b = testRepo(a.dir, a.src, name, { CAIRN_PASSWORD: envB.CAIRN_PASSWORD });
  await b.ok(['init']);
  return b;
}

/** Runs copy --json; records in b.expected what each copied snapshot must restore to. */
async function copy(a: TestRepo, b: TestRepo, extra: string[] = []) {
  const lines = jsonLines((await b.ok(['copy', '--json', '--from-repo', a.repo, ...extra], envB)).stdout);
  const copied = lines.filter((l) => l.message_type === 'copied');
  for (const c of copied) {
    const want = a.expected.get(c.source_id);
    if (want) b.expected.set(c.id, want);
  }
  return { copied, skipped: lines.filter((l) => l.message_type === 'skipped'), summary: lines.find((l) => l.message_type === 'summary')! };
}

async function fileCount(dir: string): Promise<number> {
  let n = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n++;
  return n;
}

/** An ext4 image of a small tree, backed up into A; returns the image, the tree and the snapshot id. */
async function imageSnapshot(a: TestRepo) {
  const tree = path.join(a.dir, 'tree');
  await fs.mkdir(tree);
  await makeSourceTree(tree, 0.3, 3);
  const img = path.join(a.dir, 'disk.img');
  await ext4Image(img, tree, 16 * MiB);
  const id = jsonLines((await a.ok(['backup', '--json', '--image', img])).stdout).find((l) => l.message_type === 'summary')!.snapshot_id as string;
  return { img, tree, id };
}

/** The copy `id` of imageSnapshot's snapshot restores the image and a file from it byte for byte, and b checks clean. */
async function assertImageCopy(b: TestRepo, id: string, img: string, tree: string) {
  const out = path.join(b.dir, 'restored.img');
  await b.ok(['restore', id, '--image', '--target', out, '--verify']);
  assert.equal(sha256(await fs.readFile(out)), sha256(await fs.readFile(img)));
  const files = path.join(b.dir, 'restored-files');
  await b.ok(['restore', `${id}:/fs/Users/ann`, '--target', files]);
  assert.ok((await fs.readFile(path.join(files, 'photo.raw'))).equals(await fs.readFile(path.join(tree, 'Users/ann/photo.raw'))));
  const c = await checkReport(b, ['--read-data']);
  assert.equal(c.code, 0);
  assert.deepEqual(c.problems, []);
}

test('copy into a repository made by init --from-repo: restores byte for byte, checks clean, copies only what is missing', async (t) => {
  const a = await makeRepo('32K');
  await writeSource(a.src, 1);
  const s1 = await a.backup('2024-03-01 10:00:00', ['--tag', 'daily']);
  await writeSource(a.src, 2);
  const s2 = await a.backup('2024-03-02 10:00:00', ['--tag', 'daily']);
  const b = await copyTarget(a);

  const first = await copy(a, b);
  assert.deepEqual(first.copied.map((c) => c.source_id), [s1, s2], 'oldest first');
  assert.equal(first.summary.snapshots_copied, 2);
  assert.equal(first.summary.snapshots_skipped, 0);
  assert.ok(first.summary.blobs_copied > 0 && first.summary.data_added > 0);
  const inB = await snapshotsOf(b);
  assert.deepEqual(inB.map((s) => [s.id, s.original, s.tags]), first.copied.map((c) => [c.id, c.source_id, ['daily']]));
  await restoreAll(b, 'after the first copy');
  const c = await checkReport(b, ['--read-data']);
  assert.equal(c.code, 0);
  assert.deepEqual(c.problems, []);

  const packs = await fileCount(path.join(b.repo, 'data'));
  const indexFiles = await fileCount(path.join(b.repo, 'index'));
  const again = await copy(a, b);
  assert.deepEqual(again.copied, []);
  assert.deepEqual(again.skipped.map((s) => [s.source_id, s.copy_id]), first.copied.map((x) => [x.source_id, x.id]));
  assert.equal(again.summary.snapshots_skipped, 2);
  assert.equal(again.summary.blobs_copied, 0);
  assert.equal(again.summary.data_added, 0);
  assert.equal(await fileCount(path.join(b.repo, 'data')), packs, 'no pack added');
  assert.equal(await fileCount(path.join(b.repo, 'index')), indexFiles, 'no index file added');

  // A third backup changes a third of the files: copying it adds about what it added to A.
  await writeSource(a.src, 3);
  const aBefore = await dataBytes(a.repo);
  const s3 = await a.backup('2024-03-03 10:00:00', ['--tag', 'daily']);
  const aAdded = (await dataBytes(a.repo)) - aBefore;
  const bBefore = await dataBytes(b.repo);
  const third = await copy(a, b);
  const bAdded = (await dataBytes(b.repo)) - bBefore;
  assert.deepEqual(third.copied.map((x) => x.source_id), [s3]);
  assert.equal(third.summary.snapshots_skipped, 2);
  const aTotal = await dataBytes(a.repo);
  t.diagnostic(`third backup: A grew by ${aAdded} bytes, B by ${bAdded}; A holds ${aTotal}`);
  assert.ok(bAdded > 0 && bAdded < aTotal / 3, `B grew by ${bAdded} bytes; A holds ${aTotal}`);
  assert.ok(bAdded < aAdded * 1.25 + 16 * 1024, `B grew by ${bAdded} bytes, the backup added ${aAdded} to A`);
  await restoreAll(b, 'after the third copy');
  assert.equal((await checkReport(b, ['--read-data'])).code, 0);

  // A backup into B that reads every file (--force) deduplicates against the copies:
  // same chunker, same blob ids.
  const own = jsonLines((await b.ok(['backup', '--json', '--force', a.src])).stdout).find((l) => l.message_type === 'summary')!;
  t.diagnostic(`a --force backup into B added ${own.data_added} bytes`);
  assert.ok(own.data_added < bAdded / 4, `a backup of what B holds as a copy adds ${own.data_added} bytes`);
});

for (const [kind, target] of [['init --from-repo', copyTarget], ['plain init', plainTarget]] as const) {
  test(`kill -9 at several moments of a copy into a repository made by ${kind}: the destination stays consistent, and the next copy finishes the job`, async () => {
    const a = await makeRepo('32K');
    for (let g = 1; g <= 4; g++) {
      await writeSource(a.src, g);
      await a.backup(`2024-03-0${g} 10:00:00`);
    }
    // How long a whole copy takes, to spread the kills over it.
    const probe = await target(a, 'probe');
    const t0 = Date.now();
    await copy(a, probe);
    const duration = Date.now() - t0;

    const b = await target(a);
    const trials = 6;
    let killed = 0;
    for (let i = 0; i < trials; i++) {
      if (await killedAfter([...b.g, 'copy', '--from-repo', a.repo], Math.round((duration * (i + 0.5)) / trials), envB)) killed++;
      const c = await checkReport(b);
      assert.equal(c.code, 0, JSON.stringify(c.problems));
      assert.deepEqual(c.problems.filter((p) => p.severity !== 'warning'), []);
    }
    assert.ok(killed >= trials / 2, `only ${killed} of ${trials} copies were killed before they finished`);
    const rest = await copy(a, b);
    assert.equal(rest.summary.snapshots_copied + rest.summary.snapshots_skipped, 4);
    // Copies made before a kill have no entry in b.expected yet; they come from the source ids.
    for (const s of await snapshotsOf(b)) if (!b.expected.has(s.id)) b.expected.set(s.id, a.expected.get(s.original!)!);
    assert.deepEqual(new Set((await snapshotsOf(b)).map((s) => s.original)), new Set(a.expected.keys()), 'each snapshot copied once');
    assert.equal((await snapshotsOf(b)).length, 4);
    await restoreAll(b, 'after the interrupted copies');
    const c = await checkReport(b, ['--read-data']);
    assert.equal(c.summary.errors, 0);
  });
}

test('copy into a repository made by plain init gives each blob its ids there: files and images restore byte for byte', async (t) => {
  const a = await makeRepo('64K');
  await writeSource(a.src, 1);
  const s1 = await a.backup('2024-03-01 10:00:00');
  await writeSource(a.src, 2);
  const s2 = await a.backup('2024-03-02 10:00:00');
  const plain = await plainTarget(a);

  const first = await copy(a, plain);
  assert.deepEqual(first.copied.map((c) => c.source_id), [s1, s2]);
  const treeOf = async (r: TestRepo, id: string) => JSON.parse((await r.ok(['cat', 'snapshot', id])).stdout).tree as string;
  assert.notEqual(await treeOf(plain, first.copied[0].id), await treeOf(a, s1), 'the tree has the destination\'s ids');
  assert.deepEqual((await snapshotsOf(plain)).map((s) => s.original), [s1, s2]);
  await restoreAll(plain, 'after a copy into a plain repository');

  // Then an image snapshot: the files in it and its map are rewritten too.
  const image = await imageSnapshot(a);
  const second = await copy(a, plain);
  assert.deepEqual(second.copied.map((c) => c.source_id), [image.id]);
  assert.equal(second.summary.snapshots_skipped, 2);
  await assertImageCopy(plain, second.copied[0].id as string, image.img, image.tree);

  const again = await copy(a, plain);
  assert.deepEqual(again.copied, []);
  assert.equal(again.summary.snapshots_skipped, 3);
  assert.equal(again.summary.data_added, 0);
  // The same chunker cut both (the default): a backup into the destination that reads
  // every file deduplicates against the copies.
  const own = jsonLines((await plain.ok(['backup', '--json', '--force', a.src])).stdout).find((l) => l.message_type === 'summary')!;
  t.diagnostic(`copied ${first.summary.data_added} bytes; a --force backup then added ${own.data_added}`);
  assert.ok(own.data_added < first.summary.data_added / 10, `a backup of what the destination holds as a copy adds ${own.data_added} bytes`);
});

test('copy by name and by filter, then the rest; a snapshot retagged in the source after its copy is copied again', async () => {
  const a = await makeRepo('32K');
  await writeSource(a.src, 1, 10);
  const s1 = await a.backup('2024-03-01 10:00:00', ['--tag', 'keep']);
  await writeSource(a.src, 2, 10);
  const s2 = await a.backup('2024-03-02 10:00:00', ['--tag', 'other']);
  await writeSource(a.src, 3, 10);
  const s3 = await a.backup('2024-03-03 10:00:00', ['--tag', 'keep']);
  const b = await copyTarget(a);

  assert.deepEqual((await copy(a, b, [s2.slice(0, 8)])).copied.map((x) => x.source_id), [s2]);
  assert.deepEqual((await copy(a, b, ['--tag', 'keep'])).copied.map((x) => x.source_id), [s1, s3]);
  const rest = await copy(a, b);
  assert.deepEqual(rest.copied, []);
  assert.equal(rest.summary.snapshots_skipped, 3);

  // Retagging rewrites s1 in A (its `original` stays s1): its copy in B no longer matches.
  const retagged = jsonLines((await a.ok(['tag', '--add', 'offsite', s1, '--json'])).stdout).find((l) => l.message_type === 'changed')!.new_id as string;
  a.expected.set(retagged, a.expected.get(s1)!);
  const after = await copy(a, b);
  assert.deepEqual(after.copied.map((x) => x.source_id), [retagged]);
  assert.equal(after.summary.blobs_copied, 0, 'its data is in B already');
  const copies = (await snapshotsOf(b)).filter((s) => s.original === s1);
  assert.deepEqual(copies.map((s) => s.tags.sort().join(',')).sort(), ['keep', 'keep,offsite'], 'the persistent id carries over');
  await restoreAll(b, 'after copying by name and filter');
});

test('copy carries an image snapshot: its map and the data only the map uses', async () => {
  const a = await makeRepo('256K');
  const image = await imageSnapshot(a);
  const b = await copyTarget(a);
  const copied = await copy(a, b);
  assert.deepEqual(copied.copied.map((x) => x.source_id), [image.id]);
  await assertImageCopy(b, copied.copied[0].id as string, image.img, image.tree);
});
