/**
 * Where a sparse file holds data, from lseek(SEEK_DATA/SEEK_HOLE). An image made with
 * `truncate` and mkfs, or a VM disk, is mostly holes; reading a hole still costs the
 * kernel a zeroed page per 4 KiB (a 4 GiB image with 1.5 GiB of data: 8.9 s to read
 * whole, 1.4 s to read its data only). Node has no lseek, so it is called through koffi,
 * a prebuilt FFI; without it every byte is treated as data and read.
 */
import { libcErrno, libcFunction } from '../crypto/optional-native.js';
import type { ByteRange } from './types.js';

// Linux's values; other systems number them differently (macOS swaps them).
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const ENXIO = 6;


type Lseek = (fd: number, offset: number, whence: number) => number;

/** Without koffi or glibc (musl, for one), null: every byte is read. */
function loadLseek(): Lseek | null {
  const f = libcFunction('int64_t lseek(int fd, int64_t offset, int whence)');
  return f && ((fd, offset, whence) => Number(f(fd, offset, whence)));
}


/**
 * The parts of [offset, offset + length) of the open file `fd` that may hold data, in
 * order; everything else is a hole and reads as zeros. null when this cannot be told
 * (no lseek, a file system without SEEK_DATA, a block device): then all of it may.
 */
export function dataRanges(fd: number, offset: number, length: number): ByteRange[] | null {
  const seek = loadLseek();
  if (!seek || length <= 0) return null;
  const end = offset + length;
  const out: ByteRange[] = [];
  for (let at = offset; at < end; ) {
    const data = seek(fd, at, SEEK_DATA);
    if (data < 0) {
      // ENXIO: no data from here to the end of the file.
      if (libcErrno() === ENXIO) break;
      return null;
    }
    if (data >= end) break;
    const hole = seek(fd, data, SEEK_HOLE);
    if (hole < 0) return null;
    const stop = Math.min(end, hole);
    out.push({ offset: data, length: stop - data });
    at = stop;
  }
  return out;
}
