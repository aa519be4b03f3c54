/**
 * The names of temporary files whose writer, the process id that `pattern` captures as
 * its first group, no longer runs: a process killed between writing and renaming.
 */
export function deadWritersFiles(names: string[], pattern: RegExp): string[] {
  return names.filter((n) => {
    const pid = pattern.exec(n)?.[1];
    return pid !== undefined && !processExists(Number(pid));
  });
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
