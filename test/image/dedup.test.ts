import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers.js';
import { backup } from '../../repo/archiver.js';
import { findNode } from '../../repo/tree-walk.js';
import { openImageSnapshot } from '../../repo/image-reader.js';
import { imageReferencedBlobs } from '../../repo/image-refs.js';
import { ext4Image, fatImage, makeSourceTree, ntfsImage } from './fs-images.js';
import { backupImageFile, memoryRepo } from './library.js';

const MiB = 1024 * 1024;

/** What the image adds after a file backup of the same tree, as a share of its cost alone. */
async function dedupShare(dir: string, src: string, img: string): Promise<{ share: number; alone: number; after: number; sameBlobs: boolean }> {
  const a = await memoryRepo(dir);
  const b = await memoryRepo(dir);
  try {
    const files = await backup(a.repo, { paths: [src] });
    const before = a.repo.added.storedBytes;
    const image = await backupImageFile(a.repo, img);
    const after = a.repo.added.storedBytes - before;
    await backupImageFile(b.repo, img);
    const alone = b.repo.added.storedBytes;
    // The same file has the same content blobs in both snapshots.
    const inFiles = await findNode(a.repo, files.snapshot.tree, `${src}/big.bin`);
    const fsDir = (image.snapshot.image as { fileSystems: { dir: string }[] }).fileSystems[0].dir;
    const inImage = await findNode(a.repo, image.snapshot.tree, `/${fsDir}/big.bin`);
    return { share: after / alone, alone, after, sameBlobs: JSON.stringify(inFiles.content) === JSON.stringify(inImage.content) };
  } finally {
    await a.repo.close();
    await b.repo.close();
  }
}

test('an image of a tree already backed up adds little: ext4 at most 5%; FAT and NTFS reported', async (t) => {
  const dir = await tempDir('cairn-dedup-');
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await makeSourceTree(src, 4, 21);
  const results: Record<string, Awaited<ReturnType<typeof dedupShare>>> = {};
  await ext4Image(path.join(dir, 'ext4.img'), src, 64 * MiB);
  results.ext4 = await dedupShare(dir, src, path.join(dir, 'ext4.img'));
  await fatImage(path.join(dir, 'fat.img'), src, 64 * MiB, 16);
  results.fat = await dedupShare(dir, src, path.join(dir, 'fat.img'));
  await ntfsImage(path.join(dir, 'ntfs.img'), src, 64 * MiB);
  results.ntfs = await dedupShare(dir, src, path.join(dir, 'ntfs.img'));
  for (const [k, v] of Object.entries(results)) {
    t.diagnostic(`${k}: image alone ${v.alone} bytes, after the file backup ${v.after} bytes = ${(100 * v.share).toFixed(2)}%`);
    assert.ok(v.sameBlobs, `${k}: big.bin has the same blobs in the file and the image snapshot`);
  }
  assert.ok(results.ext4.share <= 0.05, `ext4 image added ${(100 * results.ext4.share).toFixed(2)}% of its standalone cost`);
  assert.ok(results.fat.share <= 0.2 && results.ntfs.share <= 0.2, 'FAT and NTFS images dedup against the file backup too');
});

test('reading one file or a few bytes of an image snapshot loads only the blobs it needs; prune sees every blob', async () => {
  const dir = await tempDir('cairn-dedup-');
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await makeSourceTree(src, 4, 5);
  const img = path.join(dir, 'ext4.img');
  await ext4Image(img, src, 256 * MiB);
  const { repo, backend } = await memoryRepo(dir);
  try {
    const { id, snapshot } = await backupImageFile(repo, img);
    backend.loadedBytes = 0;
    // What `cairn dump` does: the tree, then the file's content blobs.
    const node = await findNode(repo, snapshot.tree, '/fs/docs/readme.txt');
    for (const c of node.content!) await repo.loadBlob(c);
    assert.ok(backend.loadedBytes < 64 * 1024, `dump loaded ${backend.loadedBytes} bytes of packs`);

    const image = await openImageSnapshot(repo, snapshot, id);
    assert.equal(image.size, 256 * MiB);
    const whole = await fs.readFile(img);
    backend.loadedBytes = 0;
    for (const at of [0, 1024, 5 * MiB + 17, 100 * MiB, 256 * MiB - 4096]) {
      assert.deepEqual(Buffer.from(await image.read(at, 4096)), whole.subarray(at, at + 4096), `bytes at ${at}`);
    }
    assert.ok(backend.loadedBytes < 12 * MiB, `5 reads of 4 KiB loaded ${backend.loadedBytes} bytes`);

    const refs = new Set<string>();
    for await (const b of imageReferencedBlobs(repo, snapshot, id)) refs.add(b);
    const stored = new Set<string>();
    for await (const f of backend.list('index')) for (const p of (await repo.loadIndexFile(f.name)).packs) for (const b of p.blobs) stored.add(Buffer.from(b.id).toString('hex'));
    assert.deepEqual([...stored].filter((b) => !refs.has(b)), [], 'every stored blob is referenced by the only snapshot');
    assert.ok([...refs].every((b) => stored.has(b)), 'every referenced blob is stored');
  } finally {
    await repo.close();
  }
});
