import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LocalBackend } from '../../backends/local.js';
import { encodeIndex } from '../../repo/index-format.js';
import { objectName } from '../../repo/hex.js';
import { PackWriter, FinishedPack } from '../../repo/pack-writer.js';
import { Repository } from '../../repo/repository.js';
import { sealFile } from '../../repo/sealed-file.js';
import { findNode } from '../../repo/tree-walk.js';
import { pseudoRandom } from '../helpers.js';
import { checkReport, env, jsonLines, makeRepo, TestRepo } from './lifecycle-helpers.js';

interface Fixture {
  t: TestRepo;
  s1: string;
  s2: string;
  /** index file -> packs -> blobs, as `cairn cat index` prints them. */
  indexes: Map<string, { id: string; size: number; blobs: { type: string; id: string; offset: number; length: number; rawLength: number }[] }[]>;
  packOf(rawLength: number, type?: string): { pack: string; blob: string; offset: number; length: number; index: string };
}

/**
 * Two snapshots: docs/a.txt (3000 bytes, then 4000), docs/b.txt (5000) and big/x.bin
 * (90000, a pack of its own with 32 KiB packs). Each backup writes one index file.
 */
async function fixture(): Promise<Fixture> {
  const t = await makeRepo('32K');
  await fs.mkdir(path.join(t.src, 'docs'), { recursive: true });
  await fs.mkdir(path.join(t.src, 'big'));
  await fs.writeFile(path.join(t.src, 'docs/a.txt'), pseudoRandom(3000, 1));
  await fs.writeFile(path.join(t.src, 'docs/b.txt'), pseudoRandom(5000, 2));
  await fs.writeFile(path.join(t.src, 'big/x.bin'), pseudoRandom(90000, 3));
  const s1 = await t.backup('2024-01-01 10:00:00');
  await fs.writeFile(path.join(t.src, 'docs/a.txt'), pseudoRandom(4000, 4));
  const s2 = await t.backup('2024-01-02 10:00:00');
  const indexes: Fixture['indexes'] = new Map();
  for (const name of await fs.readdir(path.join(t.repo, 'index'))) {
    indexes.set(name, JSON.parse((await t.ok(['cat', 'index', name])).stdout).packs);
  }
  assert.equal(indexes.size, 2);
  return {
    t, s1, s2, indexes,
    packOf(rawLength, type = 'data') {
      for (const [index, packs] of indexes) {
        for (const p of packs) for (const b of p.blobs) if (b.rawLength === rawLength && b.type === type) return { pack: p.id, blob: b.id, offset: b.offset, length: b.length, index };
      }
      throw new Error(`no ${type} blob of ${rawLength} bytes`);
    },
  };
}

const packPath = (t: TestRepo, id: string) => path.join(t.repo, 'data', id.slice(0, 2), id);
const bySnapshot = (affects: { snapshot: string; paths: string[] }[]) => [...affects].sort((a, b) => a.snapshot.localeCompare(b.snapshot));

test('a healthy repository: no problems, with and without --read-data', async () => {
  const { t } = await fixture();
  for (const flags of [[], ['--read-data'], ['--read-data-subset', '1/2'], ['--read-data-subset', '50%']]) {
    const r = await checkReport(t, flags);
    assert.equal(r.code, 0, flags.join(' '));
    assert.deepEqual(r.problems, []);
  }
  const bad = await t.run(['check', '--read-data-subset', '3/2']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /n\/t \(1 <= n <= t\)/);
});

test('temporary files that a crash left in a local repository: a warning that names prune, which removes them', async () => {
  const { t } = await fixture();
  const pack = (await fs.readdir(path.join(t.repo, 'data'), { recursive: true })).find((n) => /[0-9a-f]{64}$/.test(n))!;
  await fs.writeFile(path.join(t.repo, 'data', `${pack}.0123456789ab.tmp`), 'half a pack');
  const r = await checkReport(t);
  assert.equal(r.code, 0, 'a warning, not an error');
  assert.deepEqual(r.problems, [
    { message_type: 'problem', severity: 'warning', object: 'temporary files', message: '1 (11 bytes) that saves cut short by a crash left behind, unless a backup is writing them now; `cairn prune` deletes them', affects: [] },
  ]);
  assert.equal((await t.run(['prune'])).code, 0);
  assert.deepEqual((await checkReport(t)).problems, []);
});

test('a deleted pack: named once, with every snapshot and file that needs it', async () => {
  const { t, s1, s2, packOf } = await fixture();
  const x = packOf(90000);
  await fs.rm(packPath(t, x.pack));
  const r = await checkReport(t);
  assert.equal(r.code, 1);
  const file = `${t.src}/big/x.bin`;
  assert.deepEqual(r.problems, [
    { message_type: 'problem', severity: 'error', object: `data/${x.pack}`, message: `is missing (listed in index/${x.index}); \`cairn repair index\` drops it from the index, then \`cairn repair snapshots\` removes what needs it from the snapshots`, affects: bySnapshot([{ snapshot: s1, paths: [file] }, { snapshot: s2, paths: [file] }]) },
  ]);
  const text = await t.run(['check']);
  assert.equal(text.code, 1);
  assert.equal(text.stdout.split('\n')[0], `error: data/${x.pack} is missing (listed in index/${x.index}); \`cairn repair index\` drops it from the index, then \`cairn repair snapshots\` removes what needs it from the snapshots`);
  assert.match(text.stdout, new RegExp(`  affects snapshot ${s1.slice(0, 8)}: ${file}\n`));
  assert.match(text.stdout, /: 1 error\n$/);
});

test('flipped bits in a pack: found by --read-data, naming the damaged blob and the one file it belongs to', async () => {
  const { t, s1, packOf } = await fixture();
  const a = packOf(3000); // docs/a.txt as of the first snapshot
  const file = packPath(t, a.pack);
  const bytes = await fs.readFile(file);
  bytes[a.offset + 100] ^= 0x10;
  await fs.writeFile(file, bytes);

  assert.deepEqual((await checkReport(t)).problems, [], 'structure alone cannot see flipped content bits');
  const r = await checkReport(t, ['--read-data']);
  assert.equal(r.code, 1);
  const sha = createHash('sha256').update(bytes).digest('hex');
  assert.deepEqual(r.problems, [
    {
      message_type: 'problem', severity: 'error', object: `data/${a.pack}`,
      message: `its SHA-256 is ${sha}, not its name; damaged: data blob ${a.blob}; \`cairn repair packs ${a.pack}\` keeps its sound blobs and removes it`,
      affects: [{ snapshot: s1, paths: [`${t.src}/docs/a.txt`] }],
    },
  ]);
});

test('a truncated index file: reported, and the packs it listed are named with what they hold', async () => {
  const { t, s2, indexes } = await fixture();
  // The second backup's index lists the new a.txt and the second snapshot's trees.
  const [name, packs] = [...indexes].find(([, ps]) => ps.some((p) => p.blobs.some((b) => b.rawLength === 4000)))!;
  const file = path.join(t.repo, 'index', name);
  const bytes = await fs.readFile(file);
  await fs.writeFile(file, bytes.subarray(0, bytes.length - 10));

  const r = await checkReport(t);
  assert.equal(r.code, 1);
  const treePack = packs.find((p) => p.blobs[0].type === 'tree')!.id;
  const dataPack = packs.find((p) => p.blobs[0].type === 'data')!.id;
  assert.deepEqual(r.problems, [
    // The second snapshot's root tree is in a pack no index lists any more, so the whole snapshot is affected.
    { message_type: 'problem', severity: 'error', object: `data/${treePack}`, message: 'is not in any index, but snapshots use its blobs (`cairn repair index` adds it)', affects: [{ snapshot: s2, paths: ['/'] }] },
    { message_type: 'problem', severity: 'error', object: `index/${name}`, message: 'cannot be read: authentication failed (modified, truncated or not written by this repository); `cairn repair index` rebuilds the index from the packs', affects: [] },
    { message_type: 'problem', severity: 'warning', object: `data/${dataPack}`, message: 'is not in any index (left by an interrupted backup or prune; `cairn prune` deletes it)', affects: [] },
  ]);
  // prune refuses to work on a repository whose index it cannot read.
  const p = await t.run(['prune']);
  assert.equal(p.code, 1);
  assert.match(p.stderr, new RegExp(`prune stopped before changing anything: index/${name} cannot be read`));
});

test('a tree blob removed from its pack: the directory it described is named in the snapshot that had it', async () => {
  const { t, s1 } = await fixture();
  const repo = await Repository.open(new LocalBackend(t.repo), env.CAIRN_PASSWORD, { cacheDir: path.join(t.dir, 'lib-cache') });
  try {
    const snap = await repo.loadSnapshot(s1);
    const docsTree = (await findNode(repo, snap.tree, `${t.src}/docs`)).subtree!;
    // Rewrite the pack holding that tree without it, and an index superseding the old one.
    const entry = (await repo.lookupBlob(Buffer.from(docsTree, 'hex')))!;
    const oldIndexes = [...(await fs.readdir(path.join(t.repo, 'index')))];
    const listed = await Promise.all(oldIndexes.map((n) => repo.loadIndexFile(n)));
    const fresh: FinishedPack[] = [];
    const writer = new PackWriter('tree', repo.config.packSize, repo.key.encrypt, { save: (n, b) => repo.backend.save({ type: 'data', name: n }, b) }, (p) => fresh.push(p), 1);
    const whole = await repo.backend.load({ type: 'data', name: entry.pack });
    const oldPack = listed.flatMap((i) => i.packs).find((p) => p.id === entry.pack)!;
    for (const b of oldPack.blobs) {
      if (Buffer.from(b.id).toString('hex') !== docsTree) await writer.add({ id: b.id, stored: whole.subarray(b.offset, b.offset + b.length), rawLength: b.rawLength, compressed: b.compressed });
    }
    await writer.flush();
    const packs = [...listed.flatMap((i) => i.packs).filter((p) => p.id !== entry.pack), ...fresh];
    const stored = sealFile(repo.key.encrypt, encodeIndex({ supersedes: oldIndexes, packs }));
    await repo.backend.save({ type: 'index', name: await objectName(stored) }, stored);
    for (const n of oldIndexes) await repo.backend.remove({ type: 'index', name: n });
    await repo.backend.remove({ type: 'data', name: entry.pack });

    const r = await checkReport(t);
    assert.equal(r.code, 1);
    assert.deepEqual(r.problems, [
      { message_type: 'problem', severity: 'error', object: `blob ${docsTree}`, message: 'is missing: no index lists it and no pack holds it; `cairn repair snapshots` removes what needs it from the snapshots', affects: [{ snapshot: s1, paths: [`${t.src}/docs`] }] },
    ]);
  } finally {
    await repo.close();
  }
});

test('check --json ends with a summary line', async () => {
  const { t } = await fixture();
  const lines = jsonLines((await t.ok(['check', '--json', '--read-data'])).stdout);
  const s = lines.at(-1)!;
  assert.equal(s.message_type, 'summary');
  assert.equal(s.errors, 0);
  assert.equal(s.snapshots, 2);
  assert.equal(s.packs_read, s.packs);
});
