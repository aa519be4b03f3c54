import type { ArgumentsCamelCase, Argv } from 'yargs';
import { resolveSnapshot, splitSnapshotArg } from '../repo/snapshot-select.js';
import { GlobalArgs, repeatable, repositoryLocation } from './context.js';
import { EXIT_ERROR } from './exit-codes.js';
import { formatBytes, progressLine } from './output.js';
import { retrySummaryFields, retrySummaryLine } from './retry-report.js';
import { withRepository } from './run.js';
import { restoreImageCommand } from './restore-image.js';
import { UsageError } from './usage-error.js';
import { OVERWRITE_POLICIES, type OverwritePolicy } from '../repo/overwrite-policy.js';

export const command = 'restore <snapshot>';
export const describe = 'restore a snapshot, or SNAPSHOT:/sub/path, into a directory';
export const builder = (y: Argv) =>
  y
    .positional('snapshot', { type: 'string', describe: 'snapshot id, prefix, or latest; optionally :/sub/path' })
    .option('target', { alias: 't', type: 'string', demandOption: 'name a directory to restore into with --target DIR', describe: 'directory to restore into (with --image: an image file or block device)' })
    .option('image', { type: 'boolean', default: false, describe: 'write an image snapshot back as a whole image' })
    .option('include', { ...repeatable('restore only paths matching this pattern'), alias: 'i' })
    .option('exclude', { ...repeatable('do not restore paths matching this pattern'), alias: 'e' })
    .option('iinclude', repeatable('like --include, ignoring the case of letters'))
    .option('iexclude', repeatable('like --exclude, ignoring the case of letters'))
    .option('verify', { type: 'boolean', default: false, describe: 're-read restored files and compare them with the snapshot' })
    .option('overwrite', {
      choices: OVERWRITE_POLICIES,
      default: 'always' as OverwritePolicy,
      describe: 'files already in the target: always replace them; if-changed: only where size or mtime differ from the snapshot; if-newer: only where the snapshot is newer; never',
    })
    .option('delete', { type: 'boolean', default: false, describe: 'also remove what the target holds beyond the snapshot, so it ends up as the snapshot was' });

interface Args extends GlobalArgs {
  snapshot: string;
  target: string;
  include: string[];
  exclude: string[];
  iinclude: string[];
  iexclude: string[];
  verify: boolean;
  image: boolean;
  overwrite: OverwritePolicy;
  delete: boolean;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  const { snapshot, subpath } = splitSnapshotArg(args.snapshot);
  const patterns = [args.include, args.exclude, args.iinclude, args.iexclude].some((p) => p.length > 0);
  if (args.image) {
    if (subpath !== '/' || patterns || args.delete || args.overwrite !== 'always') {
      throw new UsageError('--image restores the whole image: drop the :/path, --include, --exclude (and their --i forms), --delete and --overwrite, or drop --image to restore files');
    }
    return restoreImageCommand(args, snapshot);
  }
  if (args.delete && patterns) {
    throw new UsageError('--delete makes the target what the snapshot holds: it cannot be combined with --include or --exclude (or their --i forms; restore a sub-directory with SNAPSHOT:/path instead)');
  }
  await withRepository(
    args,
    async (repo, out) => {
      const ref = await resolveSnapshot(repo, snapshot);
      const started = Date.now();
      out.info(`restoring snapshot ${ref.id.slice(0, 8)} of ${ref.snapshot.paths.join(' ')} at ${ref.snapshot.time}${subpath !== '/' ? ` (${subpath})` : ''} to ${args.target}`);
      const { restore } = await import('../repo/restorer.js');
      const { hasCheapReads } = await import('../backends/open.js');
      const p = await restore(repo, ref.snapshot.tree, {
        target: args.target,
        subpath,
        include: args.include,
        exclude: args.exclude,
        iinclude: args.iinclude,
        iexclude: args.iexclude,
        verify: args.verify,
        overwrite: args.overwrite,
        delete: args.delete,
        connections: args.connections,
        cheapReads: hasCheapReads(repositoryLocation(args).location),
        // Only when someone sees it: the totals take a walk of the snapshot of their own.
        onProgress:
          out.showProgress || out.json
            ? (p) => {
                out.status(progressLine(started, p.files + p.skipped, p.bytes + p.skippedBytes, p.totalFiles, p.totalBytes));
                out.emit({ message_type: 'status', seconds_elapsed: (Date.now() - started) / 1000, files_restored: p.files, total_files: p.totalFiles, bytes_restored: p.bytes, total_bytes: p.totalBytes, errors: p.errors });
              }
            : undefined,
        onFileError: (path, err) => out.warn(`error: cannot restore ${path}: ${err.message}`),
      });
      out.clearStatus();
      const seconds = (Date.now() - started) / 1000;
      out.emit({ message_type: 'summary', snapshot_id: ref.id, files_restored: p.files, bytes_restored: p.bytes, files_skipped: p.skipped, entries_deleted: args.delete ? p.deleted : undefined, errors: p.errors, verified: args.verify ? p.verified : undefined, total_duration: seconds, ...retrySummaryFields(repo.backend) });
      const retried = retrySummaryLine(repo.backend);
      if (retried) out.print(retried);
      const skipped = p.skipped ? `; left ${p.skipped} as they were (--overwrite ${args.overwrite})` : '';
      const deleted = args.delete ? `; deleted ${p.deleted} entries not in the snapshot` : '';
      out.print(`restored ${p.files} files, ${formatBytes(p.bytes)} in ${seconds.toFixed(1)}s${skipped}${deleted}${args.verify ? `; verified ${p.verified} files` : ''}`);
      if (p.errors > 0) {
        out.warn(`${p.errors} files could not be restored (see the errors above); everything else was restored`);
        process.exitCode = EXIT_ERROR;
      }
    },
    'none',
    // The workers start while the key is derived; see startRestoreWorkers.
    { whileDeriving: () => void import('../repo/content-restorer.js').then((m) => m.startRestoreWorkers(), () => {}) },
  );
}
