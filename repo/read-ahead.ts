/**
 * Tells the kernel that a file's whole content will be read soon, so that it starts
 * reading it from disk now (posix_fadvise WILLNEED). Without it a thread that reads small
 * files one by one keeps one request in flight; reading the bench's 62k cold files went
 * from 5.7 s to 2.7 s with the next 8 files advised ahead.
 */
import { libcFunction } from '../crypto/optional-native.js';

const POSIX_FADV_WILLNEED = 3;

/** Best effort: a no-op without glibc and koffi, or where the kernel declines. */
export function adviseWillNeed(fd: number): void {
  libcFunction('int posix_fadvise(int fd, int64_t offset, int64_t len, int advice)')?.(fd, 0, 0, POSIX_FADV_WILLNEED);
}
