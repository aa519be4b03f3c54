/**
 * Opens a file the walk listed as regular, for reading its content. Between the lstat and
 * the open it may have been replaced: by a FIFO, whose open would block forever, or by a
 * symlink, which would back up whatever it points to under this file's name. So the open
 * neither follows a symlink nor waits for a writer, and what it opened must still be a
 * regular file. (O_NONBLOCK changes nothing for reads of a regular file.)
 */
import fs from 'node:fs';

const FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

export function openSourceFile(path: Uint8Array): number {
  let fd: number;
  try {
    fd = fs.openSync(Buffer.from(path), FLAGS);
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
