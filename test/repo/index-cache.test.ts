import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { IndexCache } from '../../repo/index-cache.js';
import { tempDir } from '../helpers.js';

test('the index cache stores and finds blobs, and remembers which index files it read', async () => {
  const dir = await tempDir();
  const cache = await IndexCache.open(dir);
  const ids = Array.from({ length: 100 }, () => randomBytes(32));
  const pack = randomBytes(32).toString('hex');
  await cache.addIndexFile('idx1', [{ id: pack, blobs: ids.map((id, i) => ({ id, type: i % 2 ? 'tree' : 'data', offset: i * 100, length: 100, rawLength: 200 + i, compressed: i % 3 === 0 })) }]);
  const found = await cache.lookupMany([ids[7], randomBytes(32), ids[42]]);
  assert.equal(found[0]?.pack, pack);
  assert.equal(found[0]?.type, 'tree');
  assert.equal(found[0]?.offset, 700);
  assert.equal(found[0]?.rawLength, 207);
  assert.equal(found[1], undefined);
  assert.equal(found[2]?.compressed, true);
  assert.deepEqual([...(await cache.knownIndexFiles())], [['idx1', { supersedes: [], skipped: false }]]);
  // Index files written by prune name the ones they supersede; superseded ones are skipped.
  const old = randomBytes(32).toString('hex');
  await cache.addIndexFile('idx2', [], [old]);
  await cache.skipIndexFile(old);
  const known = await cache.knownIndexFiles();
  assert.deepEqual(known.get('idx2'), { supersedes: [old], skipped: false });
  assert.deepEqual(known.get(old), { supersedes: [], skipped: true });
  await cache.close();
});

test('a second process-level open of the same cache gets a private temporary cache', async () => {
  const dir = await tempDir();
  const a = await IndexCache.open(dir);
  const b = await IndexCache.open(dir);
  await b.addIndexFile('x', []);
  assert.deepEqual([...(await a.knownIndexFiles()).keys()], []);
  await b.close();
  const left = (await fs.readdir(dir)).filter((n) => n.includes('.tmp.'));
  assert.deepEqual(left, [], 'the private cache is removed on close');
  await a.close();
});

test('the private cache of a process that died is removed by the next open; a running one\'s stays', async () => {
  const dir = await tempDir();
  const child = spawn(process.execPath, ['-e', '0']);
  const deadPid = await new Promise<number>((resolve) => child.once('exit', () => resolve(child.pid!)));
  const dead = `index.${deadPid}.1700000000000.tmp.ldb`;
  const live = `index.${process.pid}.1700000000000.tmp.ldb`;
  for (const name of [dead, live]) {
    await fs.mkdir(path.join(dir, name));
    await fs.writeFile(path.join(dir, name, 'CURRENT'), 'MANIFEST-000001\n');
  }
  const cache = await IndexCache.open(dir);
  try {
    assert.deepEqual((await fs.readdir(dir)).filter((n) => n.endsWith('.tmp.ldb')), [live]);
  } finally {
    await cache.close();
  }
});
