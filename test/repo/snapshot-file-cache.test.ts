import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Handle } from '../../backends/backend.js';
import { MemoryBackend } from '../../backends/memory.js';
import { backup } from '../../repo/archiver.js';
import { check } from '../../repo/check.js';
import { Repository } from '../../repo/repository.js';
import { tempDir } from '../helpers.js';

/** Counts the snapshot files read from the store. */
class SnapshotReads extends MemoryBackend {
  reads = 0;
  override async load(h: Handle, offset?: number, length?: number): Promise<Uint8Array> {
    if (h.type === 'snapshots') this.reads++;
    return super.load(h, offset, length);
  }
}

it('snapshot files are read from the store once, then from the local cache; forgotten ones leave it', async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await fs.writeFile(path.join(src, 'f'), 'one');
  const backend = new SnapshotReads();
  const cacheDir = path.join(dir, 'cache');
  const repo = await Repository.init(backend, 'pw', { cacheDir, kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  try {
    const ids: string[] = [];
    for (const content of ['one', 'two', 'three']) {
      await fs.writeFile(path.join(src, 'f'), content);
      ids.push((await backup(repo, { paths: [src] })).id);
    }
    backend.reads = 0;
    const first = await repo.listSnapshots();
    assert.deepEqual(first.map((r) => r.id), ids);
    // The backups read their parents through the cache; what is left comes from the store once.
    const fromStore = backend.reads;
    assert.ok(fromStore <= 1, `at most the newest snapshot from the store: ${fromStore}`);
    backend.reads = 0;
    assert.deepEqual((await repo.listSnapshots()).map((r) => r.snapshot), first.map((r) => r.snapshot));
    assert.equal(backend.reads, 0, 'every snapshot from the cache');

    // A damaged copy in the cache is read from the store again, and replaced.
    const cached = path.join(repo.cacheDir, 'snapshots', ids[1]);
    await fs.writeFile(cached, 'not a snapshot');
    assert.deepEqual(await repo.loadSnapshot(ids[1]), first[1].snapshot);
    assert.equal(backend.reads, 1);
    assert.ok((await fs.readFile(cached)).equals(await backend.load({ type: 'snapshots', name: ids[1] })), 'the store\'s copy replaced it');

    // A snapshot removed from the store (forget) leaves the cache at the next listing.
    await backend.remove({ type: 'snapshots', name: ids[0] });
    assert.deepEqual((await repo.listSnapshots()).map((r) => r.id), ids.slice(1));
    assert.deepEqual((await fs.readdir(path.join(repo.cacheDir, 'snapshots'))).sort(), ids.slice(1).sort());

    // check reads the store's copies: a damaged file there is found though the cache has a good one.
    const stored = await backend.load({ type: 'snapshots', name: ids[2] });
    stored[stored.length - 1] ^= 1;
    await backend.remove({ type: 'snapshots', name: ids[2] });
    await backend.save({ type: 'snapshots', name: ids[2] }, stored);
    assert.equal((await repo.loadSnapshot(ids[2])).tree, first[2].snapshot.tree, 'commands use the good cached copy');
    const report = await check(repo);
    assert.ok(report.problems.some((p) => p.object === `snapshots/${ids[2]}`), JSON.stringify(report.problems));
  } finally {
    await repo.close();
  }
});

it('a copy left half-written by a process that died is removed at the next listing; a live writer\'s is kept', async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await fs.writeFile(path.join(src, 'f'), 'one');
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  try {
    const { id } = await backup(repo, { paths: [src] });
    const cacheDir = path.join(repo.cacheDir, 'snapshots');
    await fs.mkdir(cacheDir, { recursive: true });
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = await new Promise<number>((resolve) => child.once('exit', () => resolve(child.pid!)));
    const dead = `.${id}.${deadPid}.tmp`;
    // Another snapshot's name: this process writes `id`'s copy under the name `.${id}.${pid}.tmp` itself.
    const live = `.${'0'.repeat(64)}.${process.pid}.tmp`;
    await fs.writeFile(path.join(cacheDir, dead), 'half');
    await fs.writeFile(path.join(cacheDir, live), 'half');
    await repo.listSnapshots();
    assert.deepEqual((await fs.readdir(cacheDir)).sort(), [live, id].sort());
  } finally {
    await repo.close();
  }
});

it('a snapshot id that is not a snapshot name never reaches a file outside the cache', async () => {
  const dir = await tempDir();
  const backend = new SnapshotReads();
  const repo = await Repository.init(backend, 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  try {
    // Not a snapshot: a damaged "copy" of it would be removed, as a cached one is.
    const outside = path.join(repo.cacheDir, 'outside');
    await fs.writeFile(outside, 'not a snapshot');
    await assert.rejects(repo.loadSnapshot('../outside'));
    assert.equal(await fs.readFile(outside, 'utf8'), 'not a snapshot');
  } finally {
    await repo.close();
  }
});
