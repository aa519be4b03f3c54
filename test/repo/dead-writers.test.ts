import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { removeDeadWritersFiles, WRITER_PATTERN, writerTag } from '../../repo/dead-writers.js';
import { tempDir } from '../helpers.js';

const PATTERN = new RegExp(`^x\\.${WRITER_PATTERN}\\.tmp$`);

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  return new Promise<number>((resolve) => child.once('exit', () => resolve(child.pid!)));
}

it('leftovers of this host\'s dead writers go; live writers\' and another host\'s recent ones stay', async () => {
  const dir = await tempDir();
  try {
    const dead = await deadPid();
    const host = writerTag().split('-')[0];
    const otherHost = host === '00000000' ? '11111111' : '00000000';
    const names = {
      deadHere: `x.${host}-${dead}.tmp`,
      liveHere: `x.${writerTag()}.tmp`,
      // Written before the host was part of the name: taken as this host's.
      deadLegacy: `x.${dead}.tmp`,
      // Its pid may well not run here; that says nothing about the other host.
      otherRecent: `x.${otherHost}-${dead}.tmp`,
      otherOld: `x.${otherHost}-${process.pid}.tmp`,
      notTemporary: 'x.tmp',
    };
    for (const n of Object.values(names)) await fs.writeFile(path.join(dir, n), 'half');
    const longAgo = new Date(Date.now() - 31 * 24 * 3600 * 1000);
    await fs.utimes(path.join(dir, names.otherOld), longAgo, longAgo);

    await removeDeadWritersFiles(dir, await fs.readdir(dir), PATTERN);

    assert.deepEqual((await fs.readdir(dir)).sort(), [names.liveHere, names.notTemporary, names.otherRecent].sort());
  } finally {
    await fs.rm(dir, { recursive: true });
  }
});
