/**
 * glibc's malloc raises its mmap threshold to the size of each large block freed, up to
 * 32 MiB. After the first chunking windows (10 MiB), packs (16 MiB) and read buffers were
 * freed, later ones came from the per-thread arenas, which then kept the memory. Fixing
 * the threshold at 4 MiB gives those blocks back when they are freed: a first backup of
 * the bench tree peaked at 468-511 MiB instead of 656-665 MiB, for about 0.7 s more
 * system time (page faults). At 128 KiB it saved no more and cost twice the system time.
 */
import { libcFunction } from '../crypto/optional-native.js';

const M_MMAP_THRESHOLD = -3;
const THRESHOLD = 4 * 1024 * 1024;
const TRIM_EVERY_MS = 250;

/**
 * Call before the work that allocates large blocks: commands call it while the key is
 * derived, when a backup's walk threads may run, but they allocate no large blocks. Says
 * whether it applied: not without glibc.
 */
export function tuneMalloc(): boolean {
  return libcFunction('int mallopt(int param, int value)')?.(M_MMAP_THRESHOLD, THRESHOLD) === 1;
}

/**
 * Smaller blocks (sealed blobs, small files, cipher output) still pile up in the arenas:
 * a block freed by the main thread's GC goes back to the arena of the worker that made
 * it, where glibc keeps the pages. Trimming every arena a few times a second returns
 * them, as jemalloc's decay would. In the bench's first backup that lowered the peak by
 * 40-100 MiB for no CPU beyond the noise (three times the minor page faults). A restore
 * paid 1-2 s of system time for 20-40 MiB, and an image backup 25-50 MiB lower took
 * 6 s longer in one of two pairs, so only file backups trim.
 * Returns the function that stops it; the timer does not keep the process alive.
 */
export function trimMallocPeriodically(): () => void {
  const trim = libcFunction('int malloc_trim(size_t pad)');
  if (!trim) return () => {};
  const timer = setInterval(() => trim(0), TRIM_EVERY_MS).unref();
  return () => clearInterval(timer);
}
