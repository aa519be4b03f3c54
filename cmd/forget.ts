import type { ArgumentsCamelCase, Argv } from 'yargs';
import { applyPolicy, GroupKey, groupSnapshots, isEmptyPolicy, parseCalendarDuration, parseGroupBy, PERIODS, RetentionPolicy } from '../repo/retention.js';
import { mapLimit } from '../backends/concurrency.js';
import { resolveSnapshot } from '../repo/snapshot-select.js';
import { SnapshotRef } from '../repo/snapshot.js';
import { GlobalArgs, repeatable } from './context.js';
import { Output } from './output.js';
import { parseMaxUnused, pruneOptions, runPrune } from './prune.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

const PERIOD_NOUN = { hourly: 'hour', daily: 'day', weekly: 'week', monthly: 'month', yearly: 'year' } as const;

export const command = 'forget [snapshots..]';
export const describe = 'remove snapshots, named or by a retention policy (then `prune` frees their data)';

const count = (what: string) => ({ type: 'number', describe: `keep the newest snapshot of each of the last N ${what} (-1: all)` }) as const;

export const builder = (y: Argv) =>
  y
    .positional('snapshots', { type: 'string', array: true, describe: 'snapshot ids to forget' })
    .option('keep-last', { alias: 'l', type: 'number', describe: 'keep the N newest snapshots' })
    .option('keep-hourly', { alias: 'H', ...count('hours') })
    .option('keep-daily', { alias: 'd', ...count('days') })
    .option('keep-weekly', { alias: 'w', ...count('weeks') })
    .option('keep-monthly', { alias: 'm', ...count('months') })
    .option('keep-yearly', { alias: 'y', ...count('years') })
    .option('keep-within', { type: 'string', describe: 'keep snapshots younger than this before the newest one, e.g. 1y2m3d4h' })
    .options(Object.fromEntries(PERIODS.map((p) => [`keep-within-${p}`, { type: 'string' as const, describe: `keep the newest ${p} snapshot of each ${PERIOD_NOUN[p]} within this before the newest one, e.g. 7d` }])))
    .option('keep-tag', repeatable('keep snapshots with these tags (comma-separated: all of them; repeatable: any list)'))
    .option('group-by', { type: 'string', default: 'host,paths', describe: 'apply the policy per group of host, paths, tags, kind' })
    .option('host', { type: 'string', describe: 'only consider snapshots of this host' })
    .option('tag', repeatable('only consider snapshots with these tags'))
    .option('prune', { type: 'boolean', default: false, describe: 'run prune afterwards (exclusive lock)' })
    .options(pruneOptions);

interface Args extends GlobalArgs {
  snapshots?: string[];
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  keepWithin?: string;
  keepTag: string[];
  groupBy: string;
  host?: string;
  tag: string[];
  prune: boolean;
  maxUnused: string;
  dryRun: boolean;
}

function policyFrom(args: Args): RetentionPolicy {
  const n = (v: number | undefined, flag: string) => {
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || v < -1) throw new UsageError(`${flag} takes a whole number of snapshots (or -1 for all), not ${v}`);
    return v;
  };
  const duration = (v: string | undefined, flag: string) => {
    try {
      return v ? parseCalendarDuration(v) : undefined;
    } catch (err) {
      throw new UsageError(`${flag}: ${(err as Error).message}`);
    }
  };
  const within = duration(args.keepWithin, '--keep-within');
  // yargs also gives each option under its dashed name, which the loop can build.
  const dashed = args as unknown as Record<string, string | undefined>;
  const withinPeriods = Object.fromEntries(PERIODS.map((p) => [p, duration(dashed[`keep-within-${p}`], `--keep-within-${p}`)]));
  return {
    last: n(args.keepLast, '--keep-last'),
    hourly: n(args.keepHourly, '--keep-hourly'),
    daily: n(args.keepDaily, '--keep-daily'),
    weekly: n(args.keepWeekly, '--keep-weekly'),
    monthly: n(args.keepMonthly, '--keep-monthly'),
    yearly: n(args.keepYearly, '--keep-yearly'),
    within,
    withinPeriods,
    tags: args.keepTag.map((t) => t.split(',').filter(Boolean)).filter((l) => l.length > 0),
  };
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  const policy = policyFrom(args);
  const named = args.snapshots ?? [];
  if (named.length > 0 && !isEmptyPolicy(policy)) throw new UsageError('name snapshots to forget, or give a policy (--keep-*), not both');
  if (named.length === 0 && isEmptyPolicy(policy)) throw new UsageError('give snapshot ids or a policy such as --keep-daily 7; without one nothing would be removed');
  let groupBy;
  try {
    groupBy = parseGroupBy(args.groupBy);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const maxUnused = parseMaxUnused(args.maxUnused);
  await withRepository(args, async (repo, out, lock) => {
    let doomed: SnapshotRef[];
    if (named.length > 0) {
      doomed = [];
      for (const q of named) doomed.push(await resolveSnapshot(repo, q));
      for (const r of doomed) out.emit({ message_type: 'forget', id: r.id, time: r.snapshot.time });
    } else {
      const all = (await repo.listSnapshots((e) => out.warn(`warning: ${e.message}`))).filter(
        (r) => (!args.host || r.snapshot.host === args.host) && args.tag.every((t) => r.snapshot.tags.includes(t)),
      );
      doomed = [];
      const groups = groupSnapshots(all.map((r) => ({ ...r.snapshot, id: r.id, ref: r })), groupBy);
      for (const g of groups) {
        const result = applyPolicy(g.members, policy);
        printGroup(out, g.key, result.keep, result.remove);
        doomed.push(...result.remove.map((m) => m.ref));
      }
    }
    if (!args.dryRun) {
      // Concurrent: on S3 each removal is a round trip.
      await mapLimit(doomed, 8, (r) => repo.backend.remove({ type: 'snapshots', name: r.id }));
    }
    out.print(`${args.dryRun ? 'would remove' : 'removed'} ${doomed.length} snapshot${doomed.length === 1 ? '' : 's'}`);
    if (args.prune) await runPrune(repo, out, lock, maxUnused, args.dryRun);
  }, args.prune ? 'exclusive' : 'shared');
}

type Member = { id: string; time: string; tags: string[]; host: string; paths: string[] };

function printGroup(out: Output, key: GroupKey, keep: { snapshot: Member; reasons: string[] }[], remove: Member[]) {
  out.emit({
    message_type: 'group',
    group: key,
    keep: keep.map((k) => ({ id: k.snapshot.id, time: k.snapshot.time, reasons: k.reasons })),
    remove: remove.map((s) => ({ id: s.id, time: s.time })),
  });
  const label = [key.host !== undefined && `host ${key.host}`, key.paths && `paths [${key.paths.join(', ')}]`, key.tags && `tags [${key.tags.join(', ')}]`, key.kind && `kind ${key.kind}`]
    .filter(Boolean)
    .join(', ');
  out.print(`snapshots${label ? ` for ${label}` : ''}:`);
  out.print(`keep ${keep.length} snapshots:`);
  for (const k of keep) out.print(`  ${k.snapshot.id.slice(0, 8)}  ${localTime(k.snapshot.time)}  ${k.reasons.join(', ')}`);
  out.print(`remove ${remove.length} snapshots:`);
  for (const s of remove) out.print(`  ${s.id.slice(0, 8)}  ${localTime(s.time)}`);
  out.print('');
}

function localTime(iso: string): string {
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
