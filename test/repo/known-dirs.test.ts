import { it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MemoryBackend } from '../../backends/memory.js';
import { backup } from '../../repo/archiver.js';
import { SourceReadError } from '../../repo/chunk-pool.js';
import { DirRecorder, KnownDirs, knownDirsFingerprint, recordsDir } from '../../repo/known-dirs.js';
import { nameTables } from '../../repo/user-names.js';
import { Repository } from '../../repo/repository.js';
import { findNode } from '../../repo/tree-walk.js';
import type { Snapshot } from '../../repo/snapshot.js';
import { tempDir } from '../helpers.js';
import { holdChunking } from './hold.js';

async function setup() {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  for (const d of ['a/x/deep', 'a/y', 'a/z/deeper', 'b', 'c/empty']) await fs.mkdir(path.join(src, d), { recursive: true });
  for (const f of ['a/x/deep/f1', 'a/x/f2', 'a/y/f3', 'a/z/deeper/f6', 'b/f4', 'b/f5', 'top']) await fs.writeFile(path.join(src, f), `content of ${f}`);
  await fs.symlink('../a/y', path.join(src, 'b', 'link'));
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  // The first backup's reads move access times, which the second records; from the
  // third on, an untouched source lists as before.
  await backup(repo, { paths: [src] });
  const parent = await backup(repo, { paths: [src] });
  return { src, repo, parent: parent.id, parentTree: parent.snapshot.tree };
}

/**
 * The subtree of `p` in the snapshot tree `tree`. Tests compare these, not the snapshots'
 * root trees: those hold the directories above the source, such as the temporary
 * directory, in which tests running alongside create and delete their own.
 */
async function subtreeAt(repo: Repository, tree: string, p: string): Promise<string> {
  return (await findNode(repo, tree, p)).subtree!;
}

/** Every tree id below `p` in the snapshot tree `tree`, and the subtree of `p` itself. */
async function treesBelow(repo: Repository, tree: string, p: string): Promise<{ at: string; all: Set<string> }> {
  const at = await subtreeAt(repo, tree, p);
  const all = new Set<string>();
  const visit = async (id: string) => {
    all.add(id);
    for (const n of (await repo.loadTree(id)).nodes) if (n.type === 'dir') await visit(n.subtree!);
  };
  await visit(at);
  return { at, all };
}

/**
 * A summary's counts of files, directories and errors. Not the added bytes: they count the
 * trees above the source too, which change as other tests use the temporary directory.
 */
function counts(s: Snapshot) {
  const { durationSeconds, addedBytes, addedRawBytes, ...rest } = s.summary!;
  assert.ok(durationSeconds >= 0 && addedBytes >= 0 && addedRawBytes >= 0);
  return rest;
}

it('a source listed as before keeps its trees without loading any of them', async () => {
  const { src, repo, parentTree } = await setup();
  const before = await treesBelow(repo, parentTree, src);
  const loadTree = mock.method(repo, 'loadTree');
  try {
    const again = await backup(repo, { paths: [src] });
    const loaded = loadTree.mock.calls.map((c) => c.arguments[0]);
    assert.deepEqual(
      loaded.filter((id) => before.all.has(id)),
      [],
      'no tree under the backed-up path is loaded',
    );
    loadTree.mock.restore();
    assert.equal((await treesBelow(repo, again.snapshot.tree, src)).at, before.at);
    assert.equal(again.snapshot.summary?.filesUnchanged, 7);
    assert.equal(again.snapshot.summary?.dirs, 10);
  } finally {
    loadTree.mock.restore();
  }
});

it('with and without the records, a changed source gives the same trees and counts', async () => {
  const { src, repo, parent, parentTree } = await setup();
  const records = path.join(recordsDir(repo.cacheDir), parentTree);
  const saved = await fs.readFile(records);
  await fs.writeFile(path.join(src, 'a/x/deep/f1'), 'changed deep below unchanged directories');
  await fs.writeFile(path.join(src, 'c/empty/new'), 'a new file');
  await fs.rm(path.join(src, 'b/f5'));
  await fs.mkdir(path.join(src, 'a/y/new-dir'));
  // a/z and what it holds stay as they were, under a changed directory.
  // A first backup reads the changed directories, which moves their access times.
  await backup(repo, { paths: [src], parent });

  await fs.writeFile(records, saved);
  const loadTree = mock.method(repo, 'loadTree');
  const withRecords = await backup(repo, { paths: [src], parent });
  const loadedWith = loadTree.mock.callCount();
  // That backup removed the parent's records, which the next backup of these paths no
  // longer needs.
  await assert.rejects(fs.access(records));
  loadTree.mock.resetCalls();
  const without = await backup(repo, { paths: [src], parent });
  const loadedWithout = loadTree.mock.callCount();
  loadTree.mock.restore();

  assert.equal(await subtreeAt(repo, withRecords.snapshot.tree, src), await subtreeAt(repo, without.snapshot.tree, src));
  assert.deepEqual(counts(withRecords.snapshot), counts(without.snapshot));
  assert.ok(loadedWith < loadedWithout, `the records spared loading trees (${loadedWith} against ${loadedWithout})`);
  const deep = (await repo.loadTree((await treesBelow(repo, withRecords.snapshot.tree, `${src}/a/x/deep`)).at)).nodes;
  assert.equal(deep.find((n) => n.name === 'f1')?.size, 'changed deep below unchanged directories'.length);
});

it('a damaged records file is ignored', async () => {
  const { src, repo, parentTree } = await setup();
  const records = path.join(recordsDir(repo.cacheDir), parentTree);
  const bytes = await fs.readFile(records);
  // A flipped bit in a subtree id, where a wrong tree would end up in the snapshot.
  bytes[bytes.length - 40] ^= 1;
  await fs.writeFile(records, bytes);
  const loadTree = mock.method(repo, 'loadTree');
  const again = await backup(repo, { paths: [src] });
  const loaded = loadTree.mock.callCount();
  loadTree.mock.restore();
  assert.equal(await subtreeAt(repo, again.snapshot.tree, src), await subtreeAt(repo, parentTree, src));
  assert.ok(loaded >= 7, `the trees were loaded and compared (${loaded} loads)`);
});

it('a directory with a file that could not be read is not recorded, so the next backup reads the file', async () => {
  const { src, repo } = await setup();
  const file = path.join(src, 'a/x/f2');
  const chunking = holdChunking({ holds: () => false, fails: (p) => (p === file ? new SourceReadError('injected read error') : undefined) });
  // Changed, so that the failing file must be read.
  await fs.writeFile(file, 'changed, and unreadable for one backup');
  let failed;
  try {
    failed = await backup(repo, { paths: [src] });
  } finally {
    chunking.restore();
  }
  assert.equal(failed.snapshot.summary?.errors, 1);
  const next = await backup(repo, { paths: [src] });
  const x = (await repo.loadTree((await treesBelow(repo, next.snapshot.tree, `${src}/a/x`)).at)).nodes;
  assert.equal(x.find((n) => n.name === 'f2')?.size, 'changed, and unreadable for one backup'.length);
  assert.equal(next.snapshot.summary?.errors, 0);
});

it('records made for other user and group names, or by another version, are not used', async () => {
  const dir = await tempDir();
  const hash = (d: Uint8Array) => createHash('sha256').update(d).digest();
  const tree = 'a'.repeat(64);
  const recorder = new DirRecorder();
  recorder.add(tree, Buffer.alloc(32, 7), ['b'.repeat(64)]);
  await recorder.save(dir, tree, undefined, hash, Buffer.alloc(32, 1));
  assert.deepEqual((await KnownDirs.load(dir, tree, hash, Buffer.alloc(32, 1)))?.get(tree)?.subtrees, ['b'.repeat(64)]);
  assert.equal(await KnownDirs.load(dir, tree, hash, Buffer.alloc(32, 2)), undefined);
  // The fingerprint covers the names nodes record beside uid and gid.
  assert.ok(Buffer.from(knownDirsFingerprint(hash)).equals(hash(Buffer.from(`cairn known dirs 1\0${nameTables()}`))));
  assert.match(nameTables(), /"root"/);
});

it('a recorded directory whose parent tree cannot be loaded is made from its listing, as without the records', async () => {
  const { src, repo, parent, parentTree } = await setup();
  const records = path.join(recordsDir(repo.cacheDir), parentTree);
  const saved = await fs.readFile(records);
  // a/x lists as before, but a file below it changed, so its tree must be made again.
  await fs.writeFile(path.join(src, 'a/x/deep/f1'), 'changed below a recorded directory');
  const damaged = (await treesBelow(repo, parentTree, `${src}/a/x`)).at;
  const original = repo.loadTree.bind(repo);
  const loadTree = mock.method(repo, 'loadTree', (id: string) => (id === damaged ? Promise.reject(new Error('damaged tree')) : original(id)));
  try {
    await fs.rm(records);
    const without = await backup(repo, { paths: [src], parent });
    await fs.writeFile(records, saved);
    const withRecords = await backup(repo, { paths: [src], parent });
    assert.ok(loadTree.mock.calls.some((c) => c.arguments[0] === damaged), 'the damaged tree was asked for');
    assert.equal(await subtreeAt(repo, withRecords.snapshot.tree, src), await subtreeAt(repo, without.snapshot.tree, src));
    // Without a/x's parent tree, its own file f2 is read again and counts as new. Without
    // the records, a/x/deep's parent tree is lost too (it was found through a/x's), so f1
    // counts as new; with them, deep's parent tree is known, and f1 counts as changed.
    const [w, wo] = [counts(withRecords.snapshot), counts(without.snapshot)];
    assert.deepEqual({ ...w, filesNew: 0, filesChanged: 0 }, { ...wo, filesNew: 0, filesChanged: 0 });
    assert.deepEqual([w.filesNew, w.filesChanged, wo.filesNew, wo.filesChanged], [1, 1, 2, 0]);
  } finally {
    loadTree.mock.restore();
  }
});

it('a records file left half-written by a process that died is removed by the next backup; a running writer\'s stays', async () => {
  const { src, repo, parentTree } = await setup();
  const dir = recordsDir(repo.cacheDir);
  const child = spawn(process.execPath, ['-e', '0']);
  const deadPid = await new Promise<number>((resolve) => child.once('exit', () => resolve(child.pid!)));
  const dead = `${parentTree}.${deadPid}.tmp`;
  const live = `${'0'.repeat(64)}.${process.pid}.tmp`;
  for (const name of [dead, live]) await fs.writeFile(path.join(dir, name), 'half');
  await backup(repo, { paths: [src] });
  const left = (await fs.readdir(dir)).filter((n) => n.endsWith('.tmp'));
  assert.deepEqual(left, [live]);
});
