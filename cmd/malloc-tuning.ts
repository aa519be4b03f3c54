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

/** Call before starting worker threads. Says whether it applied: not without glibc. */
export function tuneMalloc(): boolean {
  return libcFunction('int mallopt(int param, int value)')?.(M_MMAP_THRESHOLD, THRESHOLD) === 1;
}
