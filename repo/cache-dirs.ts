/**
 * The local caches of every repository this user has opened: one directory per repository
 * id under the cache root (`--cache-dir`). A cache is only a copy of the repository's
 * index, rebuilt on the next open, so removing one loses nothing.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface CacheDir {
  /** The repository id it belongs to. */
  id: string;
  path: string;
  /** The newest time anything in it was written: the index cache is written on every open. */
  lastUsed: Date;
  bytes: number;
}

const REPOSITORY_ID = /^[0-9a-f]{64}$/;

/** The caches under `root`, least recently used first; none when `root` does not exist. */
export async function listCacheDirs(root: string): Promise<CacheDir[]> {
  let names: string[];
  try {
    names = await fs.readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: CacheDir[] = [];
  for (const id of names.filter((n) => REPOSITORY_ID.test(n))) {
    const dir = path.join(root, id);
    const st = await fs.lstat(dir);
    if (!st.isDirectory()) continue;
    const usage = { newest: st.mtimeMs, bytes: 0 };
    await measure(dir, usage);
    out.push({ id, path: dir, lastUsed: new Date(usage.newest), bytes: usage.bytes });
  }
  return out.sort((a, b) => a.lastUsed.getTime() - b.lastUsed.getTime());
}

async function measure(dir: string, usage: { newest: number; bytes: number }): Promise<void> {
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    const st = await fs.lstat(p);
    usage.newest = Math.max(usage.newest, st.mtimeMs);
    if (e.isDirectory()) await measure(p, usage);
    else usage.bytes += st.size;
  }
}
