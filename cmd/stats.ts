import type { ArgumentsCamelCase, Argv } from 'yargs';
import { resolveSnapshot } from '../repo/snapshot-select.js';
import { SnapshotRef } from '../repo/snapshot.js';
import { collectStats } from '../repo/stats.js';
import { GlobalArgs } from './context.js';
import { formatBytes } from './output.js';
import { withRepository } from './run.js';

export const command = 'stats [snapshots..]';
export const describe = 'sizes of snapshots (all by default), with deduplication and compression ratios';
export const builder = (y: Argv) =>
  y
    .positional('snapshots', { type: 'string', array: true, describe: 'snapshot ids, prefixes or latest' })
    .option('mode', { choices: ['restore-size', 'raw-data'] as const, default: 'restore-size' as const, describe: 'what a restore writes, or the unique blobs stored' });

interface Args extends GlobalArgs {
  snapshots?: string[];
  mode: 'restore-size' | 'raw-data';
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  await withRepository(args, async (repo, out) => {
    let refs: SnapshotRef[];
    if (args.snapshots?.length) {
      refs = [];
      for (const q of args.snapshots) refs.push(await resolveSnapshot(repo, q));
    } else refs = await repo.listSnapshots((e) => out.warn(`warning: ${e.message}`));
    const s = await collectStats(repo, refs);
    out.emit({
      message_type: 'stats', mode: args.mode, snapshots: s.snapshots, total_file_count: s.files, total_restore_size: s.restoreSize,
      total_blob_count: s.blobs, total_raw_size: s.rawSize, total_stored_size: s.storedSize, dedup_ratio: s.dedupRatio, compression_ratio: s.compressionRatio,
    });
    out.print(`Snapshots: ${s.snapshots}`);
    if (args.mode === 'restore-size') {
      out.print(`Total file count: ${s.files}`);
      out.print(`Total restore size: ${formatBytes(s.restoreSize)}`);
    } else {
      out.print(`Total blob count: ${s.blobs} (${s.treeBlobs} trees)`);
      out.print(`Total uncompressed size: ${formatBytes(s.rawSize)}`);
      out.print(`Total stored size: ${formatBytes(s.storedSize)}`);
    }
    out.print(`Deduplication ratio: ${s.dedupRatio.toFixed(2)}x`);
    out.print(`Compression ratio: ${s.compressionRatio.toFixed(2)}x`);
  });
}
