/**
 * Finding entries by name across snapshots. Matches below a tree are computed once per
 * tree id, so snapshots that share most of their trees cost little more than one.
 */
import { globToRegexSource } from './exclude.js';
import { Repository } from './repository.js';
import { nameBytes, TreeNode } from './tree.js';

export interface Found {
  /** Path inside the snapshot, from its root. */
  path: string;
  node: TreeNode;
}

/** A glob (`*`, `?`, `[...]`) against a whole entry name. */
export function nameMatcher(pattern: string, ignoreCase = false): (name: string) => boolean {
  const re = new RegExp(`^${globToRegexSource(pattern)}$`, ignoreCase ? 'i' : '');
  return (name) => re.test(name);
}

export class Finder {
  private readonly memo = new Map<string, Promise<Found[]>>();

  constructor(
    private readonly repo: Repository,
    private readonly match: (name: string) => boolean,
  ) {}

  /** Matches below a tree, with paths relative to it (starting with '/'). */
  find(tree: string, depth = 0): Promise<Found[]> {
    let r = this.memo.get(tree);
    if (!r) {
      r = this.search(tree, depth);
      this.memo.set(tree, r);
    }
    return r;
  }

  private async search(tree: string, depth: number): Promise<Found[]> {
    if (depth > 4096) throw new Error('tree nesting is deeper than 4096 levels (a tree loop?)');
    const out: Found[] = [];
    for (const n of (await this.repo.loadTree(tree)).nodes) {
      const name = nameBytes(n).toString('utf8');
      if (this.match(name)) out.push({ path: `/${name}`, node: n });
      if (n.type === 'dir' && n.subtree) for (const f of await this.find(n.subtree, depth + 1)) out.push({ path: `/${name}${f.path}`, node: f.node });
    }
    return out;
  }
}
