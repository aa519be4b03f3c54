/**
 * Extended attributes, through fs-xattr (Node has no xattr API). The binding follows
 * symlinks, so only files and directories carry xattrs; paths that are not valid UTF-8
 * cannot be passed to it and are backed up without xattrs.
 */
import { getAttributeSync, listAttributesSync, setAttribute } from 'fs-xattr';

export interface XattrEntry {
  name: string;
  value: string;
}

const UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

function utf8Path(p: Buffer): string | undefined {
  const s = p.toString('utf8');
  return Buffer.from(s, 'utf8').equals(p) ? s : undefined;
}

/**
 * Synchronous on purpose: listxattr is a cheap syscall, and the binding's async form cost
 * about 45 µs of main-thread time per file, more than the backup of a small file itself.
 */
export function readXattrs(p: Buffer): XattrEntry[] | undefined {
  const path = utf8Path(p);
  if (!path) return undefined;
  let names: string[];
  try {
    names = listAttributesSync(path);
  } catch (err) {
    if (UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw err;
  }
  if (names.length === 0) return undefined;
  const out: XattrEntry[] = [];
  for (const name of names.sort()) {
    try {
      out.push({ name, value: getAttributeSync(path, name).toString('base64') });
    } catch (err) {
      // Removed between list and get: nothing to keep.
      if ((err as NodeJS.ErrnoException).code !== 'ENODATA') throw err;
    }
  }
  return out.length ? out : undefined;
}

/** Restores xattrs; returns the names that the target file system refused. */
export async function writeXattrs(p: Buffer, xattrs: XattrEntry[]): Promise<string[]> {
  const path = utf8Path(p);
  if (!path) return xattrs.map((x) => x.name);
  const refused: string[] = [];
  for (const x of xattrs) {
    try {
      await setAttribute(path, x.name, Buffer.from(x.value, 'base64'));
    } catch (err) {
      if (UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '') || (err as NodeJS.ErrnoException).code === 'EPERM') refused.push(x.name);
      else throw err;
    }
  }
  return refused;
}
