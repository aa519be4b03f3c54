import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { reportBackup, reportProgress } from './backup-report.js';
import type { StdinBackupArgs } from './backup-stdin.js';
import { readArgFile } from './arg-file.js';
import { GlobalArgs, repeatable } from './context.js';
import { parseFilesFrom } from './files-from.js';
import { parseSize } from './parse-size.js';
import { passwordGivenWithoutPrompt } from './password.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

export const command = 'backup [paths..]';
export const describe = 'back up files and directories';

export const builder = (y: Argv) =>
  y
    // Words after `--` are kept apart, as strings: a command's arguments (--stdin-from-command), or paths that start with "-".
    .parserConfiguration({ 'populate--': true })
    .positional('paths', { type: 'string', array: true, describe: 'files and directories to back up (with --stdin-from-command: the command and its arguments)' })
    .option('files-from', repeatable('read the paths to back up from a file, one per line ("-": stdin; # starts a comment)'))
    .option('files-from-raw', repeatable('read the paths to back up from a file, separated by NUL bytes (find -print0)'))
    .option('exclude', { ...repeatable('exclude paths matching this pattern (repeatable)'), alias: 'e' })
    .option('exclude-file', repeatable('read exclude patterns from a file'))
    .option('iexclude', repeatable('like --exclude, ignoring the case of letters (repeatable)'))
    .option('iexclude-file', repeatable('like --exclude-file, ignoring the case of letters'))
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
    .option('used-only', { type: 'boolean', default: false, describe: 'with --image: store only the blocks the file systems mark in use' })
    .option('skip-if-unchanged', { type: 'boolean', default: false, describe: 'save no snapshot when nothing changed since the parent snapshot (for frequent backups)' })
    .option('dry-run', { alias: 'n', type: 'boolean', default: false, describe: 'read, chunk and compress as a backup would, and say what it would add, but write nothing' })
    .option('stdin', { type: 'boolean', default: false, describe: 'back up what is read from standard input, as one file' })
    .option('stdin-filename', { type: 'string', describe: 'with --stdin or --stdin-from-command: the name of that file (default: stdin)' })
    .option('stdin-from-command', { type: 'boolean', default: false, describe: 'run the command given after `--` (no shell) and back up its output, as one file; no snapshot unless it exits 0' });

interface BackupArgs extends GlobalArgs {
  paths?: string[];
  filesFrom: string[];
  filesFromRaw: string[];
  exclude: string[];
  excludeFile: string[];
  iexclude: string[];
  iexcludeFile: string[];
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
  dryRun: boolean;
  skipIfUnchanged: boolean;
  stdin: boolean;
  stdinFilename?: string;
  stdinFromCommand: boolean;
  '--'?: string[];
}

export async function handler(args: ArgumentsCamelCase<BackupArgs>) {
  const given = [...(args.paths ?? []), ...(args['--'] ?? [])];
  if (args.stdin || args.stdinFromCommand) {
    const { backupStdinCommand } = await import('./backup-stdin.js');
    return backupStdinCommand(args, stdinBackupArgs(args, given));
  }
  if (args.stdinFilename !== undefined) throw new UsageError('--stdin-filename names the file of --stdin or --stdin-from-command');
  if (args.image !== undefined) {
    if (given.length || args.filesFrom.length || args.filesFromRaw.length) throw new UsageError('--image backs up one image; give no other paths');
    if (args.skipIfUnchanged) throw new UsageError('--skip-if-unchanged is for file backups: an image file whose size, times and inode are unchanged is already not read again');
    const { backupImageCommand } = await import('./backup-image.js');
    return backupImageCommand(args, { source: args.image, plain: args.plain, usedOnly: args.usedOnly, tags: args.tag, host: args.host, time: args.time ? parseTime(args.time) : undefined, parent: args.parent, force: args.force, dryRun: args.dryRun });
  }
  if (args.plain || args.usedOnly) throw new UsageError('--plain and --used-only go with --image SOURCE');
  const paths = given;
  for (const f of args.filesFrom) paths.push(...parseFilesFrom(await readArgFile(f, '--files-from'), false));
  for (const f of args.filesFromRaw) paths.push(...parseFilesFrom(await readArgFile(f, '--files-from-raw'), true));
  if (!paths.length) {
    const listed = args.filesFrom.length + args.filesFromRaw.length > 0;
    throw new UsageError(listed ? 'the --files-from files name no paths: list one file or directory per line' : 'name at least one file or directory to back up, e.g. `cairn backup ~/Documents`');
  }
  const excludes = [...args.exclude];
  for (const f of args.excludeFile) excludes.push(...(await readArgFile(f, '--exclude-file')).split('\n'));
  const iexcludes = [...args.iexclude];
  for (const f of args.iexcludeFile) iexcludes.push(...(await readArgFile(f, '--iexclude-file')).split('\n'));
  for (const p of paths) {
    await fs.lstat(p).catch(() => {
      throw new UsageError(`${p} does not exist: check the path`);
    });
  }
  const maxFileSize = args.excludeLargerThan !== undefined ? parseSize(args.excludeLargerThan, '--exclude-larger-than') : undefined;
  const time = args.time ? parseTime(args.time) : undefined;
  // The walk of the source needs no repository, so it starts as soon as the key is
  // derived. Not before: beside the derivation's 64 MiB, its threads made the peak memory
  // of an unchanged backup of the bench tree 156-160 MiB instead of 140-143, in the same
  // time (five runs each).
  const { PreparedBackup } = await import('../repo/archiver.js');
  let prepared: InstanceType<typeof PreparedBackup> | undefined;
  const startWalk = () => (prepared ??= new PreparedBackup({ paths, excludes, iexcludes, excludeCaches: args.excludeCaches, oneFileSystem: args.oneFileSystem, maxFileSize }));
  try {
    await withRepository(args, async (repo, out) => {
      repo.dryRun = args.dryRun;
      const started = Date.now();
      const result = await startWalk().run(repo, {
        tags: tagList(args.tag),
        host: args.host,
        parent: args.force ? null : args.parent,
        time,
        scanTotals: out.showProgress || out.json,
        skipIfUnchanged: args.skipIfUnchanged,
        onProgress: reportProgress(out, started),
        onFileError: (p, err) => {
          out.warn(`warning: cannot read ${p}: ${err.message} (skipped)`);
        },
      });
      reportBackup(out, repo, result);
    }, 'shared', { afterKeyDerived: startWalk });
  } finally {
    // Also when the repository did not open after the key (a damaged config, say): a walk
    // left running would keep the process alive.
    await prepared?.cancel();
  }
}

/** Flags that choose or filter files, which a backup of one stream has none of. */
function fileFlags(args: BackupArgs): string[] {
  const set: [string, boolean][] = [
    ['--files-from', args.filesFrom.length > 0],
    ['--files-from-raw', args.filesFromRaw.length > 0],
    ['--exclude', args.exclude.length > 0],
    ['--exclude-file', args.excludeFile.length > 0],
    ['--iexclude', args.iexclude.length > 0],
    ['--iexclude-file', args.iexcludeFile.length > 0],
    ['--exclude-larger-than', args.excludeLargerThan !== undefined],
    ['--exclude-caches', args.excludeCaches],
    ['--one-file-system', args.oneFileSystem],
    ['--image', args.image !== undefined],
    ['--plain', args.plain],
    ['--used-only', args.usedOnly],
  ];
  return set.filter(([, on]) => on).map(([flag]) => flag);
}

/** `given`: the positional words, the command's with --stdin-from-command (which wins over --stdin, as in restic). */
function stdinBackupArgs(args: BackupArgs, given: string[]): StdinBackupArgs {
  const flag = args.stdinFromCommand ? '--stdin-from-command' : '--stdin';
  const clash = fileFlags(args);
  if (clash.length) throw new UsageError(`${clash.join(', ')} cannot be used with ${flag}, which backs up one stream, not files`);
  if (args.stdinFromCommand && !given.length) throw new UsageError('--stdin-from-command needs a command to run, e.g. `cairn backup --stdin-from-command --stdin-filename db.sql -- pg_dump mydb`');
  if (!args.stdinFromCommand && given.length) throw new UsageError('--stdin backs up standard input and takes no paths (to back up what a command writes, use --stdin-from-command -- COMMAND ARGS...)');
  if (!args.stdinFromCommand && !passwordGivenWithoutPrompt(args)) {
    throw new UsageError('--stdin reads the data from standard input, so the password cannot come from there: use --password-file, --password-command, CAIRN_PASSWORD_FILE, CAIRN_PASSWORD_COMMAND or CAIRN_PASSWORD');
  }
  const name = args.stdinFilename ?? 'stdin';
  // Inside the snapshot, as restic does: "db.sql" is /db.sql, "dumps/db.sql" is /dumps/db.sql.
  const file = path.posix.resolve('/', name);
  if (file === '/') throw new UsageError(`--stdin-filename ${JSON.stringify(name)} does not name a file`);
  return {
    path: file,
    command: args.stdinFromCommand ? given : undefined,
    tags: tagList(args.tag),
    host: args.host,
    time: args.time ? parseTime(args.time) : undefined,
    parent: args.force ? null : args.parent,
    dryRun: args.dryRun,
    skipIfUnchanged: args.skipIfUnchanged,
  };
}

/** `--tag a,b --tag c`: a, b and c. */
function tagList(tag: string[]): string[] {
  return tag.flatMap((t) => t.split(',')).filter(Boolean);
}

function parseTime(s: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(s.trim());
  if (!m) throw new UsageError(`--time takes "YYYY-MM-DD HH:MM:SS", not ${JSON.stringify(s)}`);
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0));
  if (Number.isNaN(d.getTime())) throw new UsageError(`--time ${s} is not a valid time`);
  return d;
}
