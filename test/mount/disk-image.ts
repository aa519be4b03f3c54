/** A small partitioned disk image: an MBR from sfdisk, random data in and around partition 1, holes elsewhere. */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { pseudoRandom } from '../helpers.js';
import { requireTool } from './long-running.js';

const MiB = 1024 * 1024;
export const PARTITION_1 = { start: 1 * MiB, size: 16 * MiB };

export async function makeDiskImage(file: string): Promise<void> {
  requireTool('sfdisk', 'fdisk');
  const fh = await fs.open(file, 'w');
  await fh.truncate(24 * MiB);
  await fh.close();
  execFileSync('sfdisk', ['-q', file], { input: 'start=2048, size=32768, type=83\n' });
  const w = await fs.open(file, 'r+');
  await w.write(pseudoRandom(3 * MiB, 21), 0, 3 * MiB, 2 * MiB + 123);
  await w.write(pseudoRandom(MiB, 22), 0, MiB, 20 * MiB);
  await w.write(Buffer.from('last bytes'), 0, 10, 24 * MiB - 10);
  await w.close();
}
