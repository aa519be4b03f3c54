/**
 * Opens a file the walk listed as regular, for reading its content. Between the lstat and
 * the open it may have been replaced: by a FIFO, whose open would block forever, or by a
 * symlink, which would back up whatever it points to under this file's name. So the open
 * neither follows a symlink nor waits for a writer, and what it opened must still be a
 * regular file. (O_NONBLOCK changes nothing for reads of a regular file.)
 *
 * A backup should leave the source as it found it, and an access time it moved would
 * also make the next backup store every directory's tree again. O_NOATIME keeps reads
 * from moving it; the kernel allows it only to the file's owner and to root (EPERM
 * otherwise), and then the file is opened as before.
 */
import fs from 'node:fs';

const FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
/** Only Linux has it; elsewhere the constant is missing and reads may move access times. */
const NOATIME = fs.constants.O_NOATIME ?? 0;

export function openSourceFile(path: Uint8Array): number {
  let fd: number;
  try {
    fd = openNoAtime(Buffer.from(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new Error('it was replaced by a symbolic link after it was listed');
    throw err;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new Error('it is no longer a regular file');
    return fd;
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

function openNoAtime(path: Buffer): number {
  if (NOATIME === 0) return fs.openSync(path, FLAGS);
  try {
    return fs.openSync(path, FLAGS | NOATIME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    return fs.openSync(path, FLAGS);
  }
}
