import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeFat } from '../../disk/fat/index.js';
import { looksLikeFat, parseBpb } from '../../disk/fat/bpb.js';
import { randomBytes, requireTool, run } from './helpers.js';
import { exercise, fuzz } from './fuzz-driver.js';

const MT = { MTOOLS_SKIP_CHECK: '1' };

function buildImage(dir: string, kind: 12 | 16, sizeKb: number): Uint8Array {
  const src = join(dir, `src${kind}`);
  for (let d = 0; d < 4; d++) {
    mkdirSync(join(src, `directory ${d}`, 'sub dir'), { recursive: true });
    for (let f = 0; f < 12; f++) writeFileSync(join(src, `directory ${d}`, `Long File Name ${f}.bin`), randomBytes(d * 100 + f, f * 700));
    writeFileSync(join(src, `directory ${d}`, 'sub dir', 'x.txt'), randomBytes(d, 5000));
  }
  const img = join(dir, `img${kind}`);
  run('mkfs.fat', ['-F', String(kind), '-s', '1', '-C', img, String(sizeKb)]);
  run('mcopy', ['-s', '-i', img, ...[0, 1, 2, 3].map((d) => join(src, `directory ${d}`)), '::/'], MT);
  return new Uint8Array(readFileSync(img));
}

for (const [kind, sizeKb] of [[12, 1440], [16, 3000]] as const) {
  test(`FAT${kind} fuzz: 5000 damaged images end in success, warnings or a clear error`, { timeout: 900_000 }, async (t) => {
    requireTool('mkfs.fat', 'dosfstools');
    requireTool('mcopy', 'mtools');
    const dir = mkdtempSync(join(tmpdir(), 'cairn-fatfuzz-'));
    try {
      const base = buildImage(dir, kind, sizeKb);
      assert.ok(looksLikeFat(base));
      const geo = parseBpb(base);
      assert.equal(geo.kind, kind);
      assert.equal(await exercise(base, probeFat, /^FAT/), 'ok', 'the undamaged image reads cleanly');
      // Mostly metadata: boot sector, FAT, root directory, and the first data clusters (subdirectories).
      const regions = [
        { offset: 0, length: 512 },
        { offset: geo.fatOffset, length: geo.fatBytes },
        { offset: geo.rootDirOffset, length: geo.rootDirBytes },
        { offset: geo.dataOffset, length: 64 * 1024 },
        { offset: geo.dataOffset, length: 64 * 1024 },
      ];
      // 5,000 each for FAT12 and FAT16: 10,000 inputs for the FAT reader in CI.
      const outcomes = await fuzz(base, regions, 5000, probeFat, /^FAT/);
      t.diagnostic(JSON.stringify(outcomes));
      assert.ok(outcomes.warnings > 0 && outcomes.rejected > 0, `mutations hit the parsers: ${JSON.stringify(outcomes)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
