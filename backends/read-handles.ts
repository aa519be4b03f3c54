/**
 * Descriptors of pack files kept open between loads. A pack never changes under its name,
 * and a mount loads a blob or two for every file it serves: an open and a close per load
 * were two thread-pool round trips on top of the read. A descriptor kept open also keeps
 * a pack that another process deletes readable, with the same bytes, and its disk space
 * in use until the descriptor is closed (at most `max` of them).
 */
import fs from 'node:fs';
import { promisify } from 'node:util';

const openFile = promisify(fs.open);
const closeFile = promisify(fs.close);

interface Entry {
  fd: Promise<number>;
  /** Loads using the descriptor now: it is closed only once none are. */
  users: number;
  retired: boolean;
}

export class ReadHandles {
  /** Least recently used first. */
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly max: number) {}

  /** Runs `read` with a read-only descriptor of `file`, kept from an earlier load or opened now. */
  async use<T>(file: string, read: (fd: number) => Promise<T>): Promise<T> {
    let e = this.entries.get(file);
    if (e) this.entries.delete(file);
    else e = { fd: openFile(file, 'r'), users: 0, retired: false };
    this.entries.set(file, e);
    e.users++;
    this.trim();
    let fd: number;
    try {
      fd = await e.fd;
    } catch (err) {
      // Not kept: the next load opens again (the file may appear, or the error pass).
      e.users--;
      if (this.entries.get(file) === e) this.entries.delete(file);
      throw err;
    }
    try {
      return await read(fd);
    } finally {
      e.users--;
      if (e.retired) void this.closeIfUnused(e);
    }
  }

  /** Forgets `file`'s descriptor: for a file removed here. */
  drop(file: string): void {
    const e = this.entries.get(file);
    if (!e) return;
    this.entries.delete(file);
    void this.retire(e);
  }

  /** Closes every descriptor; one in use closes when its load ends. */
  async closeAll(): Promise<void> {
    const closing = [...this.entries.values()].map((e) => this.retire(e));
    this.entries.clear();
    await Promise.all(closing);
  }

  /** Retires the least recently used idle descriptors beyond `max`; busy ones stay. */
  private trim(): void {
    for (const [file, e] of this.entries) {
      if (this.entries.size <= this.max) return;
      if (e.users > 0) continue;
      this.entries.delete(file);
      void this.retire(e);
    }
  }

  private retire(e: Entry): Promise<void> {
    e.retired = true;
    return this.closeIfUnused(e);
  }

  private async closeIfUnused(e: Entry): Promise<void> {
    if (e.users === 0) await e.fd.then(closeFile).catch(() => {});
  }
}
