/**
 * Ending worker threads by asking them to exit, rather than with Worker.terminate().
 * terminate() stops a thread wherever it is. Stopped inside a native addon's call (koffi
 * loading libc for fallocate or fadvise), the addon's N-API throw fails and Node aborts
 * the whole process: a restore that met a full disk died of SIGABRT now and then, with
 * no error message. A worker asked to exit does so from its message handler, between
 * tasks, where no native call is in progress.
 */
import type { MessagePort, Worker } from 'node:worker_threads';

/** The request to exit: a string, which no pool's protocol sends. */
const EXIT = 'cairn:exit';

/**
 * How long a worker may take to reach its message handler before it is terminated after
 * all: a restore worker first finishes the ranges queued before the request.
 */
const EXIT_GRACE_MS = 10_000;

/**
 * In a worker: exits when its pool asks. Called before the worker adds its own message
 * handler, which then never sees the request (process.exit stops the thread at once).
 */
export function exitWhenAsked(port: MessagePort): void {
  port.on('message', (m) => m === EXIT && process.exit(0));
}

/** Asks `worker` (which called exitWhenAsked) to exit, and resolves once it has. */
export function closeWorker(worker: Worker, graceMs = EXIT_GRACE_MS): Promise<void> {
  // threadId is -1 once the thread has stopped, and 'exit' has then been emitted already.
  if (worker.threadId === -1) return Promise.resolve();
  // An idle pool's workers are unreferenced; unreferenced, an awaited close could let the
  // process end with the caller's next steps never run.
  worker.ref();
  return new Promise((resolve) => {
    const late = setTimeout(() => void worker.terminate(), graceMs);
    worker.once('exit', () => {
      clearTimeout(late);
      resolve();
    });
    worker.postMessage(EXIT);
  });
}
