import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, linkSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeNtfs } from '../../disk/ntfs/index.js';
import { parseBootSector } from '../../disk/ntfs/boot.js';
import { randomBytes, requireTool, run } from './helpers.js';
import { makeNtfsImage, withNtfs3g, writeHoleyFile } from './ntfs-image.js';
import { exercise, fuzz, type Region } from './fuzz-driver.js';

async function buildImage(dir: string): Promise<Uint8Array> {
  const img = join(dir, 'img');
  const mnt = join(dir, 'mnt');
  makeNtfsImage(img, 6 * 1024 * 1024);
  await withNtfs3g(img, mnt, () => {
    for (let d = 0; d < 3; d++) {
      mkdirSync(join(mnt, `dir ${d}`, 'sub'), { recursive: true });
      for (let f = 0; f < 40; f++) writeFileSync(join(mnt, `dir ${d}`, `file ${f}`), randomBytes(d * 100 + f, f * f * 5));
      writeFileSync(join(mnt, `dir ${d}`, 'sub', 'bigger.bin'), randomBytes(d, 70_000));
    }
    linkSync(join(mnt, 'dir 0', 'file 39'), join(mnt, 'hard link'));
    symlinkSync('dir 1/file 3', join(mnt, 'symlink'));
    writeHoleyFile(join(mnt, 'holey.bin'), 200);
    mkdirSync(join(mnt, 'compressed'));
    run('setfattr', ['-n', 'system.ntfs_attrib_be', '-v', '0x00000800', join(mnt, 'compressed')]);
    writeFileSync(join(mnt, 'compressed', 'text'), Buffer.from('compressible words '.repeat(10_000)));
  });
  return new Uint8Array(readFileSync(img));
}

/** Metadata areas: the boot sector, the first MFT records, every INDX block, and $Bitmap's neighbourhood. */
function metadataRegions(image: Uint8Array): Region[] {
  const geo = parseBootSector(image);
  const regions: Region[] = [
    { offset: 0, length: 512 },
    { offset: geo.mftOffset, length: 16 * geo.mftRecordSize },
    { offset: geo.mftOffset + 16 * geo.mftRecordSize, length: 240 * geo.mftRecordSize },
    { offset: geo.mftOffset + 16 * geo.mftRecordSize, length: 240 * geo.mftRecordSize },
  ];
  for (let off = 0; off + 4 <= image.length; off += geo.clusterSize) {
    if (Buffer.from(image.subarray(off, off + 4)).toString('latin1') === 'INDX') regions.push({ offset: off, length: geo.indexBlockSize });
  }
  return regions;
}

test('NTFS fuzz: 10000 damaged images end in success, warnings or a clear error', { timeout: 900_000 }, async (t) => {
  requireTool('mkntfs', 'ntfs-3g');
  requireTool('ntfs-3g', 'ntfs-3g');
  requireTool('setfattr', 'attr');
  const dir = mkdtempSync(join(tmpdir(), 'cairn-ntfsfuzz-'));
  try {
    const base = await buildImage(dir);
    assert.equal(await exercise(base, probeNtfs, /^NTFS/), 'ok', 'the undamaged image reads cleanly');
    const regions = metadataRegions(base);
    assert.ok(regions.length > 5, 'index blocks found');
    const started = Date.now();
    const outcomes = await fuzz(base, regions, 10_000, probeNtfs, /^NTFS/);
    t.diagnostic(`fuzzing took ${Date.now() - started} ms`);
    t.diagnostic(JSON.stringify(outcomes));
    assert.ok(outcomes.warnings > 0 && outcomes.rejected > 0, `mutations hit the parsers: ${JSON.stringify(outcomes)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
