import { it, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { MemoryBackend } from '../../backends/memory.js';
import { backup } from '../../repo/archiver.js';
import { Repository } from '../../repo/repository.js';
import { sameNodes, serializeTree, TreeNode } from '../../repo/tree.js';
import { tempDir } from '../helpers.js';

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const node: fc.Arbitrary<TreeNode> = fc.record(
  {
    name: fc.constantFrom('a', 'b'),
    type: fc.constantFrom('file' as const, 'dir' as const),
    mode: fc.constantFrom(0o644, 0o755),
    uid: fc.constantFrom(0, 1000),
    gid: fc.constantFrom(0, 1000),
    user: fc.constantFrom('root', 'alice'),
    mtime: fc.constantFrom('2026-12-05T07:00:00.000000001Z', '2026-12-05T07:00:00.000000002Z'),
    atime: fc.constantFrom('2026-12-05T07:00:00Z'),
    ctime: fc.constantFrom('2026-12-05T07:00:00Z'),
    size: fc.constantFrom(0, 1),
    inode: fc.constantFrom(1, 2),
    device: fc.constant(1),
    links: fc.constantFrom(1, 2),
    xattrs: fc.constantFrom(undefined, [], [{ name: 'user.a', value: 'eA==' }], [{ name: 'user.a', value: 'eQ==' }]),
    content: fc.option(fc.array(fc.constantFrom('0'.repeat(64), '1'.repeat(64)), { maxLength: 2 }), { nil: undefined }),
    subtree: fc.option(hex64, { nil: undefined }),
  },
  { requiredKeys: ['name', 'type', 'mode', 'uid', 'gid', 'mtime', 'atime', 'ctime', 'size', 'inode', 'device', 'links'] },
);

it('sameNodes holds exactly when two sorted node lists serialize to the same tree', () => {
  // A directory node always has a subtree (serializeTree refuses one without).
  const valid = node.map((n) => (n.type === 'dir' && n.subtree === undefined ? { ...n, subtree: '2'.repeat(64) } : n));
  const sorted = fc.uniqueArray(valid, { selector: (n) => n.name, maxLength: 2 }).map((ns) => ns.sort((x, y) => x.name.localeCompare(y.name)));
  fc.assert(
    fc.property(sorted, sorted, (a, b) => {
      assert.equal(sameNodes(a, b), serializeTree({ nodes: a }).equals(serializeTree({ nodes: b })));
    }),
    { numRuns: 2000 },
  );
});

it('an unchanged directory keeps its parent tree, a changed one gets a new tree', async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  for (const d of ['kept', 'changed']) {
    await fs.mkdir(path.join(src, d, 'sub'), { recursive: true });
    await fs.writeFile(path.join(src, d, 'sub', 'f'), `${d} content`);
    await fs.writeFile(path.join(src, d, 'g'), `${d} more`);
    await fs.mkdir(path.join(src, d, 'empty'));
  }
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  const subtreeOf = async (tree: string, p: string) => {
    let id = tree;
    for (const part of p.split('/').filter(Boolean)) id = (await repo.loadTree(id)).nodes.find((n) => n.name === part)!.subtree!;
    return id;
  };
  // Reading the files in the first backup changed their access times; the second
  // records those, and the third finds nothing changed.
  await backup(repo, { paths: [src] });
  const first = await backup(repo, { paths: [src] });

  // Trees are written for the directories above the backed-up path (which the walk does
  // not compare) and for each directory that changed.
  const above = src.split('/').filter(Boolean).length;
  const saveTree = mock.method(repo, 'saveTree');
  const blobsBefore = repo.added.blobs;
  const second = await backup(repo, { paths: [src] });
  // Not the snapshots' root trees: they hold the directories above src, and tests running
  // alongside create and delete their own directories in the temporary directory.
  assert.equal(await subtreeOf(second.snapshot.tree, src), await subtreeOf(first.snapshot.tree, src));
  assert.ok(repo.added.blobs - blobsBefore <= above, 'an unchanged backup stores no blob but the trees above src');
  assert.equal(saveTree.mock.callCount(), above, 'unchanged directories are not serialized again');

  saveTree.mock.resetCalls();
  await fs.writeFile(path.join(src, 'changed', 'sub', 'f'), 'new content');
  // A new empty directory has no parent tree to keep: it gets the empty tree.
  await fs.mkdir(path.join(src, 'changed', 'sub', 'new-empty'));
  const third = await backup(repo, { paths: [src] });
  assert.equal(saveTree.mock.callCount(), above + 4, 'src, changed, changed/sub and the new directory get trees');
  const newEmpty = await subtreeOf(third.snapshot.tree, `${src}/changed/sub/new-empty`);
  assert.deepEqual((await repo.loadTree(newEmpty)).nodes, []);
  assert.equal(await subtreeOf(third.snapshot.tree, `${src}/kept`), await subtreeOf(first.snapshot.tree, `${src}/kept`));
  assert.notEqual(await subtreeOf(third.snapshot.tree, `${src}/changed/sub`), await subtreeOf(first.snapshot.tree, `${src}/changed/sub`));
  const changed = (await repo.loadTree(await subtreeOf(third.snapshot.tree, `${src}/changed/sub`))).nodes.find((n) => n.name === 'f')!;
  assert.equal(changed.size, 'new content'.length);
  assert.equal(third.snapshot.summary?.filesChanged, 1);
});
