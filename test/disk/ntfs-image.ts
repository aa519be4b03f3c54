import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, openSync, writeSync, closeSync, linkSync, symlinkSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from './helpers.js';

/** Mounts an NTFS image with ntfs-3g (FUSE) in the foreground, runs `fill`, unmounts, and waits for ntfs-3g to exit. */
export async function withNtfs3g(img: string, mnt: string, fill: () => void): Promise<void> {
  mkdirSync(mnt, { recursive: true });
  const child = spawn('ntfs-3g', ['-o', 'no_detach', img, mnt], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let mounted = false;
  for (let i = 0; i < 100 && !mounted; i++) {
    await sleep(50);
    mounted = readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === mnt);
    if (child.exitCode !== null) break;
  }
  if (!mounted) {
    child.kill();
    throw new Error(`ntfs-3g could not mount the image (FUSE needed: /dev/fuse, root): ${stderr}`);
  }
  try {
    fill();
  } finally {
    run('umount', [mnt]);
    await exited;
  }
}

export function makeNtfsImage(img: string, sizeBytes: number): void {
  writeFileSync(img, '');
  truncateSync(img, sizeBytes);
  run('mkntfs', ['-F', '-Q', '-s', '512', '-c', '4096', img]);
}

/** Writes one 4 KiB block every 8 KiB: hundreds of runs, so $DATA spills into an attribute list. */
export function writeHoleyFile(path: string, blocks: number): Uint8Array {
  const expected = new Uint8Array((blocks - 1) * 8192 + 4096);
  const fd = openSync(path, 'w');
  for (let i = 0; i < blocks; i++) {
    const block = new Uint8Array(4096).fill((i % 251) + 1);
    writeSync(fd, block, 0, 4096, i * 8192);
    expected.set(block, i * 8192);
  }
  closeSync(fd);
  return expected;
}

export { linkSync, symlinkSync };
