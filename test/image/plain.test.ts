import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pseudoRandom, tempDir } from '../helpers.js';
import { MemoryBackend } from '../../backends/memory.js';
import { openFileSource } from '../../disk/file-source.js';
import { backupImage } from '../../repo/image-backup.js';
import { restoreImage, verifyImage, VerifyError } from '../../repo/image-restore.js';
import { Repository } from '../../repo/repository.js';
import { countingSource } from '../disk/fuzz-tools.js';
import { allocated, loopDevice, newRepo, requireRoot, sha256File, summaryOf, TestRepo } from './tools.js';

const MiB = 1024 * 1024;

/** 72 MiB, mostly holes: random runs, a short zero run inside data, data at the very end. */
async function sparseImage(file: string, seed: number): Promise<void> {
  const fh = await fs.open(file, 'w');
  await fh.truncate(72 * MiB);
  await fh.write(pseudoRandom(3 * MiB, seed), 0, 3 * MiB, 1 * MiB);
  await fh.write(pseudoRandom(8192, seed + 1), 0, 8192, 4 * MiB + 16384); // 16 KiB of zeros before: too short for a hole
  await fh.write(pseudoRandom(6 * MiB, seed + 2), 0, 6 * MiB, 62 * MiB + 512); // crosses a 64 MiB restart point
  await fh.write(Buffer.from('the end'), 0, 7, 72 * MiB - 7);
  await fh.close();
}

async function roundTrip(r: TestRepo, source: string, target: string) {
  const b = summaryOf(await r.json(['backup', '--image', source]));
  assert.equal(b.kind, 'image');
  assert.equal(b.mode, 'plain');
  await r.ok(['restore', b.snapshot_id, '--image', '--target', target, '--verify']);
  return b;
}

test('plain image: backup, restore byte for byte into a sparse file, --verify, and an unchanged second backup adds nothing', async () => {
  const r = await newRepo();
  const img = path.join(r.dir, 'disk.img');
  await sparseImage(img, 7);
  const out = path.join(r.dir, 'out.img');
  const b = await roundTrip(r, img, out);
  assert.equal(b.image_size, 72 * MiB);
  assert.ok(b.stored_bytes < 10 * MiB && b.stored_bytes > 9 * MiB, `stored ${b.stored_bytes}`);
  assert.equal(await sha256File(out), await sha256File(img));
  assert.ok((await allocated(out)) < 12 * MiB, `restored image takes ${await allocated(out)} bytes on disk`);

  const second = summaryOf(await r.json(['backup', '--image', img]));
  assert.equal(second.unchanged_since, b.snapshot_id, 'an unchanged image file is not read again');
  assert.equal(second.data_added, 0);
  const forced = summaryOf(await r.json(['backup', '--image', img, '--force']));
  assert.equal(forced.unchanged_since, undefined);
  assert.ok(forced.data_added < 64 * 1024, `unchanged image read again added ${forced.data_added}`);
  await fs.appendFile(img, 'x'.repeat(4096));
  const changed = summaryOf(await r.json(['backup', '--image', img]));
  assert.equal(changed.unchanged_since, undefined, 'a changed image is read');
  assert.equal(changed.image_size, 72 * MiB + 4096);

  const snaps = JSON.parse(await r.ok(['snapshots', '--json']));
  assert.deepEqual(snaps.map((s: { kind: string }) => s.kind), ['image', 'image', 'image', 'image']);
  assert.equal(snaps[0].image.mode, 'plain');
});

test('the holes of a sparse image are not read, and it is stored exactly as a dense copy of it', async () => {
  const dir = await tempDir('cairn-image-');
  const img = path.join(dir, 'disk.img');
  await sparseImage(img, 17);
  const dense = path.join(dir, 'dense.img');
  await fs.writeFile(dense, await fs.readFile(img));
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  try {
    const backup = async (file: string) => {
      const src = await openFileSource(file);
      const counted = countingSource(src);
      try {
        const { snapshot } = await backupImage(repo, counted, { sourceName: file, plain: true });
        return { bytesRead: counted.bytesRead, map: (snapshot.image as { mapRoot: string }).mapRoot };
      } finally {
        await src.close();
      }
    };
    const s = await backup(img);
    const d = await backup(dense);
    assert.equal(d.bytesRead, 72 * MiB, 'a dense file is read whole');
    // Only the 8 MiB pieces that hold data are read: three of the nine.
    assert.equal(s.bytesRead, 24 * MiB, 'the sparse file is read where it holds data');
    assert.equal(s.map, d.map, 'the same image map (holes and blobs) either way');
  } finally {
    await repo.close();
  }
});

test('verifying finds a changed byte, a hole that is not zero, and a short target', async () => {
  const dir = await tempDir('cairn-image-');
  const img = path.join(dir, 'disk.img');
  await sparseImage(img, 11);
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  try {
    const src = await openFileSource(img);
    const { id, snapshot } = await backupImage(repo, src, { sourceName: img, plain: true });
    await src.close();
    const out = path.join(dir, 'out.img');
    await restoreImage(repo, snapshot, out, { verify: true }, id);
    await verifyImage(repo, snapshot, out, id);
    const poke = async (offset: number, byte: number) => {
      const fh = await fs.open(out, 'r+');
      await fh.write(Buffer.from([byte]), 0, 1, offset);
      await fh.close();
    };
    await poke(2 * MiB, (await fs.readFile(img)).at(2 * MiB)! ^ 1);
    await assert.rejects(verifyImage(repo, snapshot, out, id), /differs from the snapshot in bytes \[\d+, \d+\)/);
    await restoreImage(repo, snapshot, out, {}, id);
    await poke(10 * MiB, 1);
    await assert.rejects(verifyImage(repo, snapshot, out, id), VerifyError);
    await restoreImage(repo, snapshot, out, {}, id);
    await fs.truncate(out, 70 * MiB);
    await assert.rejects(verifyImage(repo, snapshot, out, id), VerifyError);
  } finally {
    await repo.close();
  }
});

test('a loop device as the source, and as a target: too small is refused, large enough is written and verified', async () => {
  requireRoot('the loop-device test');
  const r = await newRepo();
  const img = path.join(r.dir, 'disk.img');
  await sparseImage(img, 13);
  const src = loopDevice(img);
  try {
    const b = await roundTrip(r, src.dev, path.join(r.dir, 'from-loop.img'));
    assert.equal(b.image_size, 72 * MiB, 'size from the device');
    assert.equal(await sha256File(path.join(r.dir, 'from-loop.img')), await sha256File(img));
  } finally {
    src.detach();
  }
  const snap = summaryOf(await r.json(['backup', '--image', img])).snapshot_id;

  const small = path.join(r.dir, 'small.img');
  await fs.writeFile(small, '');
  await fs.truncate(small, 64 * MiB);
  const smallDev = loopDevice(small);
  try {
    const res = await r.run(['restore', snap, '--image', '--target', smallDev.dev]);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /holds 67108864 bytes, the image needs 75497472/);
  } finally {
    smallDev.detach();
  }
  assert.equal(await allocated(small), 0, 'nothing was written to the small device');

  // A large enough device full of garbage: holes must be written as zeros there.
  const big = path.join(r.dir, 'big.img');
  await fs.writeFile(big, Buffer.alloc(80 * MiB, 0xa5));
  const bigDev = loopDevice(big);
  try {
    await r.ok(['restore', snap, '--image', '--target', bigDev.dev, '--verify']);
  } finally {
    bigDev.detach();
  }
  const head = Buffer.alloc(72 * MiB);
  const fh = await fs.open(big, 'r');
  await fh.read(head, 0, head.length, 0);
  await fh.close();
  const { createHash } = await import('node:crypto');
  assert.equal(createHash('sha256').update(head).digest('hex'), await sha256File(img));
});
