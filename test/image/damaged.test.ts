import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempDir, pseudoRandom } from '../helpers.js';
import { prng } from '../disk/tools.js';
import { openImageSnapshot } from '../../repo/image-reader.js';
import { imageInfo } from '../../repo/image-snapshot.js';
import { Repository } from '../../repo/repository.js';
import { ext4Image, fatImage, makeSourceTree, ntfsImage } from './fs-images.js';
import { backupImageFile, memoryRepo } from './library.js';

const MiB = 1024 * 1024;
const MUTATIONS = 12;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms (a hang?)`)), ms)))]).finally(() => clearTimeout(timer));
}

/**
 * Whatever the readers make of a damaged image, the backup either finishes (maybe with
 * warnings) or stops with a clear error, and a finished one restores the exact bytes.
 */
async function backupSurvives(repo: Repository, file: string, label: string): Promise<{ warnings: number; mode: string } | Error> {
  {
    const warnings: string[] = [];
    let r;
    try {
      r = await withTimeout(backupImageFile(repo, file, { onWarning: (m) => warnings.push(m) }), 60_000, label);
    } catch (err) {
      assert.ok(err instanceof Error && err.message.length > 10 && !/hang/.test(err.message), `${label}: ${err}`);
      assert.ok(!(err instanceof TypeError || err instanceof RangeError), `${label}: a crash, not a clear error: ${err.stack}`);
      return err;
    }
    const image = await openImageSnapshot(repo, r.snapshot, r.id);
    const want = await fs.readFile(file);
    const got = await image.read(0, image.size);
    assert.equal(image.size, want.length, label);
    assert.ok(Buffer.from(got).equals(want), `${label}: the image snapshot holds other bytes than the source`);
    return { warnings: warnings.length, mode: imageInfo(r.snapshot).mode };
  }
}

async function mutateAndCheck(repo: Repository, dir: string, pristine: string, seed: number, region: number) {
  const rand = prng(seed);
  const bytes = await fs.readFile(pristine);
  const file = path.join(dir, 'mutated.img');
  const outcomes = { clean: 0, warned: 0, errors: 0, plain: 0 };
  for (let i = 0; i < MUTATIONS; i++) {
    const b = Buffer.from(bytes);
    const flips = 1 + Math.floor(rand() * 16);
    for (let k = 0; k < flips; k++) {
      // Mostly metadata near the start; sometimes anywhere.
      const at = Math.floor(rand() * (rand() < 0.8 ? Math.min(region, b.length) : b.length));
      b[at] = Math.floor(rand() * 256);
    }
    await fs.writeFile(file, b);
    const r = await backupSurvives(repo, file, `mutation ${i} (seed ${seed})`);
    if (r instanceof Error) outcomes.errors++;
    else if (r.mode === 'plain') outcomes.plain++;
    else if (r.warnings) outcomes.warned++;
    else outcomes.clean++;
  }
  return outcomes;
}

async function images(dir: string) {
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await makeSourceTree(src, 0.25);
  const ext = path.join(dir, 'ext4.img');
  const fat = path.join(dir, 'fat.img');
  const ntfs = path.join(dir, 'ntfs.img');
  await ext4Image(ext, src, 8 * MiB);
  await fatImage(fat, src, 8 * MiB, 12);
  await ntfsImage(ntfs, src, 8 * MiB);
  return { ext, fat, ntfs };
}

test('a truncated image, a destroyed superblock, and garbage instead of a file system back up without a crash', async (t) => {
  const dir = await tempDir('cairn-damaged-');
  const { ext, fat } = await images(dir);
  const { repo } = await memoryRepo(dir);
  t.after(() => repo.close());
  const cut = path.join(dir, 'cut.img');
  await fs.writeFile(cut, (await fs.readFile(ext)).subarray(0, 3 * MiB + 512));
  const truncated = await backupSurvives(repo, cut, 'truncated ext4');
  assert.ok(!(truncated instanceof Error) && truncated.warnings > 0, 'a truncated ext4 image backs up with warnings');

  const noSuper = path.join(dir, 'nosuper.img');
  const b = await fs.readFile(ext);
  b.fill(0xff, 1024, 2048);
  await fs.writeFile(noSuper, b);
  const r = await backupSurvives(repo, noSuper, 'ext4 without superblock');
  assert.ok(!(r instanceof Error) && r.mode === 'plain', 'an unrecognizable file system falls back to plain mode');

  const badFat = path.join(dir, 'badfat.img');
  const f = await fs.readFile(fat);
  f.writeUInt16LE(0, 11); // bytes per sector = 0
  await fs.writeFile(badFat, f);
  assert.ok(!((await backupSurvives(repo, badFat, 'FAT with 0 bytes per sector')) instanceof Error));

  const noise = path.join(dir, 'noise.img');
  await fs.writeFile(noise, pseudoRandom(2 * MiB, 3));
  const n = await backupSurvives(repo, noise, 'random bytes');
  assert.ok(!(n instanceof Error) && n.mode === 'plain');
});

test(`random mutations of ext4, FAT and NTFS images (${MUTATIONS} each): never a hang or crash, always the exact bytes`, async (t) => {
  const dir = await tempDir('cairn-damaged-');
  const { ext, fat, ntfs } = await images(dir);
  const { repo } = await memoryRepo(dir);
  t.after(() => repo.close());
  for (const [name, file, region, seed] of [['ext4', ext, 256 * 1024, 1], ['fat', fat, 64 * 1024, 2], ['ntfs', ntfs, 8 * MiB, 3]] as const) {
    const o = await mutateAndCheck(repo, dir, file, seed, region);
    t.diagnostic(`${name}: ${JSON.stringify(o)}`);
    assert.ok(o.clean + o.warned + o.plain + o.errors === MUTATIONS);
  }
});
