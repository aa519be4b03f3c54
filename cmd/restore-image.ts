/** `cairn restore SNAPSHOT --image --target FILE_OR_DEVICE`. */
import { resolveSnapshot } from '../repo/snapshot-select.js';
import { GlobalArgs } from './context.js';
import { formatBytes, formatDuration } from './output.js';
import { retrySummaryFields, retrySummaryLine } from './retry-report.js';
import { withRepository } from './run.js';

export async function restoreImageCommand(args: GlobalArgs & { target: string; verify: boolean }, snapshot: string): Promise<void> {
  await withRepository(args, async (repo, out) => {
    const ref = await resolveSnapshot(repo, snapshot);
    const started = Date.now();
    out.info(`restoring image snapshot ${ref.id.slice(0, 8)} of ${ref.snapshot.paths.join(' ')} at ${ref.snapshot.time} to ${args.target}`);
    const { restoreImage } = await import('../repo/image-restore.js');
    const r = await restoreImage(repo, ref.snapshot, args.target, {
      verify: args.verify,
      onProgress: (p) => {
        const elapsed = (Date.now() - started) / 1000;
        const rate = elapsed > 0 ? p.bytes / elapsed : 0;
        const eta = rate > 0 && p.total > p.bytes ? `, ETA ${formatDuration((p.total - p.bytes) / rate)}` : '';
        out.status(`[${formatDuration(elapsed)}] ${p.phase === 'verify' ? 'verifying ' : ''}${formatBytes(p.bytes)}/${formatBytes(p.total)}, ${formatBytes(rate)}/s${eta}`);
        out.emit({ message_type: 'status', phase: p.phase, seconds_elapsed: elapsed, bytes_done: p.bytes, total_bytes: p.total });
      },
    }, ref.id);
    out.clearStatus();
    const seconds = (Date.now() - started) / 1000;
    out.emit({ message_type: 'summary', snapshot_id: ref.id, image_size: r.size, bytes_written: r.written, verified: r.verified, device: r.device, total_duration: seconds, ...retrySummaryFields(repo.backend) });
    const retried = retrySummaryLine(repo.backend);
    if (retried) out.print(retried);
    out.print(`restored ${formatBytes(r.size)} image (${formatBytes(r.written)} of data) to ${args.target} in ${seconds.toFixed(1)}s${r.verified ? '; verified' : ''}`);
  });
}
