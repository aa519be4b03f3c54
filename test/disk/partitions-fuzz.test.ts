/** Mutates MBR (with an EBR chain) and GPT header areas and reads each table back. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { exercisePartitions } from './fuzz-exercise.js';
import { runFuzz, type Region } from './fuzz-tools.js';
import type { FuzzTarget } from './fuzz-worker.js';
import { fileBytes, run, tempDir } from './tools.js';

/** 10,000 for each of the two tables (MBR with EBRs, GPT): issue 7 asks that many per parser in CI. */
const MUTATIONS = 20_000;
const PER_INPUT_MS = 2000;
const SECTOR = 512;

const tmp = tempDir('cairn-partfuzz-');
after(() => tmp.cleanup());

const SCRIPTS: Record<string, string> = {
  'mbr with logical partitions': `label: dos
unit: sectors

start=64, size=512, type=83
start=600, size=3000, type=5
start=640, size=400, type=83
start=1100, size=400, type=83
start=1600, size=400, type=7
`,
  'gpt': `label: gpt
first-lba: 34

start=40, size=500, name="a"
start=600, size=500, name="b"
start=1200, size=100, name="c"
`,
};

function target(name: string, script: string, index: number): FuzzTarget {
  const img = join(tmp.path, `${index}.img`);
  run('truncate', ['-s', '2M', img], 'coreutils');
  run('sfdisk', ['-q', img], 'fdisk', script);
  const image = fileBytes(img);
  const regions: Region[] = [
    { name: 'MBR', offset: 0, length: SECTOR },
    { name: 'partition entries', offset: 446, length: 64 },
  ];
  if (name.startsWith('gpt')) {
    regions.push({ name: 'GPT header', offset: SECTOR, length: 92 });
    regions.push({ name: 'GPT entries', offset: 2 * SECTOR, length: 3 * 128 });
    regions.push({ name: 'backup GPT header', offset: image.length - SECTOR, length: 92 });
    regions.push({ name: 'backup GPT entries', offset: image.length - 33 * SECTOR, length: 3 * 128 });
  } else {
    // The EBRs: sectors after the MBR that carry the 0x55AA signature.
    for (let s = 1; s < image.length / SECTOR; s++) {
      if (image[s * SECTOR + 510] === 0x55 && image[s * SECTOR + 511] === 0xaa) regions.push({ name: `EBR@${s}`, offset: s * SECTOR + 446, length: 32 });
    }
    assert.ok(regions.length >= 5, 'the image should have three EBRs');
  }
  return { name, image, regions };
}

describe('partition table reader under random damage', () => {
  const targets = Object.entries(SCRIPTS).map(([name, script], i) => target(name, script, i));

  it('reads the undamaged tables without warnings', async () => {
    for (const t of targets) assert.deepEqual(await exercisePartitions(t.image, t.name), { warnings: 0, errors: 0 });
  });

  it(`survives ${MUTATIONS} mutated tables`, async () => {
    const r = await runFuzz({ kind: 'partitions', targets, seed: 77, count: MUTATIONS }, PER_INPUT_MS);
    assert.ok(r.withWarnings > MUTATIONS / 10, `only ${r.withWarnings} inputs produced warnings`);
  });
});
