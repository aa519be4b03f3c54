import type { ArgumentsCamelCase, Argv } from 'yargs';
import type { CopyProgress } from '../repo/copy.js';
import { selectSnapshots, SnapshotFilter } from '../repo/snapshot-select.js';
import { GlobalArgs, snapshotFilterOptions } from './context.js';
import { FromRepoArgs, fromRepoOptions, openSourceRepository } from './from-repo.js';
import { formatBytes, formatDuration, Output } from './output.js';
import { retrySummaryFields } from './retry-report.js';
import { withOpened, withRepository } from './run.js';

export const command = 'copy [snapshots..]';
export const describe = 'copy snapshots (the named ones, else all that match --host/--tag/--path) from --from-repo into --repo';
export const builder = (y: Argv) =>
  y
    .positional('snapshots', { type: 'string', array: true, describe: 'source snapshots: ids, id prefixes or `latest`' })
    .options(fromRepoOptions)
    .options(snapshotFilterOptions)
    .epilog(
      'Into a destination made by `cairn init --from-repo SOURCE` trees are copied as they are; into any other, each chunk gets ' +
        'the destination\'s id and the trees that name it are written again (files unchanged since an earlier copy are not read again). ' +
        'Snapshots the destination already holds a copy of are skipped, so an interrupted copy can simply be run again.',
    );

interface Args extends GlobalArgs, FromRepoArgs {
  snapshots?: string[];
  host?: string;
  tag: string[];
  path: string[];
}

/** Milliseconds between --json status lines (the TTY line is redrawn more often). */
const JSON_STATUS_MS = 1000;
const TTY_STATUS_MS = 200;

export async function handler(args: ArgumentsCamelCase<Args>) {
  const filter: SnapshotFilter = { host: args.host, tags: args.tag, paths: args.path };
  const { copySnapshots } = await import('../repo/copy.js');
  await withRepository(args, async (dst, out) => {
    const src = await openSourceRepository(args, out, { syncIndex: false });
    await withOpened(src, args, out, async () => {
      const started = Date.now();
      const refs = await selectSnapshots(src, args.snapshots ?? [], filter, (e) => out.warn(`warning: ${e.message} (not copied)`));
      const stats = await copySnapshots(src, dst, refs, {
        onSkipped: (ref, copy) => {
          out.emit({ message_type: 'skipped', source_id: ref.id, copy_id: copy.id });
          out.info(`snapshot ${ref.id.slice(0, 8)} was copied before, as ${copy.id.slice(0, 8)}`);
        },
        onCopied: (ref, id, added) => {
          out.emit({ message_type: 'copied', source_id: ref.id, id, blobs_added: added.blobs, data_added: added.storedBytes });
          out.info(`snapshot ${ref.id.slice(0, 8)} copied as ${id.slice(0, 8)} (${added.blobs} new blobs, ${formatBytes(added.storedBytes)})`);
        },
        onProgress: statusReporter(out, started),
        onDamagedSnapshot: (err) => out.warn(`warning: ${err.message} (ignored: its source snapshot may be copied again)`),
      });
      out.clearStatus();
      const seconds = (Date.now() - started) / 1000;
      out.emit({
        message_type: 'summary',
        snapshots_copied: stats.copied,
        snapshots_skipped: stats.skipped,
        blobs_copied: stats.blobs,
        data_added: stats.storedBytes,
        data_added_raw: stats.rawBytes,
        total_duration: seconds,
        ...retrySummaryFields(dst.backend),
      });
      out.print(`copied ${stats.copied} snapshots, skipped ${stats.skipped} already copied`);
      out.print(`added ${stats.blobs} blobs, ${formatBytes(stats.storedBytes)} (${formatBytes(stats.rawBytes)} before compression) in ${formatDuration(seconds)}`);
    }, 'shared', true);
  }, 'shared');
}


function statusReporter(out: Output, started: number): (p: CopyProgress) => void {
  let lastJson = 0;
  let lastTty = 0;
  return (p) => {
    const now = Date.now();
    const last = p.blobsDone === p.blobsTotal;
    if (out.json && (last || now - lastJson >= JSON_STATUS_MS)) {
      lastJson = now;
      out.emit({ message_type: 'status', seconds_elapsed: (now - started) / 1000, snapshot: p.snapshot, total_snapshots: p.snapshots, snapshot_id: p.id, blobs_done: p.blobsDone, total_blobs: p.blobsTotal, data_added: p.bytesCopied });
    }
    if (out.showProgress && (last || now - lastTty >= TTY_STATUS_MS)) {
      lastTty = now;
      out.status(`[${formatDuration((now - started) / 1000)}] snapshot ${p.snapshot}/${p.snapshots} ${p.id.slice(0, 8)}: blobs ${p.blobsDone}/${p.blobsTotal}, added ${formatBytes(p.bytesCopied)}`);
    }
  };
}
