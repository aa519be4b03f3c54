/**
 * A read-only FUSE tree of in-memory files, one of which can return EIO for reads at or
 * beyond a chosen offset: a source disk that fails part-way through a file, as a dying
 * disk does. It runs in this process; only other processes (cairn) may read it, since a
 * synchronous read from this process would wait on its own event loop.
 */
import type { Cb, FuseClass } from '../../mount/fuse.js';
import { constants as osConstants } from 'node:os';
import { createRequire } from 'node:module';

const E = osConstants.errno;

export interface FaultyTree {
  /** Reads of `name` at or beyond `offset` fail with EIO; null heals the tree. */
  failAt(name: string | null, offset?: number): void;
  setFiles(files: Map<string, Buffer>): void;
  unmount(): Promise<void>;
}

export async function mountFaultyTree(mountpoint: string, initial: Map<string, Buffer>): Promise<FaultyTree> {
  let files = initial;
  let fault: { name: string; offset: number } | null = null;
  const now = new Date();
  const attr = (mode: number, size: number) => ({ mode, uid: 0, gid: 0, size, nlink: 1, mtime: now, atime: now, ctime: now, blksize: 4096, blocks: Math.ceil(size / 512) });
  const ops: Record<string, Cb> = {
    readdir: (p, cb) => (p === '/' ? cb(0, [...files.keys()]) : cb(-E.ENOENT)),
    getattr: (p: string, cb) => {
      if (p === '/') return cb(0, attr(0o40755, 4096));
      const f = files.get(p.slice(1));
      return f ? cb(0, attr(0o100644, f.length)) : cb(-E.ENOENT);
    },
    open: (p: string, _flags, cb) => (files.has(p.slice(1)) ? cb(0, 42) : cb(-E.ENOENT)),
    release: (_p, _fd, cb) => cb(0),
    read: (p: string, _fd, buf: Buffer, len: number, pos: number, cb) => {
      const name = p.slice(1);
      const f = files.get(name);
      if (!f) return cb(-E.ENOENT);
      if (fault && fault.name === name && pos + len > fault.offset) return cb(-E.EIO);
      const n = Math.max(0, Math.min(len, f.length - pos));
      f.copy(buf, 0, pos, pos + n);
      return cb(n);
    },
  };
  const Fuse = createRequire(import.meta.url)('fuse-native') as FuseClass;
  // direct_io: every read reaches us, so the page cache cannot hide a fault.
  const fuse = new Fuse(mountpoint, ops, { fsname: 'cairn-faulty,ro,direct_io,attr_timeout=0,entry_timeout=0', force: true, mkdir: true });
  await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(new Error(`cannot mount FUSE at ${mountpoint}: ${err.message} (needs /dev/fuse and fuse3)`)) : resolve())));
  return {
    failAt(name, offset = 0) {
      fault = name === null ? null : { name, offset };
    },
    setFiles(f) {
      files = f;
    },
    unmount: () => new Promise<void>((resolve, reject) => fuse.unmount((err) => (err ? reject(err) : resolve()))),
  };
}
