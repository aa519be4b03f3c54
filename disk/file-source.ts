import { open, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dataRanges } from './data-ranges.js';
import type { ReadAt } from './source.js';

export type FileSource = ReadAt & { close(): Promise<void> };

/**
 * A ReadAt over an image file or a block device. Node reports size 0 for block devices,
 * so their size comes from sysfs, or failing that from probing reads.
 */
export async function openFileSource(path: string): Promise<FileSource> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    let size: number;
    if (st.isBlockDevice()) size = await blockDeviceSize(fh, st.rdev);
    else if (st.isFile()) size = st.size;
    else throw new Error(`${path} is neither a regular file nor a block device`);
    return fileSource(fh, size);
  } catch (e) {
    await fh.close();
    throw e;
  }
}

function fileSource(fh: FileHandle, size: number): FileSource {
  return {
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
        throw new Error(`invalid read: offset ${offset}, length ${length}`);
      }
      const n = Math.max(0, Math.min(length, size - offset));
      const buf = Buffer.alloc(n);
      let done = 0;
      // Each pass either makes progress or stops: a 0-byte read ends the loop (short read).
      while (done < n) {
        const { bytesRead } = await fh.read(buf, done, n - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === n ? buf : buf.subarray(0, done);
    },
    dataIn: (offset, length) => dataRanges(fh.fd, offset, Math.max(0, Math.min(length, size - offset))),
    close: () => fh.close(),
  };
}

/** Linux dev_t layout (glibc's gnu_dev_major/minor). */
function devNumbers(rdev: number): { major: number; minor: number } {
  const big = BigInt(rdev);
  const major = Number(((big >> 8n) & 0xfffn) | ((big >> 32n) & ~0xfffn));
  const minor = Number((big & 0xffn) | ((big >> 12n) & ~0xffn));
  return { major, minor };
}

async function blockDeviceSize(fh: FileHandle, rdev: number): Promise<number> {
  const { major, minor } = devNumbers(rdev);
  try {
    const sectors = Number((await readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8')).trim());
    // sysfs counts 512-byte sectors whatever the device's logical block size.
    if (Number.isSafeInteger(sectors) && sectors >= 0) return sectors * 512;
  } catch {
    // No sysfs (container, other OS): fall back to probing.
  }
  return probeSizeByReading(fh);
}

/** Binary search for the first offset that reads 0 bytes; device sizes are sector multiples. */
export async function probeSizeByReading(fh: FileHandle): Promise<number> {
  const one = Buffer.alloc(1);
  const readable = async (sector: number) => (await fh.read(one, 0, 1, sector * 512)).bytesRead === 1;
  let lo = 0; // sectors known to exist
  let hi = 1;
  while (hi < 2 ** 43 && (await readable(hi - 1))) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await readable(mid - 1)) lo = mid;
    else hi = mid;
  }
  return lo * 512;
}
