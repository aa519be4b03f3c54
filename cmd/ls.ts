import type { ArgumentsCamelCase, Argv } from 'yargs';
import { resolveSnapshot } from '../repo/snapshot-select.js';
import { findNode, walkTree } from '../repo/tree-walk.js';
import { nameBytes, TreeNode } from '../repo/tree.js';
import { GlobalArgs } from './context.js';
import { withRepository } from './run.js';

export const command = 'ls <snapshot> [path]';
export const describe = 'list files in a snapshot';
export const builder = (y: Argv) =>
  y
    .positional('snapshot', { type: 'string', describe: 'snapshot id, prefix, or latest' })
    .positional('path', { type: 'string', default: '/', describe: 'directory or file inside the snapshot' })
    .option('long', { alias: 'l', type: 'boolean', default: false, describe: 'show mode, owner, size and time' })
    .option('recursive', { type: 'boolean', default: true, describe: 'list subdirectories too' });

interface Args extends GlobalArgs {
  snapshot: string;
  path: string;
  long: boolean;
  recursive: boolean;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  await withRepository(args, async (repo, out) => {
    const ref = await resolveSnapshot(repo, args.snapshot);
    out.emit({ message_type: 'snapshot', id: ref.id, ...ref.snapshot });
    const base = args.path.replace(/\/+$/, '');
    const start = await findNode(repo, ref.snapshot.tree, args.path);
    const show = (p: string, n: TreeNode) => {
      out.emit({ message_type: 'node', path: p, ...n, content: undefined });
      if (!args.long) out.print(p);
      else out.print(`${modeString(n)} ${String(n.user ?? n.uid).padEnd(8)} ${String(n.group ?? n.gid).padEnd(8)} ${String(n.size).padStart(12)} ${n.mtime.slice(0, 19).replace('T', ' ')} ${p}${n.type === 'symlink' ? ` -> ${n.linkTarget}` : ''}`);
    };
    if (start.type !== 'dir') {
      show(base || '/', start);
      return;
    }
    if (args.recursive) {
      for await (const e of walkTree(repo, start.subtree!)) show(base + e.path.toString('utf8'), e.node);
    } else {
      for (const n of (await repo.loadTree(start.subtree!)).nodes) show(`${base}/${nameBytes(n).toString('utf8')}`, n);
    }
  });
}

const TYPE_CHAR: Record<string, string> = { file: '-', dir: 'd', symlink: 'l', chardev: 'c', blockdev: 'b', fifo: 'p', socket: 's' };

function modeString(n: TreeNode): string {
  const m = n.mode;
  const rwx = (bits: number, special: boolean, ch: string) => `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-'}`;
  return TYPE_CHAR[n.type] + rwx(m >> 6, !!(m & 0o4000), 's') + rwx(m >> 3, !!(m & 0o2000), 's') + rwx(m, !!(m & 0o1000), 't');
}
