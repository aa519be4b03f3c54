/**
 * Temporary files and directories in a local cache carry their writer: the host and the
 * process id. A process killed between writing and renaming (kill -9) leaves them, and
 * the next process on the same host removes those whose writer no longer runs. A cache
 * directory can be shared between hosts (a home directory on NFS), where a process id
 * says nothing about another host's processes.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** This host in temporary names: host names may hold characters a file name should not. */
const HOST_TAG = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);

/**
 * Another host's leftovers cannot be checked; they go once untouched this long. A private
 * index cache lives as long as its process, and a mount can run for weeks.
 */
const FOREIGN_LEFTOVER_MS = 30 * 24 * 3600 * 1000;

/**
 * A regular expression's source matching a writer tag, as its own group. Names from
 * before the host was added carry only a process id, and count as this host's.
 */
export const WRITER_PATTERN = '((?:[0-9a-f]{8}-)?\\d+)';

/** The writer tag of this process, for a temporary name. */
export function writerTag(): string {
  return `${HOST_TAG}-${process.pid}`;
}

/**
 * Deletes the entries of `dir` among `names` (files or directories) whose writer, the
 * tag that `pattern` captures as its first group, no longer runs: what a process killed
 * between writing and renaming left. Best effort, as the caches it serves are.
 */
export async function removeDeadWritersFiles(dir: string, names: string[], pattern: RegExp): Promise<void> {
  const now = Date.now();
  const dead = await Promise.all(
    names.map(async (n) => {
      const tag = pattern.exec(n)?.[1];
      if (tag === undefined) return false;
      const [host, pid] = tag.includes('-') ? tag.split('-') : [HOST_TAG, tag];
      if (host === HOST_TAG) return !processExists(Number(pid));
      const st = await fs.stat(path.join(dir, n)).catch(() => undefined);
      return st !== undefined && now - st.mtimeMs > FOREIGN_LEFTOVER_MS;
    }),
  );
  await Promise.all(names.filter((_, i) => dead[i]).map((n) => fs.rm(path.join(dir, n), { recursive: true, force: true }).catch(() => {})));
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
