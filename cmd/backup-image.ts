/** `cairn backup --image SOURCE`: the image half of the backup command. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { openFileSource } from '../disk/file-source.js';
import { backupImage } from '../repo/image-backup.js';
import type { ImageInfo } from '../repo/image-snapshot.js';
import { GlobalArgs } from './context.js';
import { EXIT_PARTIAL } from './exit-codes.js';
import { formatBytes, formatDuration } from './output.js';
import { retrySummaryFields, retrySummaryLine } from './retry-report.js';
import { savedLine } from './backup-report.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

export interface ImageBackupArgs {
  source: string;
  plain: boolean;
  usedOnly: boolean;
  tags: string[];
  host?: string;
  time?: Date;
  parent?: string;
  force: boolean;
  dryRun: boolean;
}

export async function backupImageCommand(g: GlobalArgs, a: ImageBackupArgs): Promise<void> {
  const src = await openFileSource(a.source).catch((err: Error) => {
    throw new UsageError(`cannot read --image ${a.source}: ${err.message}`);
  });
  const st = await fs.stat(a.source, { bigint: true });
  // Only an image file's identity says its content is unchanged; a device is always read.
  const sourceStat = st.isFile() ? { size: Number(st.size), inode: Number(st.ino), device: Number(st.dev), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) } : undefined;
  try {
    await withRepository(g, async (repo, out) => {
      repo.dryRun = a.dryRun;
      const started = Date.now();
      const result = await backupImage(repo, src, {
        sourceName: path.resolve(a.source),
        plain: a.plain,
        usedOnly: a.usedOnly,
        tags: a.tags.flatMap((t) => t.split(',')).filter(Boolean),
        host: a.host,
        time: a.time,
        sourceStat,
        parent: a.force ? null : a.parent,
        onProgress: (p) => {
          const eta = p.rate > 0 && p.total > p.bytes ? `, ETA ${formatDuration((p.total - p.bytes) / p.rate)}` : '';
          out.status(`[${formatDuration((Date.now() - started) / 1000)}] ${formatBytes(p.bytes)}/${formatBytes(p.total)}, ${formatBytes(p.rate)}/s${eta}${p.files ? `, files ${p.files}` : ''}`);
          out.emit({ message_type: 'status', seconds_elapsed: (Date.now() - started) / 1000, bytes_done: p.bytes, total_bytes: p.total, bytes_per_second: p.rate, files_done: p.files });
        },
        onWarning: (m) => out.warn(`warning: ${m}`),
      });
      const s = result.snapshot.summary!;
      const img = result.snapshot.image as unknown as ImageInfo;
      out.clearStatus();
      out.emit({
        message_type: 'summary',
        snapshot_id: repo.dryRun ? null : result.id,
        dry_run: repo.dryRun || undefined,
        kind: 'image',
        unchanged_since: result.unchangedSince,
        mode: img.mode,
        image_size: img.size,
        stored_bytes: img.storedBytes,
        file_systems: img.fileSystems,
        total_files_processed: s.totalFiles,
        data_added: s.addedBytes,
        data_added_raw: s.addedRawBytes,
        warnings: result.warnings,
        total_duration: s.durationSeconds,
        ...retrySummaryFields(repo.backend),
      });
      const fsList = img.fileSystems.map((f) => `/${f.dir} (${f.type})`).join(', ');
      if (result.unchangedSince) out.print(`Image file unchanged since snapshot ${result.unchangedSince.slice(0, 8)} (same size, times and inode): not read again; use --force to re-read it`);
      out.print(`Image ${a.source}: ${formatBytes(img.size)}, ${formatBytes(img.size - img.storedBytes)} of holes, ${img.mode === 'fs' ? `file systems ${fsList || 'none'}, ${s.totalFiles} files` : 'plain'}${img.usedOnly ? ', used blocks only' : ''}`);
      out.print(`${repo.dryRun ? 'Would add' : 'Added'} to the repository: ${formatBytes(s.addedBytes)} (${formatBytes(s.addedRawBytes)} before compression)`);
      out.print(`Processed ${formatBytes(img.size)} in ${s.durationSeconds.toFixed(1)}s`);
      const retried = retrySummaryLine(repo.backend);
      if (retried) out.print(retried);
      out.print(savedLine(repo, result.id));
      if (result.warnings > 0) {
        out.warn(`${result.warnings} warnings: parts of the image could not be parsed and were stored as raw bytes (see above)`);
        process.exitCode = EXIT_PARTIAL;
      }
    }, 'shared');
  } finally {
    await src.close();
  }
}
