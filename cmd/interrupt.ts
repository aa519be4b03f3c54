/**
 * Ctrl-C or SIGTERM while a command holds the repository. Node's default ends the process
 * on the spot: its lock then stays until it is stale, and a local repository keeps the
 * pack being filled as a temporary file until prune. Instead the command's cleanup runs
 * (drop unfinished packs, release the lock), and the process exits as a shell expects of
 * a signal: 128 plus its number. A second signal exits at once.
 */
import type { Output } from './output.js';

const EXIT_FOR: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

let interrupted = false;

/** Whether a signal is being handled: the command's own failure then is no news to report. */
export function wasInterrupted(): boolean {
  return interrupted;
}

/** Handles SIGINT and SIGTERM with `cleanup` until the returned function is called. */
export function cleanUpOnInterrupt(out: Output, cleanup: () => Promise<void>): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    const code = EXIT_FOR[signal] ?? 1;
    if (interrupted) process.exit(code);
    interrupted = true;
    out.warn(`interrupted: releasing the lock and removing unfinished files; earlier snapshots are untouched (${signal === 'SIGINT' ? 'Ctrl-C' : signal} again to exit at once)`);
    cleanup()
      .catch((err) => out.warn(`cleaning up after the interruption failed: ${(err as Error).message}; \`cairn unlock\` removes a stale lock and \`cairn prune\` leftover files`))
      .finally(() => process.exit(code));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
