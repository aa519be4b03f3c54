import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cairn, tempDir } from '../helpers.js';

const env = { CAIRN_PASSWORD: 'cache' };
const DAY = 24 * 3600;

function jsonLines(stdout: string): Record<string, any>[] {
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

test('cache lists the caches of every repository, and --cleanup removes only those unused for --max-age days', async () => {
  const dir = await tempDir();
  const root = path.join(dir, 'caches');
  // A real cache: a repository used now.
  const g = ['--repo', path.join(dir, 'repo'), '--cache-dir', root];
  assert.equal((await cairn([...g, 'init'], env)).code, 0);
  assert.equal((await cairn([...g, 'snapshots'], env)).code, 0);
  const [current] = await fs.readdir(root);
  // Two more, last used 40 and 10 days ago, and a directory that is not a cache.
  const aged = async (id: string, days: number) => {
    const d = path.join(root, id, 'index.ldb');
    await fs.mkdir(d, { recursive: true });
    await fs.writeFile(path.join(d, 'LOG'), 'x'.repeat(1000));
    const t = Date.now() / 1000 - days * DAY;
    for (const p of [path.join(d, 'LOG'), d, path.join(root, id)]) await fs.utimes(p, t, t);
  };
  const old = 'a'.repeat(64);
  const recent = 'b'.repeat(64);
  await aged(old, 40);
  await aged(recent, 10);
  await fs.mkdir(path.join(root, 'not-a-cache'));

  const list = await cairn(['--cache-dir', root, 'cache'], env);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /3 caches in .*; 1 unused for more than 30 days .*cairn cache --cleanup/);
  const listed = jsonLines((await cairn(['--cache-dir', root, 'cache', '--json'], env)).stdout).filter((l) => l.message_type === 'cache');
  assert.deepEqual(listed.map((l) => l.repository_id), [old, recent, current], 'least recently used first');
  assert.ok(listed.every((l) => l.bytes > 0 && l.removed === false));

  const clean = jsonLines((await cairn(['--cache-dir', root, 'cache', '--cleanup', '--json'], env)).stdout);
  assert.deepEqual(clean.filter((l) => l.message_type === 'cache' && l.removed).map((l) => l.repository_id), [old]);
  assert.deepEqual((await fs.readdir(root)).sort(), [recent, current, 'not-a-cache'].sort());
  const tighter = await cairn(['--cache-dir', root, 'cache', '--cleanup', '--max-age', '5'], env);
  assert.match(tighter.stdout, /removed 1 of 2 caches/);
  assert.deepEqual((await fs.readdir(root)).sort(), [current, 'not-a-cache'].sort());
  // The repository still opens; its cache stays.
  assert.equal((await cairn([...g, 'snapshots'], env)).code, 0);
  const none = await cairn(['--cache-dir', path.join(dir, 'nowhere'), 'cache'], env);
  assert.match(none.stdout, /no caches in/);
  assert.equal((await cairn(['--cache-dir', root, 'cache', '--max-age=-1'], env)).code, 1);
});
