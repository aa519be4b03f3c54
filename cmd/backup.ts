import { promises as fs } from 'node:fs';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { GlobalArgs, repeatable } from './context.js';
import { EXIT_PARTIAL } from './exit-codes.js';
import { parseFilesFrom } from './files-from.js';
import { parseSize } from './parse-size.js';
import { formatBytes, progressLine } from './output.js';
import { retrySummaryFields, retrySummaryLine } from './retry-report.js';
import { withRepository } from './run.js';
import { trimMallocPeriodically } from './malloc-tuning.js';
import { UsageError } from './usage-error.js';

export const command = 'backup [paths..]';
export const describe = 'back up files and directories';

export const builder = (y: Argv) =>
  y
    .positional('paths', { type: 'string', array: true, describe: 'files and directories to back up' })
    .option('files-from', repeatable('read the paths to back up from a file, one per line ("-": stdin; # starts a comment)'))
    .option('files-from-raw', repeatable('read the paths to back up from a file, separated by NUL bytes (find -print0)'))
    .option('exclude', { ...repeatable('exclude paths matching this pattern (repeatable)'), alias: 'e' })
    .option('exclude-file', repeatable('read exclude patterns from a file'))
    .option('exclude-larger-than', { type: 'string', describe: 'leave out files larger than this size (e.g. 1G, 500M; files named as paths are kept)' })
    .option('exclude-caches', { type: 'boolean', default: false, describe: 'exclude directories tagged with CACHEDIR.TAG' })
    .option('one-file-system', { alias: 'x', type: 'boolean', default: false, describe: 'do not cross file system boundaries' })
    .option('tag', repeatable('add a tag to the snapshot (repeatable)'))
    .option('host', { type: 'string', describe: 'host name to record (default: this machine)' })
    .option('parent', { type: 'string', describe: 'compare with this snapshot instead of the latest one of the same host and paths' })
    .option('force', { type: 'boolean', default: false, describe: 're-read every file, ignoring the parent snapshot' })
    .option('time', { type: 'string', describe: 'snapshot time "YYYY-MM-DD HH:MM:SS" (default: now)' })
    .option('image', { type: 'string', describe: 'back up a disk image file or block device instead of files' })
    .option('plain', { type: 'boolean', default: false, describe: 'with --image: chunk the raw bytes, even where a file system is recognized' })
    .option('used-only', { type: 'boolean', default: false, describe: 'with --image: store only the blocks the file systems mark in use' });

interface BackupArgs extends GlobalArgs {
  paths?: string[];
  filesFrom: string[];
  filesFromRaw: string[];
  exclude: string[];
  excludeFile: string[];
  excludeLargerThan?: string;
  excludeCaches: boolean;
  oneFileSystem: boolean;
  tag: string[];
  host?: string;
  parent?: string;
  force: boolean;
  time?: string;
  image?: string;
  plain: boolean;
  usedOnly: boolean;
}

export async function handler(args: ArgumentsCamelCase<BackupArgs>) {
  if (args.image !== undefined) {
    if (args.paths?.length || args.filesFrom.length || args.filesFromRaw.length) throw new UsageError('--image backs up one image; give no other paths');
    const { backupImageCommand } = await import('./backup-image.js');
    return backupImageCommand(args, { source: args.image, plain: args.plain, usedOnly: args.usedOnly, tags: args.tag, host: args.host, time: args.time ? parseTime(args.time) : undefined, parent: args.parent, force: args.force });
  }
  if (args.plain || args.usedOnly) throw new UsageError('--plain and --used-only go with --image SOURCE');
  const paths = [...(args.paths ?? [])];
  for (const f of args.filesFrom) paths.push(...parseFilesFrom(await readArgFile(f, '--files-from'), false));
  for (const f of args.filesFromRaw) paths.push(...parseFilesFrom(await readArgFile(f, '--files-from-raw'), true));
  if (!paths.length) {
    const listed = args.filesFrom.length + args.filesFromRaw.length > 0;
    throw new UsageError(listed ? 'the --files-from files name no paths: list one file or directory per line' : 'name at least one file or directory to back up, e.g. `cairn backup ~/Documents`');
  }
  const excludes = [...args.exclude];
  for (const f of args.excludeFile) excludes.push(...(await readArgFile(f, '--exclude-file')).split('\n'));
  for (const p of paths) {
    await fs.lstat(p).catch(() => {
      throw new UsageError(`${p} does not exist: check the path`);
    });
  }
  const maxFileSize = args.excludeLargerThan !== undefined ? parseSize(args.excludeLargerThan, '--exclude-larger-than') : undefined;
  const time = args.time ? parseTime(args.time) : undefined;
  // The walk of the source needs no repository, so it runs while the key is derived.
  const { PreparedBackup } = await import('../repo/archiver.js');
  const prepared = new PreparedBackup({ paths, excludes, excludeCaches: args.excludeCaches, oneFileSystem: args.oneFileSystem, maxFileSize });
  try {
    await withRepository(args, async (repo, out) => {
      const started = Date.now();
      const stopTrimming = trimMallocPeriodically();
      const result = await prepared.run(repo, {
        tags: args.tag.flatMap((t) => t.split(',')).filter(Boolean),
        host: args.host,
        parent: args.force ? null : args.parent,
        time,
        scanTotals: out.showProgress || out.json,
        onProgress: (p) => {
          out.status(progressLine(started, p.files, p.bytes, p.totalFiles, p.totalBytes) + `, added ${formatBytes(p.addedBytes)}`);
          out.emit({ message_type: 'status', seconds_elapsed: (Date.now() - started) / 1000, files_done: p.files, bytes_done: p.bytes, total_files: p.totalFiles, total_bytes: p.totalBytes, bytes_added: p.addedBytes, errors: p.errors });
        },
        onFileError: (p, err) => {
          out.warn(`warning: cannot read ${p}: ${err.message} (skipped)`);
        },
      }).finally(stopTrimming);
      const s = result.snapshot.summary!;
      out.clearStatus();
      out.emit({
        message_type: 'summary',
        snapshot_id: result.id,
        files_new: s.filesNew,
        files_changed: s.filesChanged,
        files_unmodified: s.filesUnchanged,
        dirs: s.dirs,
        total_files_processed: s.totalFiles,
        total_bytes_processed: s.totalBytes,
        data_added: s.addedBytes,
        data_added_raw: s.addedRawBytes,
        errors: s.errors,
        total_duration: s.durationSeconds,
        ...retrySummaryFields(repo.backend),
      });
      out.print(`Files: ${s.filesNew} new, ${s.filesChanged} changed, ${s.filesUnchanged} unchanged`);
      out.print(`Added to the repository: ${formatBytes(s.addedBytes)} (${formatBytes(s.addedRawBytes)} before compression)`);
      out.print(`Processed ${s.totalFiles} files, ${formatBytes(s.totalBytes)} in ${s.durationSeconds.toFixed(1)}s`);
      const retried = retrySummaryLine(repo.backend);
      if (retried) out.print(retried);
      out.print(`snapshot ${result.id.slice(0, 8)} saved`);
      if (s.errors > 0) {
        out.warn(`${s.errors} files or directories could not be read and are missing from the snapshot (see the warnings above)`);
        process.exitCode = EXIT_PARTIAL;
      }
    }, 'shared');
  } finally {
    // Also when the repository did not open (a wrong password, say): a walk left running
    // would keep the process alive.
    await prepared.cancel();
  }
}

/** A file named by a flag; "-" is stdin. */
async function readArgFile(f: string, flag: string): Promise<string> {
  try {
    if (f !== '-') return await fs.readFile(f, 'utf8');
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${flag} ${f}: ${(e as Error).message}`);
  }
}

function parseTime(s: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(s.trim());
  if (!m) throw new UsageError(`--time takes "YYYY-MM-DD HH:MM:SS", not ${JSON.stringify(s)}`);
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0));
  if (Number.isNaN(d.getTime())) throw new UsageError(`--time ${s} is not a valid time`);
  return d;
}
