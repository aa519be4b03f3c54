import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { MemoryBackend } from '../../backends/memory.js';
import { backup } from '../../repo/archiver.js';
import { copySnapshots, initFrom, sharesBlobIds } from '../../repo/copy.js';
import { fromHex, toHex } from '../../repo/hex.js';
import { referencedBlobs } from '../../repo/references.js';
import { Repository } from '../../repo/repository.js';
import { restore } from '../../repo/restorer.js';
import { rewriteTree } from '../../repo/rewrite.js';
import { findNode } from '../../repo/tree-walk.js';
import type { SnapshotRef } from '../../repo/snapshot.js';
import { diffDigests, pseudoRandom, sha256, tempDir, treeDigest } from '../helpers.js';
import { backupImageFile } from '../image/library.js';
import { restoreImage } from '../../repo/image-restore.js';
import { CountingBackend } from './counting-backend.js';

const kdf = { memoryKiB: 64, iterations: 1, parallelism: 1 };

test('initFrom takes the blob-id key, chunker and pack size of the source, and a fresh encryption key', async () => {
  const dir = await tempDir('cairn-copy-');
  const opts = (name: string) => ({ cacheDir: path.join(dir, name), kdf });
  const chunker = { min: 4096, avg: 16384, max: 65536 };
  const src = await Repository.init(new MemoryBackend(), 'a', { ...opts('a'), chunker, packSize: 1 << 20 });
  const same = await initFrom(new MemoryBackend(), 'b', src, opts('b'));
  const packed = await initFrom(new MemoryBackend(), 'c', src, { ...opts('c'), packSize: 1 << 21 });
  const other = await Repository.init(new MemoryBackend(), 'd', { ...opts('d'), chunker });
  const otherChunker = await Repository.init(new MemoryBackend(), 'e', { ...opts('e'), blobIdKey: src.key.blobId });
  try {
    assert.deepEqual(same.key.blobId, src.key.blobId);
    assert.notDeepEqual(same.key.encrypt, src.key.encrypt);
    assert.notEqual(same.config.id, src.config.id);
    assert.deepEqual(same.config.chunker, chunker);
    assert.equal(same.config.packSize, 1 << 20);
    assert.equal(packed.config.packSize, 1 << 21);
    assert.equal(toHex(same.hashBlob(new Uint8Array([1, 2, 3]))), toHex(src.hashBlob(new Uint8Array([1, 2, 3]))));
    assert.ok(sharesBlobIds(src, same) && sharesBlobIds(src, packed) && sharesBlobIds(src, otherChunker));
    assert.ok(!sharesBlobIds(src, other));
  } finally {
    for (const r of [src, same, packed, other, otherChunker]) await r.close();
  }
});

test('copy reads each source pack in ranges, not blob by blob, and the copy restores byte for byte', async () => {
  const dir = await tempDir('cairn-copy-');
  const src = path.join(dir, 'src');
  await fs.mkdir(path.join(src, 'sub'), { recursive: true });
  // Compressible and incompressible files, small enough that a pack holds many blobs.
  for (let i = 0; i < 40; i++) await fs.writeFile(path.join(src, i % 2 ? 'sub' : '', `f${i}`), i % 3 ? pseudoRandom(5_000 + i * 700, i) : Buffer.alloc(9_000 + i, i));
  const backend = new CountingBackend();
  const opts = (name: string) => ({ cacheDir: path.join(dir, name), kdf });
  const from = await Repository.init(backend, 'a', { ...opts('a'), chunker: { min: 4096, avg: 16384, max: 65536 }, packSize: 100_000 });
  const into = await initFrom(new MemoryBackend(), 'b', from, opts('b'));
  try {
    const { id } = await backup(from, { paths: [src], parent: null });
    const [ref] = await from.listSnapshots();
    assert.equal(ref.id, id);
    backend.reads = [];
    const stats = await copySnapshots(from, into, [ref]);
    assert.equal(stats.copied, 1);
    // Tree packs are also read by the walk that lists the blobs: only content packs count.
    const data = await from.lookupBlobs([...(await referencedBlobs(from, ref.snapshot)).data].map(fromHex));
    const dataPacks = new Set(data.map((b) => b!.pack));
    const perPack = new Map<string, number>();
    for (const r of backend.reads) if (dataPacks.has(r.name)) perPack.set(r.name, (perPack.get(r.name) ?? 0) + 1);
    assert.ok(perPack.size >= 3, `several packs: ${perPack.size}`);
    assert.ok(data.length > 3 * perPack.size, `many blobs per pack: ${data.length} in ${perPack.size}`);
    for (const [pack, n] of perPack) assert.equal(n, 1, `pack ${pack} read ${n} times`);
    // Each blob keeps its compression and stored size, under the destination's own key.
    for (const b of data) {
      const c = (await into.lookupBlob(b!.id))!;
      assert.deepEqual([c.compressed, c.length, c.rawLength], [b!.compressed, b!.length, b!.rawLength]);
    }
    const [copy] = await into.listSnapshots();
    const target = path.join(dir, 'out');
    const r = await restore(into, copy.snapshot.tree, { target });
    assert.equal(r.errors, 0);
    assert.deepEqual(diffDigests(await treeDigest(src), await treeDigest(path.join(target, src))), []);
  } finally {
    await from.close();
    await into.close();
  }
});

test('rekeyed copies learn ids from the copy before: unchanged files are not read again, and a copy rewritten since is not trusted', async () => {
  const dir = await tempDir('cairn-copy-');
  const src = path.join(dir, 'src');
  // a/ holds only sub/: unchanged in the second backup, like every tree below it.
  await fs.mkdir(path.join(src, 'a', 'sub'), { recursive: true });
  for (let i = 0; i < 30; i++) await fs.writeFile(path.join(src, i % 2 ? 'a/sub' : '', `f${i}`), pseudoRandom(6_000 + i * 500, i));
  const backend = new CountingBackend();
  const opts = (name: string) => ({ cacheDir: path.join(dir, name), kdf });
  const chunker = { min: 4096, avg: 16384, max: 65536 };
  const from = await Repository.init(backend, 'a', { ...opts('a'), chunker, packSize: 100_000 });
  const into = await Repository.init(new MemoryBackend(), 'b', { ...opts('b'), chunker });
  const tamperedInto = await Repository.init(new MemoryBackend(), 'c', { ...opts('c'), chunker });
  try {
    assert.ok(!sharesBlobIds(from, into));
    // Directories read once before, so that the backups' reads move no access time (relatime):
    // the second backup then keeps the first one's trees for a/ and below.
    await fs.readdir(src, { recursive: true });
    await backup(from, { paths: [src], parent: null });
    await fs.writeFile(path.join(src, 'f0'), pseudoRandom(7_000, 1000));
    await backup(from, { paths: [src] });
    const [s1, s2] = await from.listSnapshots();
    const aTree = async (ref: SnapshotRef) => (await findNode(from, ref.snapshot.tree, path.join(src, 'a'))).subtree;
    assert.equal(await aTree(s2), await aTree(s1), 'the second backup shares a/');
    const copyCounting = async (to: Repository, ref: SnapshotRef) => {
      let total = 0;
      backend.reads = [];
      await copySnapshots(from, to, [ref], { onProgress: (p) => (total = p.blobsTotal) });
      return total;
    };
    const all = await copyCounting(into, s1);
    const second = await copyCounting(into, s2);
    assert.ok(all >= 30, `${all} blobs in the first copy`);
    assert.equal(second, 1, 'only the changed file is read');

    // A destination whose copy of s1 lost a/sub/f3 (as a rewrite would): neither that
    // directory's copy nor a/'s is trusted, so the copy of s2 still has the file.
    await copySnapshots(from, tamperedInto, [s1]);
    const [copy] = await tamperedInto.listSnapshots();
    const rewritten = await rewriteTree(tamperedInto, copy.snapshot.tree, { node: (n, p) => (p.toString().endsWith('/a/sub/f3') ? null : n) });
    await tamperedInto.backend.remove({ type: 'snapshots', name: copy.id });
    await tamperedInto.saveSnapshot({ ...copy.snapshot, tree: await tamperedInto.saveTree(rewritten!) });
    await tamperedInto.flush();
    const readAgain = await copyCounting(tamperedInto, s2);
    assert.ok(readAgain > 1, `the files of a/sub/ are read again: ${readAgain} blobs`);

    for (const [repo, name] of [[into, 'out-b'], [tamperedInto, 'out-c']] as const) {
      const latest = (await repo.listSnapshots()).pop()!;
      assert.equal(latest.snapshot.original, s2.id);
      const target = path.join(dir, name);
      assert.equal((await restore(repo, latest.snapshot.tree, { target })).errors, 0);
      assert.deepEqual(diffDigests(await treeDigest(src), await treeDigest(path.join(target, src))), [], name);
    }
  } finally {
    for (const r of [from, into, tamperedInto]) await r.close();
  }
});

test('rekeyed copies of a plain disk image learn its blobs from the copy before: only the changed region is read', async () => {
  const dir = await tempDir('cairn-copy-');
  const img = path.join(dir, 'disk.img');
  const image = pseudoRandom(3 * 1024 * 1024, 42);
  await fs.writeFile(img, image);
  const opts = (name: string) => ({ cacheDir: path.join(dir, name), kdf });
  const chunker = { min: 4096, avg: 16384, max: 65536 };
  const from = await Repository.init(new MemoryBackend(), 'a', { ...opts('a'), chunker });
  const into = await Repository.init(new MemoryBackend(), 'b', { ...opts('b'), chunker });
  try {
    await backupImageFile(from, img, { plain: true });
    // 64 KiB changed in the middle; a new mtime, so the image is read again.
    pseudoRandom(64 * 1024, 43).copy(image, 1024 * 1024);
    await fs.writeFile(img, image);
    await backupImageFile(from, img, { plain: true });
    const [s1, s2] = await from.listSnapshots();
    const total = async (ref: SnapshotRef) => {
      let n = 0;
      await copySnapshots(from, into, [ref], { onProgress: (p) => (n = p.blobsTotal) });
      return n;
    };
    const all = await total(s1);
    const changed = await total(s2);
    assert.ok(all > 100, `${all} blobs in the first copy`);
    assert.ok(changed > 0 && changed < all / 10, `${changed} of ${all} blobs read for the second copy`);
    const [, copy] = await into.listSnapshots();
    const out = path.join(dir, 'out.img');
    await restoreImage(into, copy.snapshot, out, { verify: true });
    assert.equal(sha256(await fs.readFile(out)), sha256(image));
  } finally {
    await from.close();
    await into.close();
  }
});
