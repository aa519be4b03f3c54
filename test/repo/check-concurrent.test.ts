import { it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { MemoryBackend } from '../../backends/memory.js';
import { backup } from '../../repo/archiver.js';
import { check } from '../../repo/check.js';
import { Repository } from '../../repo/repository.js';
import { pseudoRandom, tempDir } from '../helpers.js';

it('check reports nothing when a backup finishes while it runs', async () => {
  const dir = await tempDir();
  const [first, second] = [path.join(dir, 'first'), path.join(dir, 'second')];
  await fs.mkdir(first);
  await fs.mkdir(second);
  await fs.writeFile(path.join(first, 'a'), pseudoRandom(50_000, 1));
  await fs.writeFile(path.join(second, 'b'), pseudoRandom(50_000, 2));
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  try {
    await backup(repo, { paths: [first], parent: null });
    // Another backup (as another process would) ends while check is under way: at the
    // moment check lists the snapshots.
    const list = repo.listSnapshots.bind(repo);
    let ran = false;
    repo.listSnapshots = async (onError) => {
      if (!ran) {
        ran = true;
        await backup(repo, { paths: [second], parent: null });
      }
      return list(onError);
    };
    const report = await check(repo);
    assert.ok(ran, 'the backup ran during check');
    assert.deepEqual(report.problems.filter((p) => p.severity === 'error'), []);
    assert.equal(report.snapshots, 2);
  } finally {
    await repo.close();
  }
});
