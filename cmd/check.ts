import type { ArgumentsCamelCase, Argv } from 'yargs';
import type { Problem, ReadDataSubset } from '../repo/check.js';
import { GlobalArgs } from './context.js';
import { EXIT_ERROR } from './exit-codes.js';
import { formatBytes } from './output.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

export const command = 'check';
export const describe = 'verify the repository; name the snapshots and files any problem affects';
export const builder = (y: Argv) =>
  y
    .option('read-data', { type: 'boolean', default: false, describe: 'also download every pack and verify every blob' })
    .option('read-data-subset', { type: 'string', describe: 'verify the blobs of a part of the packs: N% (chosen at random) or n/t (group n of t)' });

interface Args extends GlobalArgs {
  readData: boolean;
  readDataSubset?: string;
}

/** Paths listed per snapshot in text output; --json lists all. */
const SHOW_PATHS = 10;

export async function handler(args: ArgumentsCamelCase<Args>) {
  const { check, parseReadDataSubset } = await import('../repo/check.js');
  let readData: ReadDataSubset | undefined;
  try {
    readData = args.readDataSubset ? parseReadDataSubset(args.readDataSubset) : args.readData ? { all: true } : undefined;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  await withRepository(args, async (repo, out) => {
    const started = Date.now();
    const r = await check(repo, {
      readData,
      onProgress: (p) => out.status(`read ${p.packsRead}/${p.packsToRead} packs, ${formatBytes(p.bytesRead)}`),
    });
    out.clearStatus();
    for (const p of r.problems) {
      out.emit({ message_type: 'problem', ...p });
      out.print(formatProblem(p));
    }
    out.emit({ message_type: 'summary', errors: r.errors, warnings: r.warnings, snapshots: r.snapshots, packs: r.packs, packs_read: r.packsRead, trees: r.trees, seconds: (Date.now() - started) / 1000 });
    const read = readData ? `, read and verified ${r.packsRead} of ${r.packs} packs` : '';
    out.print(`checked ${r.snapshots} snapshots, ${r.trees} trees, ${r.packs} packs${read}: ${r.errors === 0 ? 'no errors' : `${r.errors} error${r.errors === 1 ? '' : 's'}`}${r.warnings ? `, ${r.warnings} warning${r.warnings === 1 ? '' : 's'}` : ''}`);
    if (r.errors > 0) process.exitCode = EXIT_ERROR;
  }, 'shared', { onIndexError: () => {} }); // check reports damaged index files itself
}

export function formatProblem(p: Problem): string {
  const lines = [`${p.severity}: ${p.object} ${p.message}`];
  for (const a of p.affects) {
    const shown = a.paths.slice(0, SHOW_PATHS).join(', ');
    const more = a.paths.length > SHOW_PATHS ? ` and ${a.paths.length - SHOW_PATHS} more` : '';
    lines.push(`  affects snapshot ${a.snapshot.slice(0, 8)}: ${shown}${more}`);
  }
  return lines.join('\n');
}
