/** `cairn repair snapshots`, dispatched to by `cairn repair` (cmd/repair.ts). */
import type { RepairChange, RepairPlan } from '../repo/repair-snapshots.js';
import { selectSnapshots } from '../repo/snapshot-select.js';
import { GlobalArgs, repeatable } from './context.js';
import { EXIT_ERROR } from './exit-codes.js';
import { formatBytes, Output } from './output.js';
import { withRepository } from './run.js';

export const options = {
  forget: { type: 'boolean', default: false, describe: 'snapshots: remove each original snapshot once its repaired one is saved (exclusive lock)' },
  'dry-run': { alias: 'n', type: 'boolean', default: false, describe: 'snapshots: say what would change, and write nothing' },
  host: { type: 'string', describe: 'snapshots: only snapshots of this host' },
  tag: repeatable('snapshots: only snapshots with these tags'),
  path: repeatable('snapshots: only snapshots with these paths'),
} as const;

export interface RepairSnapshotsArgs extends GlobalArgs {
  snapshots?: string[];
  forget: boolean;
  dryRun: boolean;
  host?: string;
  tag: string[];
  path: string[];
}

export async function repairSnapshotsCommand(args: RepairSnapshotsArgs) {
  const { repairSnapshots } = await import('../repo/repair-snapshots.js');
  // As rewrite: a dry run takes no lock; removing the originals takes the exclusive lock.
  const lock = args.dryRun ? 'none' : args.forget ? 'exclusive' : 'shared';
  await withRepository(args, async (repo, out) => {
    repo.dryRun = args.dryRun;
    const refs = await selectSnapshots(repo, args.snapshots ?? [], { host: args.host, tags: args.tag, paths: args.path }, (e) => out.warn(`warning: ${e.message} (not repaired)`));
    let lostPacks = 0;
    const plans = await repairSnapshots(repo, refs, {
      forget: args.forget,
      onLostPacks: (packs) => {
        lostPacks = packs.length;
        for (const p of packs) {
          out.emit({ message_type: 'lost_pack', pack: p.pack, detail: p.detail });
          out.warn(`warning: data/${p.pack} ${p.detail}: its blobs count as missing${args.dryRun ? '' : ' (`cairn repair index` drops it from the index)'}`);
        }
      },
      onPlanned: (plan) => reportPlan(out, plan, args.dryRun),
      onSaved: (plan, id) => {
        out.emit({ message_type: 'repaired', snapshot_id: plan.ref.id, new_id: id, forgotten: args.forget });
        out.print(`snapshot ${plan.ref.id.slice(0, 8)} saved as ${id.slice(0, 8)}${args.forget ? `; ${plan.ref.id.slice(0, 8)} removed` : ` (tagged repaired; ${plan.ref.id.slice(0, 8)} is kept)`}`);
      },
    });
    reportSummary(out, plans, args, lostPacks);
    if (plans.some((p) => p.outcome === 'unrepairable')) process.exitCode = EXIT_ERROR;
  }, lock);
}

function reportPlan(out: Output, plan: RepairPlan, dryRun: boolean) {
  const short = plan.ref.id.slice(0, 8);
  if (plan.outcome === 'unchanged') {
    out.emit({ message_type: 'unchanged', snapshot_id: plan.ref.id });
    out.print(`snapshot ${short}: nothing missing, left as it is`);
  } else if (plan.outcome === 'unrepairable') {
    out.emit({ message_type: 'not_repairable', snapshot_id: plan.ref.id, kind: plan.ref.snapshot.kind, reason: plan.reason });
    out.warn(`error: snapshot ${short} cannot be repaired: ${plan.reason}`);
  } else {
    out.print(`snapshot ${short} of ${plan.ref.snapshot.paths.join(', ')} at ${plan.ref.snapshot.time}:`);
    for (const c of plan.changes) {
      out.emit({ message_type: 'changed', snapshot_id: plan.ref.id, dry_run: dryRun, ...snakeCase(c) });
      out.print(`  ${c.type} ${c.path}: ${describeChange(c, dryRun)}`);
    }
  }
}

function describeChange(c: RepairChange, dryRun: boolean): string {
  if (c.type === 'dir') {
    const why = c.reason === 'missing-tree' ? `its tree blob ${c.tree.slice(0, 16)} is missing` : `its tree blob ${c.tree.slice(0, 16)} cannot be read: ${c.detail}`;
    return `${dryRun ? 'would replace' : 'replaced'} with an empty directory (${why})`;
  }
  const kept = c.sizeAfter === 0 ? 'now empty' : `${formatBytes(c.sizeAfter)} of ${formatBytes(c.sizeBefore)} kept, the readable parts joined`;
  return `${dryRun ? 'would remove' : 'removed'} missing content (${c.missingBlobs} of ${c.blobs} blob${c.blobs === 1 ? '' : 's'} missing; ${kept})`;
}

function reportSummary(out: Output, plans: RepairPlan[], args: RepairSnapshotsArgs, lostPacks: number) {
  const done = plans.flatMap((p) => (p.outcome === 'repaired' ? [p] : []));
  const bad = plans.filter((p) => p.outcome === 'unrepairable');
  const changes = done.flatMap((p) => p.changes);
  const files = changes.filter((c) => c.type === 'file').length;
  const dirs = changes.filter((c) => c.type === 'dir').length;
  out.emit({
    message_type: 'summary',
    dry_run: args.dryRun,
    snapshots: plans.length,
    repaired: done.length,
    unchanged: plans.length - done.length - bad.length,
    not_repairable: bad.length,
    forgotten: args.forget && !args.dryRun ? done.length : 0,
    files_changed: files,
    dirs_emptied: dirs,
  });
  const verb = args.dryRun ? 'would repair' : 'repaired';
  out.print(
    done.length === 0
      ? `nothing to repair: ${plans.length - bad.length} of ${plans.length} snapshots reference no missing blob${bad.length ? `, ${bad.length} cannot be repaired` : ''}`
      : `${verb} ${done.length} of ${plans.length} snapshots (${plans.length - done.length - bad.length} unchanged, ${bad.length} not repairable): ${files} file${files === 1 ? '' : 's'} lost content, ${dirs} director${dirs === 1 ? 'y' : 'ies'} emptied`,
  );
  const forgetBad = bad.length ? `, remove the snapshots that cannot be repaired with \`cairn forget ${bad.map((p) => p.ref.id.slice(0, 8)).join(' ')}\`` : '';
  if (args.dryRun) {
    if (done.length) out.print(`dry run: nothing was written; run again without --dry-run to repair${lostPacks ? ', after `cairn repair index` (the index still lists packs that are gone)' : ''}`);
  } else if (done.length && !args.forget) {
    out.print(
      'the broken originals are kept: remove them with `cairn forget ' + done.map((p) => p.ref.id.slice(0, 8)).join(' ') +
        `\` (or repair with --forget next time)${forgetBad}, then run \`cairn check\` and then \`cairn prune\``,
    );
  } else if (done.length || bad.length) out.print(`${forgetBad ? `${forgetBad.slice(2)}, then ` : ''}run \`cairn check\` and then \`cairn prune\` to free what no snapshot uses any more`);
}

function snakeCase(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`), v]));
}
