import type { ArgumentsCamelCase, Argv } from 'yargs';
import { diffTrees, Modifier } from '../repo/diff.js';
import { resolveSnapshot } from '../repo/snapshot-select.js';
import { GlobalArgs } from './context.js';
import { formatBytes } from './output.js';
import { withRepository } from './run.js';

export const command = 'diff <a> <b>';
export const describe = 'what changed between two snapshots (+ added, - removed, M modified, T type, U metadata)';
export const builder = (y: Argv) => y.positional('a', { type: 'string' }).positional('b', { type: 'string' });

interface Args extends GlobalArgs {
  a: string;
  b: string;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  await withRepository(args, async (repo, out) => {
    const a = await resolveSnapshot(repo, args.a);
    const b = await resolveSnapshot(repo, args.b);
    out.print(`comparing snapshot ${a.id.slice(0, 8)} to ${b.id.slice(0, 8)}:`);
    const counts: Record<Modifier, number> = { '+': 0, '-': 0, M: 0, T: 0, U: 0 };
    let addedBytes = 0;
    let removedBytes = 0;
    for await (const c of diffTrees(repo, a.snapshot.tree, b.snapshot.tree)) {
      counts[c.modifier]++;
      if (c.node.type === 'file' && c.modifier === '+') addedBytes += c.node.size;
      if (c.node.type === 'file' && c.modifier === '-') removedBytes += c.node.size;
      out.emit({ message_type: 'change', path: c.path, modifier: c.modifier });
      out.print(`${c.modifier}    ${c.path}`);
    }
    out.emit({ message_type: 'statistics', source_snapshot: a.id, target_snapshot: b.id, added: counts['+'], removed: counts['-'], modified: counts.M, type_changed: counts.T, metadata_changed: counts.U, added_bytes: addedBytes, removed_bytes: removedBytes });
    out.print('');
    out.print(`Added:    ${counts['+']} entries, ${formatBytes(addedBytes)}`);
    out.print(`Removed:  ${counts['-']} entries, ${formatBytes(removedBytes)}`);
    out.print(`Modified: ${counts.M} files, ${counts.T} type changes, ${counts.U} metadata changes`);
  });
}
