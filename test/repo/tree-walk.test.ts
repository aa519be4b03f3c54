import { it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { MemoryBackend } from '../../backends/memory.js';
import { Repository } from '../../repo/repository.js';
import { TreeNode } from '../../repo/tree.js';
import { walkTree } from '../../repo/tree-walk.js';
import { tempDir } from '../helpers.js';

const SUBDIRS = 300;

function node(name: string, type: 'file' | 'dir', subtree?: string): TreeNode {
  const t = '2026-01-01T00:00:00Z';
  return { name, type, mode: 0o644, uid: 0, gid: 0, mtime: t, atime: t, ctime: t, size: 0, inode: 0, device: 0, links: 1, ...(type === 'file' ? { content: [] } : { subtree }) };
}

it('walkTree loads a few subdirectory trees ahead, not all of a wide directory, and still yields every node in order', async () => {
  const dir = await tempDir();
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  const names = Array.from({ length: SUBDIRS }, (_, i) => `d${String(i).padStart(4, '0')}`);
  const subtrees = await Promise.all(names.map((n) => repo.saveTree({ nodes: [node(`${n}-file`, 'file')] })));
  const root = await repo.saveTree({ nodes: names.map((n, i) => node(n, 'dir', subtrees[i])) });
  await repo.flush();

  const loadTree = repo.loadTree.bind(repo);
  let loads = 0;
  repo.loadTree = (id: string) => {
    loads++;
    return loadTree(id);
  };
  const seen: string[] = [];
  let loadsEarly = 0;
  for await (const e of walkTree(repo, root)) {
    seen.push(e.path.toString());
    if (seen.length === 4) {
      await new Promise((r) => setTimeout(r, 50));
      loadsEarly = loads;
    }
  }
  assert.ok(loadsEarly <= 20, `${loadsEarly} trees loaded after the first two subdirectories of ${SUBDIRS}`);
  assert.equal(loads, SUBDIRS + 1);
  assert.deepEqual(seen, names.flatMap((n) => [`/${n}`, `/${n}/${n}-file`]));
});

it('walkTree goes depth first through nested directories, and stops a chain deeper than 4096 levels', async () => {
  const dir = await tempDir();
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  const leaf = await repo.saveTree({ nodes: [node('f', 'file')] });
  const mid = await repo.saveTree({ nodes: [node('a', 'file'), node('deep', 'dir', leaf), node('z', 'file')] });
  const root = await repo.saveTree({ nodes: [node('one', 'dir', mid), node('two', 'dir', leaf), node('zz', 'file')] });
  /** A chain of `levels` directories, each holding the next. */
  const chain = async (levels: number) => {
    let tree = leaf;
    for (let i = 0; i < levels; i++) tree = await repo.saveTree({ nodes: [node('d', 'dir', tree)] });
    return tree;
  };
  const [ok, tooDeep] = [await chain(4096), await chain(4097)];
  await repo.flush();

  const paths = async (tree: string) => {
    const seen: string[] = [];
    for await (const e of walkTree(repo, tree)) seen.push(e.path.toString());
    return seen;
  };
  assert.deepEqual(await paths(root), ['/one', '/one/a', '/one/deep', '/one/deep/f', '/one/z', '/two', '/two/f', '/zz']);
  const deepest = (await paths(ok)).at(-1)!;
  // 4096 directories below the start, and the file in the last.
  assert.equal(deepest.split('/').length - 1, 4097);
  await assert.rejects(paths(tooDeep), /deeper than 4096 levels/);
});
