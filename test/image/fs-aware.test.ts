import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ext4Image, fatImage, fileHashes, makeSourceTree, ntfsImage, partitionedImage, systemEntry } from './fs-images.js';
import { cairnToFile, newRepo, sha256File, summaryOf, TestRepo } from './tools.js';

const MiB = 1024 * 1024;

async function setup() {
  const r = await newRepo();
  const src = path.join(r.dir, 'src');
  await fs.mkdir(src);
  await makeSourceTree(src);
  return { r, src, want: await fileHashes(src) };
}

/** Backs the image up, restores it whole (--verify) and each file system's files, and compares. */
async function checkImage(r: TestRepo, img: string, want: Map<string, string>, expect: Record<string, string>) {
  const b = summaryOf(await r.json(['backup', '--image', img]));
  assert.equal(b.mode, 'fs');
  assert.deepEqual(Object.fromEntries(b.file_systems.map((f: { dir: string; type: string }) => [f.dir, f.type])), expect);
  assert.equal(b.warnings, 0);

  const out = path.join(r.dir, `${path.basename(img)}.out`);
  await r.ok(['restore', b.snapshot_id, '--image', '--target', out, '--verify']);
  assert.equal(await sha256File(out), await sha256File(img), 'the restored image is byte for byte the source');

  const listed = (await r.ok(['ls', b.snapshot_id, '/'])).trim().split('\n');
  for (const dir of Object.keys(expect)) {
    assert.ok(listed.includes(`/${dir}/docs/deep/nested/small.dat`), `ls shows /${dir}/docs/deep/nested/small.dat`);
    const target = path.join(r.dir, `files-${path.basename(img)}-${dir}`);
    await r.ok(['restore', `${b.snapshot_id}:/${dir}`, '--target', target]);
    assert.deepEqual(await fileHashes(target, systemEntry), want, `files of /${dir}`);
  }
  const first = Object.keys(expect)[0];
  const dumpFile = path.join(r.dir, 'dumped');
  const dumped = await cairnToFile(r, ['dump', b.snapshot_id, `/${first}/Users/ann/photo.raw`], dumpFile);
  assert.equal(dumped.code, 0, dumped.stderr);
  assert.equal(await sha256File(dumpFile), want.get('/Users/ann/photo.raw'));
  return b;
}

test('ext4 on the whole disk (no partition table) appears as /fs', async () => {
  const { r, src, want } = await setup();
  const img = path.join(r.dir, 'ext4.img');
  await ext4Image(img, src, 48 * MiB);
  await checkImage(r, img, want, { fs: 'ext' });
});

test('MBR disk with ext4 in p1 and FAT16 in p2', async () => {
  const { r, src, want } = await setup();
  const img = path.join(r.dir, 'mbr.img');
  await partitionedImage(img, 'dos', [
    { sizeMiB: 24, build: (f) => ext4Image(f, src, 24 * MiB) },
    { sizeMiB: 24, build: (f) => fatImage(f, src, 24 * MiB, 16) },
  ]);
  await checkImage(r, img, want, { p1: 'ext', p2: 'fat' });
});

test('GPT disk with NTFS in p1 and FAT32 in p2', async () => {
  const { r, src, want } = await setup();
  const img = path.join(r.dir, 'gpt.img');
  await partitionedImage(img, 'gpt', [
    { sizeMiB: 24, build: (f) => ntfsImage(f, src, 24 * MiB) },
    { sizeMiB: 40, build: (f) => fatImage(f, src, 40 * MiB, 32) },
  ]);
  await checkImage(r, img, want, { p1: 'ntfs', p2: 'fat' });
});
