/** `backup --stdin-from-command`: what a command writes to stdout, as a backup source. */
import { spawn } from 'node:child_process';
import { UsageError } from './usage-error.js';

/** The command did not exit 0: in a pipe its failure would go unseen, here it stops the backup. */
export class CommandFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandFailedError';
  }
}

/**
 * The command's stdout. Past the last byte the iteration waits for the command to end,
 * and throws unless it exited 0, so that a backup of a failed dump is never saved.
 * The command runs without a shell; stdin and stderr are cairn's own.
 */
export async function* commandOutput(argv: string[]): AsyncGenerator<Uint8Array> {
  const shown = `\`${argv.map(shellWord).join(' ')}\``;
  const child = spawn(argv[0], argv.slice(1), { stdio: ['inherit', 'pipe', 'inherit'] });
  let startError: Error | undefined;
  // 'close' also comes after a failed start, once stdout is closed.
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (err) => (startError = err));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  try {
    yield* child.stdout;
    const { code, signal } = await closed;
    if (startError) throw new UsageError(`cannot run ${shown}: ${startError.message}`);
    if (signal) throw new CommandFailedError(`${shown} was killed by ${signal}; no snapshot was saved`);
    if (code !== 0) throw new CommandFailedError(`${shown} exited with status ${code}; no snapshot was saved`);
  } finally {
    // The backup failed while the command still wrote: it must not outlive cairn. A no-op once it has exited.
    child.kill();
  }
}

/** A word as a shell would need it quoted, so that the message shows which words the command had. */
function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}
