/** `cairn backup --stdin` and `--stdin-from-command`: one stream, stored as one file. */
import { backupStream } from '../repo/stream-backup.js';
import { reportBackup, reportProgress } from './backup-report.js';
import { commandOutput } from './command-output.js';
import { GlobalArgs } from './context.js';
import { withRepository } from './run.js';

export interface StdinBackupArgs {
  /** The file's absolute path in the snapshot. */
  path: string;
  /** With --stdin-from-command: the command and its arguments; else stdin is read. */
  command?: string[];
  tags: string[];
  host?: string;
  time?: Date;
  parent?: string | null;
  dryRun: boolean;
  skipIfUnchanged: boolean;
}

export async function backupStdinCommand(g: GlobalArgs, a: StdinBackupArgs): Promise<void> {
  await withRepository(g, async (repo, out) => {
    repo.dryRun = a.dryRun;
    const started = Date.now();
    // The command starts at the first read, with the repository open: a password asked for
    // on the terminal comes before any prompt of the command's.
    const source = a.command ? commandOutput(a.command) : process.stdin;
    const result = await backupStream(repo, source, { path: a.path, tags: a.tags, host: a.host, time: a.time, parent: a.parent, skipIfUnchanged: a.skipIfUnchanged, onProgress: reportProgress(out, started) });
    reportBackup(out, repo, result);
  }, 'shared');
}
