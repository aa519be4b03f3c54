import fsCallbacks, { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { AlreadyExistsError, Backend, FILE_TYPES, FileType, Handle, Leftovers, NotFoundError, ObjectInfo, ObjectWriter, PermanentError } from './backend.js';
import { LocalObjectWriter } from './local-object-writer.js';
import { ReadHandles } from './read-handles.js';

/** Ends the name a save writes before the object is linked into place. */
const TEMPORARY_SUFFIX = '.tmp';
/** Pack descriptors kept open between loads (see ReadHandles). */
const OPEN_PACKS = 32;

const read = promisify(fsCallbacks.read);
const fstat = promisify(fsCallbacks.fstat);

/**
 * A repository in a local directory. Writes go to a temporary name, are fsynced, then
 * linked into place, so a crash never leaves a half-written object under a real name
 * and an existing object is never replaced.
 */
export class LocalBackend implements Backend {
  private readonly packs = new ReadHandles(OPEN_PACKS);

  constructor(private readonly root: string) {}

  location(): string {
    return this.root;
  }

  async create(): Promise<void> {
    for (const t of FILE_TYPES) {
      if (t !== 'config') await fs.mkdir(path.join(this.root, t), { recursive: true });
    }
    for (let i = 0; i < 256; i++) {
      await fs.mkdir(path.join(this.root, 'data', i.toString(16).padStart(2, '0')), { recursive: true });
    }
  }

  async isRepository(): Promise<boolean> {
    try {
      await fs.access(path.join(this.root, 'config'));
      return true;
    } catch {
      return false;
    }
  }

  private file(h: Handle): string {
    if (h.type === 'config') return path.join(this.root, 'config');
    if (h.type === 'data') return path.join(this.root, 'data', h.name.slice(0, 2), h.name);
    return path.join(this.root, h.type, h.name);
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    const target = this.file(h);
    const tmp = `${target}.${randomBytes(6).toString('hex')}${TEMPORARY_SUFFIX}`;
    try {
      const fh = await fs.open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.place(tmp, h);
    } catch (err) {
      await fs.unlink(tmp).catch(() => {});
      throw this.translate(err, h);
    }
  }

  /** The temporary file lies in the type's folder (for packs, `data/` itself) until commit links it into place. */
  openWriter(type: FileType): ObjectWriter {
    const tmp = path.join(type === 'config' ? this.root : path.join(this.root, type), `${randomBytes(6).toString('hex')}${TEMPORARY_SUFFIX}`);
    return new LocalObjectWriter(tmp, type, (t, h) => this.place(t, h), (err, h) => this.translate(err, h));
  }

  /** Moves a written and synced temporary file to where `h` belongs. */
  private async place(tmp: string, h: Handle): Promise<void> {
    const target = this.file(h);
    if (h.type === 'locks') {
      await fs.rename(tmp, target);
    } else {
      // link() fails with EEXIST instead of silently replacing, unlike rename().
      await fs.link(tmp, target);
      await fs.unlink(tmp);
    }
  }

  async load(h: Handle, offset = 0, length?: number): Promise<Uint8Array> {
    const file = this.file(h);
    try {
      if (h.type === 'data') return await this.packs.use(file, (fd) => readAt(fd, offset, length));
      const fh = await fs.open(file, fsc.O_RDONLY);
      try {
        return await readAt(fh.fd, offset, length);
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw this.translate(err, h);
    }
  }

  async stat(h: Handle): Promise<ObjectInfo> {
    try {
      const st = await fs.stat(this.file(h));
      return { name: h.name, size: st.size };
    } catch (err) {
      throw this.translate(err, h);
    }
  }

  async *list(type: FileType): AsyncIterable<ObjectInfo> {
    if (type === 'config') {
      try {
        const st = await fs.stat(path.join(this.root, 'config'));
        yield { name: '', size: st.size };
      } catch {}
      return;
    }
    const dirs = type === 'data' ? await subdirs(path.join(this.root, 'data')) : [path.join(this.root, type)];
    for await (const { name, size } of filesIn(dirs, (n) => !n.endsWith(TEMPORARY_SUFFIX))) yield { name, size };
  }

  async remove(h: Handle): Promise<void> {
    try {
      await fs.unlink(this.file(h));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw this.translate(err, h);
    }
    // After the unlink: a load between a drop and the unlink would keep a new descriptor.
    if (h.type === 'data') this.packs.drop(this.file(h));
  }

  async removeLeftovers(dryRun: boolean): Promise<Leftovers> {
    const found: Leftovers = { files: 0, bytes: 0 };
    const dirs = [this.root, ...(await subdirs(path.join(this.root, 'data'))), ...FILE_TYPES.filter((t) => t !== 'config').map((t) => path.join(this.root, t))];
    for await (const { file, size } of filesIn(dirs, (n) => n.endsWith(TEMPORARY_SUFFIX))) {
      if (!dryRun) await fs.rm(file, { force: true });
      found.files++;
      found.bytes += size;
    }
    return found;
  }

  async close(): Promise<void> {
    await this.packs.closeAll();
  }

  private translate(err: unknown, h: Handle): unknown {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return new NotFoundError(h, this.root);
    if (code === 'EEXIST') return new AlreadyExistsError(h, this.root);
    if (code === 'ENOSPC') return new PermanentError(`no space left on device while writing ${h.type}/${h.name} in ${this.root}: free some space and run the command again`, { cause: err });
    if (code === 'EACCES' || code === 'EROFS' || code === 'EDQUOT') {
      return new PermanentError(`cannot write ${h.type}/${h.name} in ${this.root}: ${(err as Error).message}`, { cause: err });
    }
    return err;
  }
}

/** The regular files in `dirs` whose names `want` accepts, with their sizes; a missing directory holds none. */
async function* filesIn(dirs: string[], want: (name: string) => boolean): AsyncIterable<{ file: string; name: string; size: number }> {
  for (const dir of dirs) {
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      continue;
    }
    for (const name of names.filter(want)) {
      const file = path.join(dir, name);
      try {
        const st = await fs.stat(file);
        if (st.isFile()) yield { file, name, size: st.size };
      } catch {}
    }
  }
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    const names = await fs.readdir(dir);
    return names.filter((n) => /^[0-9a-f]{2}$/.test(n)).map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}

/** `length` bytes from `offset` (to the end without a length), fewer where the file ends. */
async function readAt(fd: number, offset: number, length?: number): Promise<Uint8Array> {
  // A ranged read needs no stat: reading stops short at the end of the file.
  const end = length === undefined ? (await fstat(fd)).size : offset + length;
  const buf = Buffer.allocUnsafe(Math.max(0, end - offset));
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await read(fd, buf, done, buf.length - done, offset + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === buf.length ? buf : buf.subarray(0, done);
}
