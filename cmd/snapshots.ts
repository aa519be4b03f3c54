import type { ArgumentsCamelCase, Argv } from 'yargs';
import { latestPerGroup, matches } from '../repo/snapshot-select.js';
import { GlobalArgs, snapshotFilterOptions } from './context.js';
import { formatBytes } from './output.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

export const command = 'snapshots';
export const describe = 'list snapshots (file trees and disk images side by side)';
export const builder = (y: Argv) =>
  y
    .options(snapshotFilterOptions)
    .option('latest', { type: 'number', describe: 'only the N newest snapshots of each host and set of paths' });

interface Args extends GlobalArgs {
  host?: string;
  tag: string[];
  path: string[];
  latest?: number;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  const latest = args.latest;
  if (latest !== undefined && !(Number.isInteger(latest) && latest >= 1)) throw new UsageError(`--latest takes a count of 1 or more, e.g. --latest 3, not ${args.latest}`);
  await withRepository(args, async (repo, out) => {
    let refs = (await repo.listSnapshots((e) => out.warn(`warning: ${e.message}`))).filter((r) => matches(r, { host: args.host, tags: args.tag, paths: args.path }));
    if (latest !== undefined) refs = latestPerGroup(refs, latest);
    if (out.json) {
      process.stdout.write(JSON.stringify(refs.map((r) => ({ id: r.id, short_id: r.id.slice(0, 8), ...r.snapshot }))) + '\n');
      return;
    }
    const rows = refs.map((r) => {
      const s = r.snapshot;
      const size = s.summary ? formatBytes(s.summary.totalBytes) : '';
      return [r.id.slice(0, 8), new Date(s.time).toISOString().replace('T', ' ').slice(0, 19), s.host, s.kind, s.tags.join(','), size, s.paths.join(' ')];
    });
    const header = ['ID', 'Time', 'Host', 'Kind', 'Tags', 'Size', 'Paths'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
    out.print(fmt(header));
    out.print('-'.repeat(fmt(header).length));
    for (const r of rows) out.print(fmt(r));
    out.print(`${refs.length} snapshots`);
  }, 'none', { syncIndex: false });
}
