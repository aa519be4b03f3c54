import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MemoryBackend } from '../../backends/memory.js';
import { backup } from '../../repo/archiver.js';
import { Repository } from '../../repo/repository.js';
import { findNode } from '../../repo/tree-walk.js';
import { tempDir } from '../helpers.js';

it('--one-file-system keeps a mount point as an empty directory, also when its parent is recorded', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  const mnt = path.join(src, 'mnt');
  await fs.mkdir(mnt, { recursive: true });
  await fs.writeFile(path.join(src, 'here'), 'on the source file system');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
  try {
    await fs.mkdir(path.join(mnt, 'sub'));
    await fs.writeFile(path.join(mnt, 'sub', 'elsewhere'), 'on another file system');
    const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
    const subtreeAt = async (tree: string, p: string) => (await findNode(repo, tree, p)).subtree!;
    const nodesOf = async (tree: string, p: string) => (await repo.loadTree(await subtreeAt(tree, p))).nodes;
    // The second backup records access times the first moved; the third uses its records.
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await backup(repo, { paths: [src], oneFileSystem: true }));
    for (const { snapshot } of runs) {
      assert.deepEqual((await nodesOf(snapshot.tree, src)).map((n) => n.name), ['here', 'mnt']);
      assert.deepEqual(await nodesOf(snapshot.tree, mnt), [], 'nothing from the other file system');
      assert.equal(snapshot.summary?.totalFiles, 1);
    }
    // Not the root trees: they hold the temporary directory, where other tests come and go.
    assert.equal(await subtreeAt(runs[2].snapshot.tree, src), await subtreeAt(runs[1].snapshot.tree, src));

    const all = await backup(repo, { paths: [src] });
    assert.deepEqual((await nodesOf(all.snapshot.tree, mnt)).map((n) => n.name), ['sub'], 'without the flag the walk goes in');
  } finally {
    execFileSync('umount', [mnt]);
  }
});
