/**
 * Snapshot files as the store holds them (encrypted), kept in the local cache: every
 * backup (to find its parent), `restore latest` and `snapshots` reads all of them, and
 * from S3 that was one GET per snapshot in the repository on every run. A snapshot file
 * never changes under its name, so a cached copy stays good; one that no longer decrypts
 * is read from the store again. The cache is best effort: when it cannot be read or
 * written, the store is used.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

export class SnapshotFileCache {
  constructor(private readonly dir: string) {}

  async get(id: string): Promise<Uint8Array | undefined> {
    try {
      return await fs.readFile(path.join(this.dir, id));
    } catch {
      return undefined;
    }
  }

  async put(id: string, stored: Uint8Array): Promise<void> {
    // Renamed into place, so that a reader never sees half a file.
    const tmp = path.join(this.dir, `.${id}.${process.pid}.tmp`);
    try {
      await fs.mkdir(this.dir, { recursive: true });
      await fs.writeFile(tmp, stored);
      await fs.rename(tmp, path.join(this.dir, id));
    } catch {
      await fs.rm(tmp, { force: true }).catch(() => {});
    }
  }

  async remove(id: string): Promise<void> {
    await fs.rm(path.join(this.dir, id), { force: true }).catch(() => {});
  }

  /** Drops the copies of snapshots the store no longer has (forget, prune, rewrite). */
  async keepOnly(ids: Iterable<string>): Promise<void> {
    const keep = new Set(ids);
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return;
    }
    await Promise.all(names.filter((n) => !n.startsWith('.') && !keep.has(n)).map((n) => this.remove(n)));
  }
}
