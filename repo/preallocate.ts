/**
 * Allocates a file's blocks for bytes about to be written (fallocate), as restic's
 * restore does. ext4 otherwise delays allocation until writeback, and once the delayed
 * bytes reach half the free space it makes the writer wait for writeback of the whole
 * file system: in the bench's restore, one worker sat 1.2 s in a single write, and the
 * other ran out of ranges behind it. Allocated up front, written bytes are not counted
 * as delayed, and a full disk is reported before the write.
 */
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { libcErrno, libcFunction } from '../crypto/optional-native.js';

/** Set once a file system has declined: the restore's other files are on it too. */
let declined = false;

/**
 * Allocates [offset, offset + length) of `fd`. Throws ENOSPC like a write would; is a
 * no-op where fallocate is missing or the file system does not support it (tmpfs before
 * Linux 3.5, FUSE, NFS v3), since the write that follows allocates anyway.
 */
export function preallocate(fd: number, offset: number, length: number): void {
  const fallocate = declined ? null : libcFunction('int fallocate(int fd, int mode, int64_t offset, int64_t len)');
  if (!fallocate || length <= 0 || fallocate(fd, 0, offset, length) === 0) return;
  const errno = libcErrno();
  if (errno === constants.errno.EOPNOTSUPP || errno === constants.errno.ENOSYS) {
    declined = true;
    return;
  }
  // Shaped like the error fs.writeSync would throw, which callers already handle.
  const [code, text] = getSystemErrorMap().get(-errno) ?? [`errno ${errno}`, 'unknown error'];
  throw Object.assign(new Error(`${code}: ${text}, fallocate`), { errno: -errno, code, syscall: 'fallocate' });
}
