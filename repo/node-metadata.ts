/** Tree-node metadata from lstat, shared by the archiver and by `diff`/verification code. */
import { constants } from 'node:fs';
import type { EntryStat } from './dir-listing.js';
import { nsToRfc3339 } from './time-format.js';
import { NodeType, TreeNode } from './tree.js';
import { groupName, userName } from './user-names.js';

const TYPES = new Map<number, NodeType>([
  [constants.S_IFREG, 'file'],
  [constants.S_IFDIR, 'dir'],
  [constants.S_IFLNK, 'symlink'],
  [constants.S_IFCHR, 'chardev'],
  [constants.S_IFBLK, 'blockdev'],
  [constants.S_IFIFO, 'fifo'],
  [constants.S_IFSOCK, 'socket'],
]);

/** The node type of an lstat mode, if the tree has one for it. */
export function nodeType(mode: bigint): NodeType | undefined {
  return TYPES.get(Number(mode) & constants.S_IFMT);
}

export function nodeFromStat(name: { text: string; raw?: string }, type: NodeType, st: EntryStat): TreeNode {
  const uid = Number(st.uid);
  const gid = Number(st.gid);
  return {
    name: name.text,
    nameRaw: name.raw,
    type,
    mode: Number(st.mode & 0o7777n),
    uid,
    gid,
    user: userName(uid),
    group: groupName(gid),
    mtime: nsToRfc3339(st.mtimeNs),
    atime: nsToRfc3339(st.atimeNs),
    ctime: nsToRfc3339(st.ctimeNs),
    size: type === 'file' || type === 'symlink' ? Number(st.size) : 0,
    inode: Number(st.ino),
    device: Number(st.dev),
    links: Number(st.nlink),
    rdev: type === 'chardev' || type === 'blockdev' ? Number(st.rdev) : undefined,
  };
}

/** A file whose size, mtime, ctime and inode are unchanged need not be read again. */
export function unchangedSince(prev: TreeNode | undefined, cur: TreeNode): prev is TreeNode & { content: string[] } {
  return (
    prev !== undefined &&
    prev.type === 'file' &&
    cur.type === 'file' &&
    Array.isArray(prev.content) &&
    prev.size === cur.size &&
    prev.mtime === cur.mtime &&
    prev.ctime === cur.ctime &&
    prev.inode === cur.inode
  );
}
