import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pseudoRandom } from '../helpers.js';
import { jsonLines, makeRepo } from './lifecycle-helpers.js';

async function twoSnapshots() {
  const t = await makeRepo('64K');
  const f = (p: string) => path.join(t.src, p);
  await fs.mkdir(f('docs/old'), { recursive: true });
  await fs.writeFile(f('docs/a.txt'), 'alpha\n');
  await fs.writeFile(f('docs/b.txt'), 'bravo\n');
  await fs.writeFile(f('docs/old/gone.txt'), 'gone\n');
  await fs.writeFile(f('photo.jpg'), pseudoRandom(200_000, 9));
  await fs.writeFile(f('copy.jpg'), pseudoRandom(200_000, 9));
  await fs.writeFile(f('text.log'), 'x'.repeat(100_000));
  await fs.writeFile(f('mode.sh'), '#!/bin/sh\n');
  const s1 = await t.backup('2024-01-01 12:00:00', ['--tag', 'a']);
  await fs.writeFile(f('docs/a.txt'), 'alpha, changed\n');
  await fs.rm(f('docs/old'), { recursive: true });
  await fs.writeFile(f('docs/new.txt'), 'new\n');
  await fs.chmod(f('mode.sh'), 0o755);
  await fs.rm(f('text.log'));
  await fs.mkdir(f('text.log'));
  const s2 = await t.backup('2024-01-02 12:00:00', ['--tag', 'a']);
  return { t, s1, s2 };
}

test('diff lists added, removed, modified, type and metadata changes', async () => {
  const { t, s1, s2 } = await twoSnapshots();
  const lines = jsonLines((await t.ok(['diff', s1.slice(0, 8), s2.slice(0, 8), '--json'])).stdout);
  const changes = lines.filter((l) => l.message_type === 'change').map((l) => `${l.modifier} ${l.path.slice(t.src.length)}`);
  assert.deepEqual(changes, ['M /docs/a.txt', '+ /docs/new.txt', '- /docs/old/', '- /docs/old/gone.txt', 'U /mode.sh', 'T /text.log/']);
  const stats = lines.find((l) => l.message_type === 'statistics')!;
  assert.equal(stats.added, 1);
  assert.equal(stats.removed, 2);
  assert.equal(stats.removed_bytes, 5);
  const text = await t.ok(['diff', s1, s2]);
  assert.match(text.stdout, new RegExp(`^M    ${t.src}/docs/a.txt$`, 'm'));
  assert.equal((await t.ok(['diff', s2, s2, '--json'])).stdout.split('\n').filter((l) => l.includes('"change"')).length, 0);
});

test('find matches names across snapshots; stats gives sizes and ratios', async () => {
  const { t, s1, s2 } = await twoSnapshots();
  const found = jsonLines((await t.ok(['find', '*.txt', '--json'])).stdout);
  assert.deepEqual(found.map((m) => [m.snapshot, m.matches.map((x: { path: string }) => x.path.slice(t.src.length))]), [
    [s1, ['/docs/a.txt', '/docs/b.txt', '/docs/old/gone.txt']],
    [s2, ['/docs/a.txt', '/docs/b.txt', '/docs/new.txt']],
  ]);
  const one = jsonLines((await t.ok(['find', 'GONE.*', '-i', '--snapshot', s1, '--snapshot', s2, '--json'])).stdout);
  assert.deepEqual(one.map((m) => m.snapshot), [s1]);
  assert.match((await t.ok(['find', 'nothing-*'])).stdout, /no entry named "nothing-\*" in 2 snapshots/);

  const st = jsonLines((await t.ok(['stats', '--json'])).stdout)[0];
  // Restore size counts both snapshots in full; the two identical photos and the
  // unchanged files are stored once, so deduplication is well above 1.
  const s1Bytes = 6 + 6 + 5 + 200_000 * 2 + 100_000 + 10;
  const s2Bytes = 15 + 6 + 4 + 200_000 * 2 + 10;
  assert.equal(st.total_restore_size, s1Bytes + s2Bytes);
  assert.equal(st.total_file_count, 7 + 6, 'directories are not counted');
  // Unique content: every distinct file once (the two photos are one).
  const unique = 6 + 6 + 5 + 200_000 + 100_000 + 10 + 15 + 4;
  assert.ok(Math.abs(st.dedup_ratio - (s1Bytes + s2Bytes) / unique) < 1e-9, `dedup ${st.dedup_ratio}`);
  assert.ok(st.compression_ratio > 1.2, `the log of x's compresses: ${st.compression_ratio}`);
  const only = jsonLines((await t.ok(['stats', s1, '--mode', 'raw-data', '--json'])).stdout)[0];
  assert.equal(only.total_restore_size, s1Bytes);
  assert.ok(only.total_stored_size < only.total_raw_size);
  const text = await t.ok(['stats', '--mode', 'raw-data']);
  assert.match(text.stdout, /Total blob count: \d+ \(\d+ trees\)\nTotal uncompressed size: .*\nTotal stored size: .*\nDeduplication ratio: \d+\.\d\dx\nCompression ratio: \d+\.\d\dx/);
});

test('tag rewrites the snapshot, keeping its original id', async () => {
  const { t, s1, s2 } = await twoSnapshots();
  const r = jsonLines((await t.ok(['tag', '--add', 'keep,x', '--remove', 'a', s1.slice(0, 8), '--json'])).stdout);
  const changed = r.find((l) => l.message_type === 'changed')!;
  assert.equal(changed.old_id, s1);
  const snaps = JSON.parse((await t.ok(['snapshots', '--json'])).stdout) as { id: string; tags: string[]; original?: string }[];
  const renamed = snaps.find((s) => s.id === changed.new_id)!;
  assert.deepEqual(renamed.tags, ['keep', 'x']);
  assert.equal(renamed.original, s1);
  assert.ok(!snaps.some((s) => s.id === s1), 'the old snapshot object is gone');

  // --set on every snapshot with tag "a" (only s2 still has it); unchanged snapshots are left alone.
  const set = jsonLines((await t.ok(['tag', '--set', 'final', '--tag', 'a', '--json'])).stdout);
  assert.deepEqual(set.filter((l) => l.message_type === 'changed').map((l) => l.old_id), [s2]);
  const again = jsonLines((await t.ok(['tag', '--set', 'final', '--json'])).stdout).find((l) => l.message_type === 'summary')!;
  assert.equal(again.changed, 1, 'only the snapshot that was not already tagged "final" changes');
  const twice = JSON.parse((await t.ok(['snapshots', '--json'])).stdout) as { tags: string[]; original?: string }[];
  assert.deepEqual(twice.map((s) => s.tags), [['final'], ['final']]);
  assert.deepEqual(twice.map((s) => s.original).sort(), [s1, s2].sort(), 'a second rewrite keeps the first original id');
  const bad = await t.run(['tag', '--set', 'x', '--add', 'y']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /do not combine/);
});

test('list names the objects of each kind, and the blobs of the index; cat pack reads a header', async () => {
  const { t, s1, s2 } = await twoSnapshots();
  const names = async (kind: string) => (await fs.readdir(path.join(t.repo, kind), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name).sort();
  const list = async (kind: string) => (await t.ok(['list', kind])).stdout.trim().split('\n').filter(Boolean).sort();
  assert.deepEqual(await list('snapshots'), [s1, s2].sort());
  assert.deepEqual(await list('index'), await names('index'));
  const packs = await list('packs');
  assert.deepEqual(packs, await names('data'));
  assert.deepEqual(await list('keys'), await names('keys'));
  assert.deepEqual(await list('locks'), []);

  // Every blob an index file lists, with its type, once.
  const want: string[] = [];
  for (const name of await names('index')) {
    for (const p of JSON.parse((await t.ok(['cat', 'index', name])).stdout).packs) for (const b of p.blobs) want.push(`${b.type} ${b.id}`);
  }
  assert.deepEqual(await list('blobs'), [...new Set(want)].sort());
  const json = jsonLines((await t.ok(['list', 'blobs', '--json'])).stdout);
  assert.deepEqual(json.map((l) => `${l.type} ${l.id}`).sort(), [...new Set(want)].sort());

  const header = JSON.parse((await t.ok(['cat', 'pack', packs[0]])).stdout) as { id: string }[];
  assert.ok(header.length > 0 && header.every((b) => want.some((w) => w.endsWith(b.id))));
});
