import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Deletes the entries of `dir` among `names` (files or directories) whose writer, the
 * process id that `pattern` captures as its first group, no longer runs: what a process
 * killed between writing and renaming left. Best effort, as the caches it serves are.
 */
export async function removeDeadWritersFiles(dir: string, names: string[], pattern: RegExp): Promise<void> {
  const dead = names.filter((n) => {
    const pid = pattern.exec(n)?.[1];
    return pid !== undefined && !processExists(Number(pid));
  });
  await Promise.all(dead.map((n) => fs.rm(path.join(dir, n), { recursive: true, force: true }).catch(() => {})));
}

/** Whether a process with this id runs on this machine (EPERM: it does, as another user's). */
export function processExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
