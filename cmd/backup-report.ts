/** Progress and summary of a file backup, the same for paths and for `--stdin`. */
import type { BackupProgress, BackupResult } from '../repo/archiver.js';
import type { Repository } from '../repo/repository.js';
import { EXIT_PARTIAL } from './exit-codes.js';
import { formatBytes, Output, progressLine } from './output.js';
import { retrySummaryFields, retrySummaryLine } from './retry-report.js';

export function reportProgress(out: Output, started: number): (p: BackupProgress) => void {
  return (p) => {
    out.status(progressLine(started, p.files, p.bytes, p.totalFiles, p.totalBytes) + `, added ${formatBytes(p.addedBytes)}`);
    out.emit({ message_type: 'status', seconds_elapsed: (Date.now() - started) / 1000, files_done: p.files, bytes_done: p.bytes, total_files: p.totalFiles, total_bytes: p.totalBytes, bytes_added: p.addedBytes, errors: p.errors });
  };
}

/** The last line of a backup's summary. */
export function savedLine(repo: Repository, id: string): string {
  return repo.dryRun ? 'dry run: nothing was written to the repository (no data, index or snapshot)' : `snapshot ${id.slice(0, 8)} saved`;
}

export function reportBackup(out: Output, repo: Repository, result: BackupResult): void {
  const s = result.snapshot.summary!;
  out.clearStatus();
  out.emit({
    message_type: 'summary',
    snapshot_id: repo.dryRun || result.unchangedSince ? null : result.id,
    dry_run: repo.dryRun || undefined,
    unchanged_since: result.unchangedSince,
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
  out.print(`${repo.dryRun ? 'Would add' : 'Added'} to the repository: ${formatBytes(s.addedBytes)} (${formatBytes(s.addedRawBytes)} before compression)`);
  out.print(`Processed ${s.totalFiles} files, ${formatBytes(s.totalBytes)} in ${s.durationSeconds.toFixed(1)}s`);
  const retried = retrySummaryLine(repo.backend);
  if (retried) out.print(retried);
  out.print(result.unchangedSince ? `nothing changed since snapshot ${result.unchangedSince.slice(0, 8)}: no snapshot saved (--skip-if-unchanged)` : savedLine(repo, result.id));
  if (s.errors > 0) {
    out.warn(`${s.errors} files or directories could not be read and are missing from the snapshot (see the warnings above)`);
    process.exitCode = EXIT_PARTIAL;
  }
}
