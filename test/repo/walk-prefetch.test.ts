import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { WalkPrefetch } from '../../repo/walk-prefetch.js';
import { tempDir } from '../helpers.js';
import { settled } from './hold.js';

const DIRS = 20;
const FILES_PER_DIR = 10;
const LEAD = 15;

it('the look-ahead walk stays its lead ahead of the backup walk, and lists everything as the walk goes on', { timeout: 30_000 }, async () => {
  const src = path.join(await tempDir(), 'src');
  for (let d = 0; d < DIRS; d++) {
    await fs.mkdir(path.join(src, `d${d}`), { recursive: true });
    for (let f = 0; f < FILES_PER_DIR; f++) await fs.writeFile(path.join(src, `d${d}`, `f${f}`), '');
  }
  // Excluded directories are not listed.
  await fs.mkdir(path.join(src, 'skip'));
  await fs.writeFile(path.join(src, 'skip', 'x'), '');
  const prefetch = new WalkPrefetch([src], ['skip'], false, undefined, LEAD);
  try {
    // Nothing read by the backup walk yet: the root, then one directory past the lead.
    const early = await settled(() => prefetch.listed, 200);
    assert.ok(early > 0 && early <= LEAD + FILES_PER_DIR, `listed ${early} entries with a lead of ${LEAD}`);
    prefetch.dirRead(1_000);
    const all = await settled(() => prefetch.listed, 200);
    assert.equal(all, DIRS + 1 + DIRS * FILES_PER_DIR);
  } finally {
    await prefetch.stop();
  }
});
