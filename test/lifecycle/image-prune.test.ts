import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pseudoRandom, sha256 } from '../helpers.js';
import { checkReport, jsonLines, makeRepo } from './lifecycle-helpers.js';

const MiB = 1024 * 1024;

test('prune keeps what image snapshots reference through their map, and frees what only a forgotten image used', async () => {
  const t = await makeRepo('256K');
  const img = path.join(t.dir, 'disk.img');
  const fh = await fs.open(img, 'w');
  await fh.truncate(6 * MiB);
  await fh.write(pseudoRandom(3 * MiB, 11), 0, 3 * MiB, MiB);
  await fh.close();
  const backupImage = async () => jsonLines((await t.ok(['backup', '--json', '--image', img])).stdout).find((l) => l.message_type === 'summary')!.snapshot_id as string;
  const first = await backupImage();
  // The second image shares the last two MiB of data with the first.
  const f2 = await fs.open(img, 'r+');
  await f2.write(pseudoRandom(MiB, 12), 0, MiB, MiB);
  await f2.close();
  const second = await backupImage();
  const want = sha256(await fs.readFile(img));

  await t.ok(['forget', first]);
  const p = jsonLines((await t.ok(['prune', '--json', '--max-unused', '0%'])).stdout).find((l) => l.message_type === 'prune_summary')!;
  assert.ok(p.bytes_freed >= 0.9 * MiB, `freed ${p.bytes_freed}`);

  const c = await checkReport(t, ['--read-data']);
  assert.equal(c.code, 0);
  assert.deepEqual(c.problems, []);
  const out = path.join(t.dir, 'out.img');
  await t.ok(['restore', second, '--image', '--target', out, '--verify']);
  assert.equal(sha256(await fs.readFile(out)), want);

  const stats = jsonLines((await t.ok(['stats', '--mode', 'raw-data', '--json'])).stdout)[0];
  assert.ok(stats.total_raw_size >= 3 * MiB, `the image's data counts in raw-data stats: ${stats.total_raw_size}`);
});

test('check names the image snapshot whose data is gone', async () => {
  const t = await makeRepo('256K');
  const img = path.join(t.dir, 'disk.img');
  await fs.writeFile(img, pseudoRandom(2 * MiB, 5));
  const id = jsonLines((await t.ok(['backup', '--json', '--image', img])).stdout).find((l) => l.message_type === 'summary')!.snapshot_id as string;
  const index = (await fs.readdir(path.join(t.repo, 'index')))[0];
  const packs = JSON.parse((await t.ok(['cat', 'index', index])).stdout).packs as { id: string; blobs: { type: string }[] }[];
  const victim = packs.find((x) => x.blobs[0].type === 'data')!.id;
  await fs.rm(path.join(t.repo, 'data', victim.slice(0, 2), victim));
  const c = await checkReport(t);
  assert.equal(c.code, 1);
  assert.deepEqual(c.problems.map((x) => [x.object, x.affects]), [[`data/${victim}`, [{ snapshot: id, paths: ['(image map and data)'] }]]]);
});
