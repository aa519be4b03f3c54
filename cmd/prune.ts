import type { ArgumentsCamelCase, Argv } from 'yargs';
import { LockHandle } from '../repo/lock.js';
import type { PruneStats } from '../repo/prune.js';
import { Repository } from '../repo/repository.js';
import { GlobalArgs } from './context.js';
import { formatBytes, Output } from './output.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

export const command = 'prune';
export const describe = 'remove data that no snapshot references (takes an exclusive lock)';
export const builder = (y: Argv) => y.options(pruneOptions);

export const pruneOptions = {
  'max-unused': { type: 'string', default: '5%', describe: 'repack packs in which more than this share is unused' },
  'dry-run': { alias: 'n', type: 'boolean', default: false, describe: 'only say what would be removed' },
} as const;

interface Args extends GlobalArgs {
  maxUnused: string;
  dryRun: boolean;
}

export function parseMaxUnused(s: string): number {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(s.trim());
  if (!m || Number(m[1]) > 100) throw new UsageError(`--max-unused takes a percentage like 5%, not ${JSON.stringify(s)}`);
  return Number(m[1]) / 100;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  const maxUnused = parseMaxUnused(args.maxUnused);
  await withRepository(args, (repo, out, lock) => runPrune(repo, out, lock, maxUnused, args.dryRun), 'exclusive');
}

export async function runPrune(repo: Repository, out: Output, lock: LockHandle | undefined, maxUnused: number, dryRun: boolean): Promise<PruneStats> {
  const { prune } = await import('../repo/prune.js');
  const stats = await prune(repo, {
    maxUnused,
    dryRun,
    lock,
    onStep: (step) => {
      out.emit({ message_type: 'prune_step', step });
      out.status(`prune: ${step}`);
    },
  });
  out.clearStatus();
  out.emit({ message_type: 'prune_summary', dry_run: dryRun, ...snakeCase(stats) });
  const would = dryRun ? 'would ' : '';
  out.print(`${stats.snapshots} snapshots use ${stats.usedBlobs} blobs; ${stats.unusedBlobs} blobs (${formatBytes(stats.unusedBytes)}) are unused`);
  out.print(`${would}delete ${stats.deletePacks} unused packs (${formatBytes(stats.deleteBytes)}), ${would}repack ${stats.repackPacks} packs (${formatBytes(stats.repackBytes)})` +
    `, ${would}delete ${stats.unreferencedPacks} packs that no index lists (${formatBytes(stats.unreferencedBytes)})`);
  if (stats.leftoverFiles > 0) {
    out.print(`${would}remove ${stats.leftoverFiles} temporary files that interrupted backups left (${formatBytes(stats.leftoverBytes)})`);
  }
  out.print(`${dryRun ? 'would free about' : 'freed'} ${formatBytes(stats.bytesFreed)} of ${formatBytes(stats.totalBytes)}`);
  return stats;
}

function snakeCase(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]));
}
