/**
 * Differences between two snapshot trees, as restic prints them: `+` added, `-` removed,
 * `M` content modified, `T` type changed, `U` metadata updated. Identical subtrees (same
 * id) are skipped without being read.
 */
import { Repository } from './repository.js';
import { nameBytes, TreeNode } from './tree.js';
import { walkTree } from './tree-walk.js';

export type Modifier = '+' | '-' | 'M' | 'T' | 'U';

export interface Change {
  modifier: Modifier;
  /** Directories end in '/'. */
  path: string;
  node: TreeNode;
}

const META_FIELDS: (keyof TreeNode)[] = ['mode', 'uid', 'gid', 'user', 'group', 'linkTarget', 'linkTargetRaw', 'rdev'];

function metadataDiffers(a: TreeNode, b: TreeNode): boolean {
  if (META_FIELDS.some((f) => a[f] !== b[f])) return true;
  if (JSON.stringify(a.xattrs ?? []) !== JSON.stringify(b.xattrs ?? [])) return true;
  // A directory's mtime changes with its entries, which are listed themselves.
  return a.type !== 'dir' && a.mtime !== b.mtime;
}

function display(prefix: string, n: TreeNode): string {
  return `${prefix}/${nameBytes(n).toString('utf8')}${n.type === 'dir' ? '/' : ''}`;
}

export async function* diffTrees(repo: Repository, a: string, b: string, prefix = '', depth = 0): AsyncGenerator<Change> {
  if (a === b) return;
  if (depth > 4096) throw new Error('tree nesting is deeper than 4096 levels (a tree loop?)');
  const left = new Map((await repo.loadTree(a)).nodes.map((n) => [nameBytes(n).toString('latin1'), n]));
  const right = new Map((await repo.loadTree(b)).nodes.map((n) => [nameBytes(n).toString('latin1'), n]));
  const names = [...new Set([...left.keys(), ...right.keys()])].sort((x, y) => Buffer.compare(Buffer.from(x, 'latin1'), Buffer.from(y, 'latin1')));
  for (const name of names) {
    const l = left.get(name);
    const r = right.get(name);
    if (l && !r) yield* everything(repo, '-', prefix, l);
    else if (r && !l) yield* everything(repo, '+', prefix, r);
    else if (l && r) {
      if (l.type !== r.type) {
        yield { modifier: 'T', path: display(prefix, r), node: r };
        continue;
      }
      if (l.type === 'file' && (l.content ?? []).join() !== (r.content ?? []).join()) yield { modifier: 'M', path: display(prefix, r), node: r };
      else if (metadataDiffers(l, r)) yield { modifier: 'U', path: display(prefix, r), node: r };
      if (l.type === 'dir' && l.subtree && r.subtree) yield* diffTrees(repo, l.subtree, r.subtree, display(prefix, r).slice(0, -1), depth + 1);
    }
  }
}

async function* everything(repo: Repository, modifier: Modifier, prefix: string, n: TreeNode): AsyncGenerator<Change> {
  yield { modifier, path: display(prefix, n), node: n };
  if (n.type !== 'dir' || !n.subtree) return;
  const base = display(prefix, n).slice(0, -1);
  for await (const e of walkTree(repo, n.subtree)) {
    yield { modifier, path: `${base}${e.path.toString('utf8')}${e.node.type === 'dir' ? '/' : ''}`, node: e.node };
  }
}
