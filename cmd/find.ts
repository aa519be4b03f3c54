import type { ArgumentsCamelCase, Argv } from 'yargs';
import { Finder, nameMatcher } from '../repo/find.js';
import { matches, resolveSnapshot } from '../repo/snapshot-select.js';
import { SnapshotRef } from '../repo/snapshot.js';
import { GlobalArgs, repeatable } from './context.js';
import { withRepository } from './run.js';

export const command = 'find <pattern>';
export const describe = 'find files by name (glob) across snapshots, file and image snapshots alike';
export const builder = (y: Argv) =>
  y
    .positional('pattern', { type: 'string', describe: 'glob matched against entry names, e.g. "*.jpg"' })
    .option('snapshot', { ...repeatable('search only this snapshot (repeatable)'), alias: 's' })
    .option('host', { type: 'string', describe: 'only snapshots of this host' })
    .option('tag', repeatable('only snapshots with these tags'))
    .option('ignore-case', { alias: 'i', type: 'boolean', default: false });

interface Args extends GlobalArgs {
  pattern: string;
  snapshot: string[];
  host?: string;
  tag: string[];
  ignoreCase: boolean;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  await withRepository(args, async (repo, out) => {
    let refs: SnapshotRef[];
    if (args.snapshot.length) {
      refs = [];
      for (const q of args.snapshot) refs.push(await resolveSnapshot(repo, q));
    } else refs = (await repo.listSnapshots((e) => out.warn(`warning: ${e.message}`))).filter((r) => matches(r, { host: args.host, tags: args.tag }));
    const finder = new Finder(repo, nameMatcher(args.pattern, args.ignoreCase));
    let total = 0;
    for (const r of refs) {
      const found = await finder.find(r.snapshot.tree);
      if (found.length === 0) continue;
      total += found.length;
      out.emit({
        message_type: 'matches',
        snapshot: r.id,
        kind: r.snapshot.kind,
        matches: found.map((f) => ({ path: f.path, type: f.node.type, size: f.node.size, mode: f.node.mode, mtime: f.node.mtime })),
      });
      out.print(`Found matching entries in snapshot ${r.id.slice(0, 8)} from ${r.snapshot.time.replace('T', ' ').slice(0, 19)} (${r.snapshot.kind})`);
      for (const f of found) out.print(`${f.path}${f.node.type === 'dir' ? '/' : ''}`);
      out.print('');
    }
    if (total === 0) out.print(`no entry named ${JSON.stringify(args.pattern)} in ${refs.length} snapshots`);
  });
}
