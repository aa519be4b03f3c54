#!/usr/bin/env node
import { createRequire } from 'node:module';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands.js';
import { Output } from './output.js';
import { exitCodeFor, messageFor } from './exit-codes.js';
import { wasInterrupted } from './interrupt.js';
import { attachStdinDashes } from './stdin-dash.js';

// The AWS SDK warns on every run that its 2027 releases will need Node 22. That is
// news for whoever maintains cairn, not for its users; the SDK documents this variable
// to turn the warning off (aws/aws-sdk-js-v3#7983).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// A reader that stops early (`cairn ls latest | head`) closes the pipe. Stop quietly, as
// `cat` does, rather than die on an unhandled EPIPE with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(0);
});

let cli = yargs(attachStdinDashes(hideBin(process.argv)))
  .scriptName('cairn')
  .usage('$0 <command> [options]\n\nDeduplicating, encrypted backups of file trees and disk images.')
  .option('repo', { alias: 'r', type: 'string', describe: 'repository location (default: $CAIRN_REPOSITORY, else a repository under your data directory)' })
  .option('password-file', { alias: 'p', type: 'string', describe: 'read the password from this file (default: $CAIRN_PASSWORD_FILE)' })
  .option('password-command', { type: 'string', describe: 'run this shell command and use its output as the password (default: $CAIRN_PASSWORD_COMMAND)' })
  .option('json', { type: 'boolean', default: false, describe: 'line-delimited JSON output for scripts' })
  .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print only errors and results' })
  .option('cache-dir', { type: 'string', describe: 'local cache directory (default: $CAIRN_CACHE_DIR, else $XDG_CACHE_HOME/cairn)' })
  .option('connections', { type: 'number', default: 5, describe: 'concurrent uploads and downloads' })
  .option('s3-storage-class', { type: 'string', describe: 'S3 storage class for data packs (metadata stays STANDARD)' })
  .option('s3-endpoint', { type: 'string', describe: 'endpoint of an S3-compatible store' })
  .option('limit-upload', { type: 'string', describe: 'limit uploads to this many KiB/s (all connections together)' })
  .option('limit-download', { type: 'string', describe: 'limit downloads to this many KiB/s (all connections together)' })
  .option('retry-lock', { type: 'string', describe: 'when the repository is locked, keep trying this long (e.g. 30s, 10m)' })
  .strict()
  .demandCommand(1, 'name a command: `cairn --help` lists them')
  .recommendCommands()
  .help()
  .alias('h', 'help')
  // yargs is bundled with cairn (see package.json), so it cannot find its own files: its
  // package.json search would start from the working directory, and its translations are
  // not there. cairn's own messages are English, and now all of them are.
  .version(createRequire(import.meta.url)('../../package.json').version)
  .locale('en')
  .wrap(Math.min(110, process.stdout.columns || 100))
  .fail((msg, err, y) => {
    if (err) throw err;
    process.stderr.write(`${msg}\n\nRun \`cairn --help\` for usage.\n`);
    process.exit(1);
  });

for (const c of commands) cli = cli.command(c as never);
skipHelpCache(cli);

/**
 * yargs renders the whole help text of a command as it starts the command's handler, and
 * keeps it for a showHelp() from inside the handler, which cairn never calls: 20-35 ms of
 * every start, spent after a backup's handler has begun and before its walk can start.
 * `--help` and usage errors render their text as before. A yargs without this internal
 * hook simply keeps caching.
 */
function skipHelpCache(y: unknown) {
  type Internal = { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } };
  const usage = (y as Internal).getInternalMethods?.().getUsageInstance?.();
  if (usage?.cacheHelpMessage) usage.cacheHelpMessage = () => {};
}

try {
  await cli.parseAsync();
} catch (err) {
  // An interrupted command fails while its cleanup runs; the cleanup reports and exits.
  if (!wasInterrupted()) {
    const argv = process.argv;
    const out = new Output(argv.includes('--json'), false);
    out.warn(messageFor(err));
    process.exitCode = exitCodeFor(err);
  }
}
