import type { ArgumentsCamelCase, Argv } from 'yargs';
import { matches, resolveSnapshot } from '../repo/snapshot-select.js';
import { SnapshotRef } from '../repo/snapshot.js';
import { retag } from '../repo/tag.js';
import { GlobalArgs, repeatable } from './context.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

export const command = 'tag [snapshots..]';
export const describe = 'add, remove or set tags (of the named snapshots, else of all that match --host/--tag filters)';
export const builder = (y: Argv) =>
  y
    .positional('snapshots', { type: 'string', array: true })
    .option('add', repeatable('add these tags (comma-separated, repeatable)'))
    .option('remove', repeatable('remove these tags'))
    .option('set', repeatable('replace all tags with these'))
    .option('host', { type: 'string', describe: 'only snapshots of this host' })
    .option('tag', repeatable('only snapshots with these tags'));

interface Args extends GlobalArgs {
  snapshots?: string[];
  add: string[];
  remove: string[];
  set: string[];
  host?: string;
  tag: string[];
}

const split = (v: string[]) => v.flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);

export async function handler(args: ArgumentsCamelCase<Args>) {
  const change = { add: split(args.add), remove: split(args.remove), set: args.set.length ? split(args.set) : undefined };
  if (!change.add.length && !change.remove.length && !change.set) throw new UsageError('say what to change: --add, --remove or --set');
  if (change.set && (change.add.length || change.remove.length)) throw new UsageError('--set replaces all tags; do not combine it with --add or --remove');
  await withRepository(args, async (repo, out) => {
    let refs: SnapshotRef[];
    if (args.snapshots?.length) {
      refs = [];
      for (const q of args.snapshots) refs.push(await resolveSnapshot(repo, q));
    } else refs = (await repo.listSnapshots((e) => out.warn(`warning: ${e.message}`))).filter((r) => matches(r, { host: args.host, tags: args.tag }));
    let changed = 0;
    for (const r of refs) {
      const id = await retag(repo, r, change);
      if (!id) continue;
      changed++;
      out.emit({ message_type: 'changed', old_id: r.id, new_id: id });
      out.print(`snapshot ${r.id.slice(0, 8)} is now ${id.slice(0, 8)}`);
    }
    out.emit({ message_type: 'summary', changed });
    out.print(`changed ${changed} of ${refs.length} snapshots`);
  }, 'shared', { syncIndex: false });
}
