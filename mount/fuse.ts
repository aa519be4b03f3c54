/**
 * The virtual file system as a FUSE mount, through fuse-native (a prebuilt N-API binding
 * to libfuse 2). Read-only: the mount is `ro`, and every write operation answers EROFS.
 *
 * Why not the kernel protocol on /dev/fuse directly: a non-root mount must go through
 * fusermount3, which hands the /dev/fuse descriptor back over a unix socket
 * (SCM_RIGHTS), and Node cannot receive descriptors without a native addon anyway.
 */
import { constants as fsConstants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { createRequire } from 'node:module';
import { FileHandle, statMode, Vfs, VfsError, VNode } from './vfs.js';

// fuse-native passes positional arguments of many shapes; each op below names what it uses.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Cb = (...args: any[]) => void;

export interface FuseInstance {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
}
export type FuseClass = new (mnt: string, ops: Record<string, Cb>, opts: Record<string, unknown>) => FuseInstance;

const E = osConstants.errno;
const ERRNO: Record<VfsError['code'], number> = { ENOENT: E.ENOENT, ENOTDIR: E.ENOTDIR, EISDIR: E.EISDIR, EIO: E.EIO, EINVAL: E.EINVAL };

/** fuse-native answers with negative errno values. */
function errnoOf(err: unknown): number {
  if (err instanceof VfsError) return -ERRNO[err.code];
  process.stderr.write(`cairn mount: ${(err as Error)?.message ?? err}\n`);
  return -E.EIO;
}

function stat(n: VNode) {
  return {
    mode: statMode(n),
    uid: n.uid,
    gid: n.gid,
    size: n.size,
    nlink: n.nlink,
    ino: n.ino,
    rdev: n.rdev,
    blksize: 4096,
    blocks: Math.ceil(n.size / 512),
    atime: new Date(n.atimeMs),
    mtime: new Date(n.mtimeMs),
    ctime: new Date(n.ctimeMs),
  };
}

export interface MountOptions {
  /** Let other users see the mount (for a non-root user, needs user_allow_other in /etc/fuse.conf). */
  allowOther?: boolean;
  debug?: boolean;
}

export interface Mounted {
  unmount(): Promise<void>;
}

const WRITE_OPS = ['write', 'create', 'mkdir', 'mknod', 'unlink', 'rmdir', 'rename', 'link', 'symlink', 'chmod', 'chown', 'truncate', 'ftruncate', 'utimens', 'setxattr', 'removexattr'];

export function fuseOps(vfs: Vfs): Record<string, Cb> {
  const handles = new Map<number, FileHandle>();
  let nextFd = 1;
  const ops: Record<string, Cb> = {
    init: (cb) => cb(0),
    getattr: (path, cb) => {
      vfs.lookup(path as string).then((n) => cb(0, stat(n)), (err) => cb(errnoOf(err)));
    },
    fgetattr: (path, fd, cb) => {
      const h = handles.get(fd as number);
      if (h) cb(0, stat(h.node));
      else ops.getattr(path, cb);
    },
    readdir: (path, cb) => {
      vfs
        .lookup(path as string)
        .then(async (dir) => {
          const entries = await vfs.readdir(dir);
          cb(0, ['.', '..', ...entries.keys()], [stat(dir), stat(dir), ...[...entries.values()].map(stat)]);
        })
        .catch((err) => cb(errnoOf(err)));
    },
    readlink: (path, cb) => {
      vfs.lookup(path as string).then(
        (n) => (n.kind === 'symlink' ? cb(0, n.linkTarget ?? '') : cb(-E.EINVAL)),
        (err) => cb(errnoOf(err)),
      );
    },
    open: (path, flags, cb) => {
      if (((flags as number) & 3) !== fsConstants.O_RDONLY || (flags as number) & fsConstants.O_TRUNC) return cb(-E.EROFS);
      vfs.lookup(path as string).then(
        (n) => {
          try {
            const fd = nextFd++;
            handles.set(fd, vfs.open(n));
            cb(0, fd);
          } catch (err) {
            cb(errnoOf(err));
          }
        },
        (err) => cb(errnoOf(err)),
      );
    },
    read: (_path, fd, buf, len, pos, cb) => {
      const h = handles.get(fd as number);
      if (!h) return cb(-E.EBADF);
      h.read(pos as number, len as number).then(
        (data) => {
          data.copy(buf as Buffer);
          cb(data.length);
        },
        (err) => cb(errnoOf(err)),
      );
    },
    release: (_path, fd, cb) => {
      handles.delete(fd as number);
      cb(0);
    },
    access: (_path, mode, cb) => cb((mode as number) & fsConstants.W_OK ? -E.EROFS : 0),
    statfs: (_path, cb) => cb(0, { bsize: 4096, frsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, favail: 0, fsid: 0, flag: 1, namemax: 255 }),
  };
  for (const op of WRITE_OPS) ops[op] = (...args) => args[args.length - 1](-E.EROFS);
  return ops;
}

/** Mounts; resolves once the kernel has the mount (the first request can be answered). */
export async function mountFuse(vfs: Vfs, mountpoint: string, opts: MountOptions = {}): Promise<Mounted> {
  const require = createRequire(import.meta.url);
  const Fuse = require('fuse-native') as FuseClass;
  const fuse = new Fuse(mountpoint, fuseOps(vfs), {
    // fuse-native has no switch for these libfuse options; it joins fsname into -o as is.
    fsname: 'cairn,ro,use_ino,subtype=cairn',
    allowOther: !!opts.allowOther,
    debug: !!opts.debug,
    // Snapshots never change, so the kernel may keep names, attributes and pages.
    entryTimeout: 10,
    attrTimeout: 10,
    kernelCache: true,
    // Reads larger than this wait on one callback; libfuse 2 caps requests at 128 KiB anyway.
    maxRead: 128 * 1024,
  });
  await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(new Error(`cannot mount at ${mountpoint}: ${err.message}`)) : resolve())));
  return {
    unmount: () => new Promise<void>((resolve, reject) => fuse.unmount((err) => (err ? reject(new Error(`cannot unmount ${mountpoint}: ${err.message}`)) : resolve()))),
  };
}
