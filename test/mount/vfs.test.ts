import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blobSpan } from '../../mount/content.js';
import { LruCache } from '../../mount/lru.js';
import { statMode, Vfs, VfsError } from '../../mount/vfs.js';
import { Repository } from '../../repo/repository.js';
import { pseudoRandom } from '../helpers.js';
import { dirNode, fileNode, memoryRepo, saveSnapshot, symlinkNode } from './memory-repo.js';

/** Counts blob loads, to see that a read fetches only what it needs. */
function countLoads(repo: Repository): string[] {
  const loaded: string[] = [];
  const orig = repo.loadBlob.bind(repo);
  repo.loadBlob = (id) => {
    loaded.push(String(id));
    return orig(id);
  };
  return loaded;
}

async function fixture() {
  const repo = await memoryRepo();
  const big = pseudoRandom(100_000, 7);
  const cuts = [10_000, 30_000, 31_000, 60_000];
  const bigNode = await fileNode(repo, 'big.bin', big, cuts, { mode: 0o600, links: 2, inode: 42 });
  const link = { ...bigNode, name: 'hardlink' };
  const empty = await fileNode(repo, 'empty', Buffer.alloc(0), []);
  const docs = await dirNode(repo, 'docs', [await fileNode(repo, 'a.txt', Buffer.from('hello\n'), []), symlinkNode('up', '../big.bin')]);
  const id = await saveSnapshot(repo, [bigNode, link, empty, docs], { tags: ['t1'] });
  const vfs = await Vfs.create(repo, { cacheBytes: 1 << 20 });
  return { repo, vfs, big, id, cuts };
}

test('a file snapshot shows its tree with names, modes, owners, sizes, times and symlinks', async () => {
  const { vfs, id } = await fixture();
  const root = `/ids/${id.slice(0, 8)}`;
  assert.deepEqual([...(await vfs.readdir(await vfs.lookup(root))).keys()].sort(), ['big.bin', 'docs', 'empty', 'hardlink']);
  const big = await vfs.lookup(`${root}/big.bin`);
  assert.equal(big.kind, 'file');
  assert.equal(statMode(big), 0o100600);
  assert.equal(big.size, 100_000);
  assert.deepEqual([big.uid, big.gid], [1000, 100]);
  assert.equal(big.mtimeMs, Date.parse('2026-01-02T03:04:05Z'));
  const docs = await vfs.lookup(`${root}/docs`);
  assert.equal(statMode(docs), 0o040750);
  const up = await vfs.lookup(`${root}/docs/up`);
  assert.equal(up.kind, 'symlink');
  assert.equal(up.linkTarget, '../big.bin');
  assert.equal(up.size, '../big.bin'.length);
  const same = await vfs.lookup(`/snapshots/2026-01-02T03:04:05Z/docs/a.txt`);
  assert.equal((await vfs.open(same).read(0, 100)).toString(), 'hello\n');
  assert.equal((await vfs.lookup('/tags/t1/latest')).linkTarget, '2026-01-02T03:04:05Z');
  await assert.rejects(vfs.lookup(`${root}/nope`), (e: VfsError) => e.code === 'ENOENT');
  await assert.rejects(vfs.lookup(`${root}/big.bin/x`), (e: VfsError) => e.code === 'ENOTDIR');
  assert.throws(() => vfs.open(docs), (e: VfsError) => e.code === 'EISDIR');
});

test('inode numbers are stable, distinct, and shared by hard links', async () => {
  const { vfs, id } = await fixture();
  const root = `/ids/${id.slice(0, 8)}`;
  const a = await vfs.lookup(`${root}/big.bin`);
  const b = await vfs.lookup(`${root}/big.bin`);
  const h = await vfs.lookup(`${root}/hardlink`);
  const d = await vfs.lookup(`${root}/docs`);
  const e = await vfs.lookup(`${root}/empty`);
  assert.equal(a.ino, b.ino);
  assert.equal(a.ino, h.ino);
  assert.equal(new Set([a.ino, d.ino, e.ino, (await vfs.lookup('/')).ino]).size, 4);
  assert.equal((await vfs.lookup('/')).ino, 1);
});

test('reads at any offset return the right bytes and fetch only the blobs they cover', async () => {
  const { repo, vfs, big, id } = await fixture();
  const node = await vfs.lookup(`/ids/${id.slice(0, 8)}/big.bin`);
  const loaded = countLoads(repo);
  const f = vfs.open(node);
  // The 1000-byte blob [30000, 31000) alone.
  assert.deepEqual(await f.read(30_100, 500), big.subarray(30_100, 30_600));
  assert.equal(loaded.length, 1);
  assert.equal(loaded[0], node.data?.type === 'blobs' ? node.data.content[2] : '');
  // Spanning three blobs, and past the end (short read), and wholly past it (empty).
  assert.deepEqual(await f.read(29_000, 2_500), big.subarray(29_000, 31_500));
  assert.deepEqual(await f.read(99_990, 100), big.subarray(99_990));
  assert.equal((await f.read(100_000, 10)).length, 0);
  for (let i = 0; i < 50; i++) {
    const off = (i * 7919) % 100_000;
    const len = 1 + ((i * 104729) % 40_000);
    assert.deepEqual(await vfs.open(node).read(off, len), big.subarray(off, off + len), `read ${len} at ${off}`);
  }
  const empty = await vfs.lookup(`/ids/${id.slice(0, 8)}/empty`);
  assert.equal((await vfs.open(empty).read(0, 10)).length, 0);
});

test('sequential reads fetch the following blobs ahead of time', async () => {
  const { repo, vfs, id } = await fixture();
  const node = await vfs.lookup(`/ids/${id.slice(0, 8)}/big.bin`);
  const loaded = countLoads(repo);
  const f = vfs.open(node);
  await f.read(0, 4096);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(loaded.length >= 3, `only ${loaded.length} blobs fetched after a read at 0`);
});

test('an image snapshot shows disk.img of the right size beside its file systems', async () => {
  const repo = await memoryRepo();
  const image = pseudoRandom(1 << 16, 3);
  const p1 = await dirNode(repo, 'p1', [await fileNode(repo, 'inside.txt', Buffer.from('in the image\n'), [])]);
  const id = await saveSnapshot(repo, [p1], { kind: 'image' });
  const vfs = await Vfs.create(repo, {
    openImage: async () => ({ size: image.length, read: async (o, l) => image.subarray(o, o + l) }),
  });
  const root = `/ids/${id.slice(0, 8)}`;
  assert.deepEqual([...(await vfs.readdir(await vfs.lookup(root))).keys()].sort(), ['disk.img', 'p1']);
  const disk = await vfs.lookup(`${root}/disk.img`);
  assert.equal(disk.size, image.length);
  assert.deepEqual(await vfs.open(disk).read(1000, 5000), image.subarray(1000, 6000));
  assert.deepEqual(await vfs.open(disk).read(image.length - 10, 100), image.subarray(image.length - 10));
  assert.equal((await vfs.open(await vfs.lookup(`${root}/p1/inside.txt`)).read(0, 99)).toString(), 'in the image\n');
});

test('new snapshots appear after a refresh', async () => {
  const { repo, vfs } = await fixture();
  await saveSnapshot(repo, [], { time: '2027-01-01T00:00:00Z' });
  assert.equal((await vfs.readdir(await vfs.lookup('/snapshots'))).size, 2);
  await vfs.refresh(true);
  assert.deepEqual([...(await vfs.readdir(await vfs.lookup('/snapshots'))).keys()], ['2026-01-02T03:04:05Z', '2027-01-01T00:00:00Z', 'latest']);
});

test('a path stays resolved until the snapshot list is reloaded, and not after its snapshot is forgotten', async () => {
  const { repo, vfs, id } = await fixture();
  const path = '/snapshots/2026-01-02T03:04:05Z/docs/a.txt';
  const before = await vfs.lookup(path);
  assert.equal(await vfs.lookup(path), before, 'a second lookup gives the node resolved before');
  await repo.backend.remove({ type: 'snapshots', name: id });
  assert.equal(await vfs.lookup(path), before, 'until a reload, the mount shows the snapshots it listed');
  await vfs.refresh(true);
  await assert.rejects(vfs.lookup(path), (err: VfsError) => err.code === 'ENOENT');
});

test('blobSpan picks the blobs that cover a range', () => {
  const starts = [0, 10, 20, 25, 40];
  assert.deepEqual(blobSpan(starts, 0, 10), { first: 0, last: 0, end: 10 });
  assert.deepEqual(blobSpan(starts, 9, 2), { first: 0, last: 1, end: 11 });
  assert.deepEqual(blobSpan(starts, 20, 100), { first: 2, last: 3, end: 40 });
  assert.equal(blobSpan(starts, 40, 1), undefined);
  assert.equal(blobSpan([0], 0, 1), undefined);
});

test('the LRU cache stays within its byte bound and shares loads in flight', async () => {
  const c = new LruCache<string, Buffer>(100, (b) => b.length);
  let loads = 0;
  const load = (n: number) => async () => {
    loads++;
    return Buffer.alloc(n);
  };
  const [x, y] = await Promise.all([c.get('a', load(40)), c.get('a', load(40))]);
  assert.equal(x, y);
  assert.equal(loads, 1);
  await c.get('b', load(40));
  await c.get('a', load(40)); // a is now the most recent
  await c.get('c', load(40)); // evicts b
  assert.ok(c.has('a') && c.has('c') && !c.has('b'));
  assert.ok(c.weight <= 100);
  await c.get('huge', load(1000));
  assert.ok(!c.has('huge'));
  await assert.rejects(c.get('bad', async () => Promise.reject(new Error('boom'))));
  assert.equal(await c.get('bad', async () => Buffer.alloc(1)).then((b) => b.length), 1, 'a failure is not cached');
});
