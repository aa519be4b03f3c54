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
import { removeDeadWritersFiles, WRITER_PATTERN, writerTag } from './dead-writers.js';

/** A snapshot file's name: the SHA-256 of its bytes. */
const SNAPSHOT_NAME = /^[0-9a-f]{64}$/;
/** A copy being written by put(), with its writer. */
const TEMPORARY_NAME = new RegExp(`^\\.[0-9a-f]{64}\\.${WRITER_PATTERN}\\.tmp$`);

export class SnapshotFileCache {
  constructor(private readonly dir: string) {}

  /**
   * Where the copy of `id` lives; none for anything but a snapshot name. An id can come
   * from the command line (`--parent`), and `../x` must not read or remove a file
   * outside the cache.
   */
  private file(id: string): string | undefined {
    return SNAPSHOT_NAME.test(id) ? path.join(this.dir, id) : undefined;
  }

  async get(id: string): Promise<Uint8Array | undefined> {
    const file = this.file(id);
    if (!file) return undefined;
    try {
      return await fs.readFile(file);
    } catch {
      return undefined;
    }
  }

  async put(id: string, stored: Uint8Array): Promise<void> {
    const file = this.file(id);
    if (!file) return;
    // Renamed into place, so that a reader never sees half a file.
    const tmp = path.join(this.dir, `.${id}.${writerTag()}.tmp`);
    try {
      await fs.mkdir(this.dir, { recursive: true });
      await fs.writeFile(tmp, stored);
      await fs.rename(tmp, file);
    } catch {
      await fs.rm(tmp, { force: true }).catch(() => {});
    }
  }

  async remove(id: string): Promise<void> {
    const file = this.file(id);
    if (file) await fs.rm(file, { force: true }).catch(() => {});
  }

  /**
   * Drops the copies of snapshots the store no longer has (forget, prune, rewrite), and
   * the half-written copies of processes that died before renaming them (kill -9).
   */
  async keepOnly(ids: Iterable<string>): Promise<void> {
    const keep = new Set(ids);
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return;
    }
    await Promise.all([
      ...names.filter((n) => !n.startsWith('.') && !keep.has(n)).map((n) => this.remove(n)),
      removeDeadWritersFiles(this.dir, names, TEMPORARY_NAME),
    ]);
  }
}

