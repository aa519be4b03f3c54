import type { ArgumentsCamelCase, Argv } from 'yargs';
import { compileExcludesBothCases } from '../repo/exclude.js';
import type { RemovedPath, RewritePlan } from '../repo/rewrite.js';
import { selectSnapshots } from '../repo/snapshot-select.js';
import { readArgFile } from './arg-file.js';
import { GlobalArgs, repeatable, snapshotFilterOptions } from './context.js';
import { formatBytes, Output } from './output.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

export const command = 'rewrite [snapshots..]';
export const describe = 'remove files from existing snapshots (the named ones, else all that match --host/--tag/--path); `prune` then frees their data';
export const builder = (y: Argv) =>
  y
    .positional('snapshots', { type: 'string', array: true, describe: 'snapshot ids, id prefixes or `latest`' })
    .option('exclude', { ...repeatable('remove paths matching this pattern, as backup --exclude does (repeatable)'), alias: 'e' })
    .option('iexclude', repeatable('as --exclude, ignoring case'))
    .option('exclude-file', repeatable('read exclude patterns from a file'))
    .option('forget', { type: 'boolean', default: false, describe: 'remove each original snapshot once its rewritten one is saved (exclusive lock)' })
    .option('dry-run', { alias: 'n', type: 'boolean', default: false, describe: 'say what would be removed, and write nothing' })
    .options(snapshotFilterOptions)
    .epilog(
      'Without --forget each rewritten snapshot is saved next to its original, tagged `rewrite`. ' +
        'Either way the removed files stay in the repository until `cairn prune` finds nothing references them.',
    );

interface Args extends GlobalArgs {
  snapshots?: string[];
  exclude: string[];
  iexclude: string[];
  excludeFile: string[];
  forget: boolean;
  dryRun: boolean;
  host?: string;
  tag: string[];
  path: string[];
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  const patterns = [...args.exclude];
  for (const f of args.excludeFile) patterns.push(...(await readArgFile(f, '--exclude-file')).split('\n'));
  if (![...patterns, ...args.iexclude].some((p) => p.trim() !== '' && !p.trim().startsWith('#'))) {
    throw new UsageError('say what to remove with --exclude, --iexclude or --exclude-file; without a pattern nothing would change');
  }
  const excluded = compileExcludesBothCases(patterns, args.iexclude);
  const { rewriteSnapshots } = await import('../repo/rewrite.js');
  // A dry run writes nothing, not even a lock. Removing the originals takes the exclusive
  // lock, as in restic: a `tag` or `copy` running meanwhile could otherwise read an original
  // before its removal and save a copy of it, secret and all, under a new id.
  const lock = args.dryRun ? 'none' : args.forget ? 'exclusive' : 'shared';
  await withRepository(args, async (repo, out) => {
    repo.dryRun = args.dryRun;
    const refs = await selectSnapshots(repo, args.snapshots ?? [], { host: args.host, tags: args.tag, paths: args.path }, (e) => out.warn(`warning: ${e.message} (not rewritten)`));
    const plans = await rewriteSnapshots(repo, refs, {
      excluded,
      forget: args.forget,
      onPlanned: (plan) => reportPlan(out, plan, args.dryRun),
      onSaved: (plan, id) => {
        out.emit({ message_type: 'rewritten', snapshot_id: plan.ref.id, new_id: id, forgotten: args.forget });
        out.print(`snapshot ${plan.ref.id.slice(0, 8)} saved as ${id.slice(0, 8)}${args.forget ? `; ${plan.ref.id.slice(0, 8)} removed` : ` (tagged rewrite; ${plan.ref.id.slice(0, 8)} is kept)`}`);
      },
    });
    reportSummary(out, plans, args);
  }, lock);
}

function reportPlan(out: Output, plan: RewritePlan, dryRun: boolean) {
  const short = plan.ref.id.slice(0, 8);
  if (plan.outcome === 'skipped') {
    out.emit({ message_type: 'skipped', snapshot_id: plan.ref.id, reason: plan.reason });
    out.print(`snapshot ${short} skipped: ${plan.reason}`);
  } else if (plan.outcome === 'unchanged') {
    out.emit({ message_type: 'unchanged', snapshot_id: plan.ref.id });
    out.print(`snapshot ${short}: nothing matches, left as it is`);
  } else {
    out.print(`snapshot ${short} of ${plan.ref.snapshot.paths.join(', ')} at ${plan.ref.snapshot.time}:`);
    for (const r of plan.removed) {
      out.emit({ message_type: 'removed', snapshot_id: plan.ref.id, path: r.path, type: r.type, files: r.files, dirs: r.dirs, bytes: r.bytes, dry_run: dryRun });
      out.print(`  ${dryRun ? 'would remove' : 'remove'} ${r.path} (${describeRemoved(r)})`);
    }
  }
}

function describeRemoved(r: RemovedPath): string {
  if (r.type !== 'dir') return r.type === 'file' ? `file, ${formatBytes(r.bytes)}` : r.type;
  return `directory: ${r.files} file${r.files === 1 ? '' : 's'}, ${formatBytes(r.bytes)}`;
}

function reportSummary(out: Output, plans: RewritePlan[], args: Args) {
  const done = plans.flatMap((p) => (p.outcome === 'rewritten' ? [p] : []));
  const removed = done.flatMap((p) => p.removed);
  const files = removed.reduce((n, r) => n + r.files, 0);
  const bytes = removed.reduce((n, r) => n + r.bytes, 0);
  const count = (o: RewritePlan['outcome']) => plans.filter((p) => p.outcome === o).length;
  out.emit({
    message_type: 'summary',
    dry_run: args.dryRun,
    snapshots: plans.length,
    rewritten: done.length,
    unchanged: count('unchanged'),
    skipped: count('skipped'),
    forgotten: args.forget && !args.dryRun ? done.length : 0,
    files_removed: files,
    bytes_removed: bytes,
  });
  if (done.length === 0) {
    out.print(`nothing to rewrite: ${count('unchanged')} of ${plans.length} snapshots have no path that matches, ${count('skipped')} skipped`);
    return;
  }
  const verb = args.dryRun ? 'would rewrite' : 'rewrote';
  out.print(`${verb} ${done.length} of ${plans.length} snapshots (${count('unchanged')} unchanged, ${count('skipped')} skipped), leaving out ${files} files, ${formatBytes(bytes)}`);
  if (args.dryRun) out.print('dry run: nothing was written; run again without --dry-run to rewrite');
  else if (args.forget) out.print('the removed files stay in the repository until no snapshot references them: run `cairn prune` to free the space');
  else {
    out.print(
      'the original snapshots are kept and still hold the removed files: remove them with `cairn forget ' +
        done.map((p) => p.ref.id.slice(0, 8)).join(' ') +
        '` (or rewrite with --forget next time), then run `cairn prune` to free the space',
    );
  }
}
