/**
 * Opens a file the walk listed as regular, for reading its content. Between the lstat and
 * the open it may have been replaced: by a FIFO, whose open would block forever, or by a
 * symlink, which would back up whatever it points to under this file's name. So the open
 * neither follows a symlink nor waits for a writer, and what it opened must still be a
 * regular file. (O_NONBLOCK changes nothing for reads of a regular file.)
 *
 * A backup should leave the source as it found it, and an access time it moved would
 * also make the next backup store every directory's tree again. O_NOATIME keeps reads
 * from moving it; the kernel allows it only to the file's owner and to a process with
 * CAP_FOWNER (EPERM otherwise). So it is asked for only when this process is root or
 * owns the file as lstat saw it: a user backing up files of others (/usr) would
 * otherwise pay a refused open for each. An open refused all the same (root without
 * CAP_FOWNER, an owner changed since the lstat) is made again without it. A non-root
 * process holding CAP_FOWNER goes without O_NOATIME on other users' files.
 */
import fs from 'node:fs';

const FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
/** Only Linux has it; elsewhere the constant is missing and reads may move access times. */
const NOATIME = fs.constants.O_NOATIME ?? 0;
const EUID = process.geteuid?.();

/** Whether an open by `euid` of a file `owner` owns is worth trying with O_NOATIME. */
export function tryNoAtime(owner: number, euid: number | undefined): boolean {
  return NOATIME !== 0 && (euid === 0 || euid === owner);
}

/** `path`: its bytes, one latin1 character each; `owner`: the file's uid as the walk's lstat saw it. */
export function openSourceFile(path: string, owner: number): number {
  let fd: number;
  try {
    fd = openNoAtime(Buffer.from(path, 'latin1'), owner);
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

function openNoAtime(path: Buffer, owner: number): number {
  if (!tryNoAtime(owner, EUID)) return fs.openSync(path, FLAGS);
  try {
    return fs.openSync(path, FLAGS | NOATIME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    return fs.openSync(path, FLAGS);
  }
}
