/**
 * A small run of bench/fault-matrix: a few trials of each fault. Each trial must leave a
 * repository that passes `check --read-data`, restores every complete snapshot
 * byte-identical, and takes the next backup. Needs root (tmpfs, FUSE), mkfs.ext4, fuse3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { CaseName, CASES, runCase } from '../../bench/faults/cases.js';
import { tempDir } from '../helpers.js';

const TRIALS: Record<CaseName, number> = { backup: 2, 'backup-image': 2, prune: 2, 'key-passwd': 2, 'full-disk': 2, 'read-error': 2 };

for (const name of CASES) {
  test(`fault matrix: ${name}, ${TRIALS[name]} trials`, async (t) => {
    const dir = await tempDir('cairn-faults-');
    const r = await runCase(name, path.join(dir, name), TRIALS[name]);
    t.diagnostic(`${name}: ${r.succeeded}/${r.trials}, landed ${JSON.stringify(r.landed)}`);
    assert.deepEqual(r.failures, []);
    assert.equal(r.succeeded, r.trials);
    if (name === 'full-disk') assert.ok(!('fit' in r.landed) || r.landed.fit < r.trials, 'the disk was full in some trials');
  });
}
