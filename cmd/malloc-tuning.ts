/**
 * glibc's malloc hands freed memory back to the system early: blocks from 128 KiB up get
 * their own mappings until its dynamic threshold has grown, and an arena's free top goes
 * back once it passes 128 KiB. Every page handed back is faulted in again when the next
 * pack, window or range needs it. On a virtual machine that reports free pages to its
 * host (free page reporting, as on the machines cairn is benched on) such a fault costs
 * about 16 µs: fresh memory is touched at 256 MiB/s, reused memory at 13 GiB/s.
 *
 * So blocks up to 32 MiB (glibc's largest setting) come from the arenas, and an arena
 * keeps up to 128 MiB free at its top. Measured on the bench tree against the earlier
 * tuning (4 MiB mmap threshold and malloc_trim every 250 ms): a cold first backup took
 * 13-15 s instead of 18-22 s (minor faults 140k instead of 530-580k; peak RSS 560-610
 * MiB instead of 425-447). S3 restores faulted in 86-95k pages instead of 130-150k, in
 * times within the noise. Trimming every 1-2 s still cost 1.5-2 s for 50-90 MiB less.
 * A long-running `mount` keeps what it freed, up to that 128 MiB per arena.
 */
import { libcFunction } from '../crypto/optional-native.js';

const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
const MMAP_THRESHOLD = 32 * 1024 * 1024;
const TRIM_THRESHOLD = 128 * 1024 * 1024;

/**
 * Call before the work that allocates large blocks: commands call it while the key is
 * derived. Says whether it applied: not without glibc.
 */
export function tuneMalloc(): boolean {
  const mallopt = libcFunction('int mallopt(int param, int value)');
  if (!mallopt) return false;
  return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) === 1 && mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) === 1;
}
