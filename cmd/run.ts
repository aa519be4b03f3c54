import { acquireLock, describeLock, LockHandle } from '../repo/lock.js';
import { OpenOptions, Repository } from '../repo/repository.js';
import { GlobalArgs, openRepository } from './context.js';
import { Output } from './output.js';
import { parseDuration } from './duration.js';
import { cleanUpOnInterrupt } from './interrupt.js';

export type LockMode = 'none' | 'shared' | 'exclusive';

/**
 * Opens the repository for a command and always closes it (releasing the cache and the
 * lock). With a lock, the index is read only once the lock is held: a prune that runs
 * while this process waits replaces index files and deletes packs. Commands that never
 * look up a blob pass `syncIndex: false`: they skip listing `index/`, and still work when
 * an index file is damaged.
 */
export async function withRepository<T>(args: GlobalArgs, fn: (repo: Repository, out: Output, lock?: LockHandle) => Promise<T>, lock: LockMode = 'none', open: Partial<OpenOptions> = {}): Promise<T> {
  const out = new Output(!!args.json, !!args.quiet);
  const repo = await openRepository(args, out, lock === 'none' ? open : { ...open, syncIndex: false });
  return withOpened(repo, args, out, (handle) => fn(repo, out, handle), lock, open.syncIndex !== false);
}

/**
 * For a repository opened with `syncIndex: false` (or without a lock): takes the lock,
 * reads the index if `syncIndex`, runs `fn`, and always releases the lock and closes the
 * repository. `copy` uses it for its source repository.
 */
export async function withOpened<T>(repo: Repository, args: GlobalArgs, out: Output, fn: (lock?: LockHandle) => Promise<T>, lock: LockMode, syncIndex: boolean): Promise<T> {
  try {
    if (lock === 'none') return await fn();
    let waiting = false;
    const handle = await acquireLock(repo, {
      exclusive: lock === 'exclusive',
      retryMs: args.retryLock ? parseDuration(args.retryLock, '--retry-lock') : 0,
      onWait: (holder) => {
        if (!waiting) out.info(`waiting for ${describeLock(holder)} on ${repo.backend.location()}`);
        waiting = true;
      },
    });
    const stopHandling = cleanUpOnInterrupt(out, async () => {
      await repo.abortWrites();
      await handle.release();
    });
    try {
      if (syncIndex) await repo.syncIndex();
      return await fn(handle);
    } finally {
      stopHandling();
      await handle.release();
    }
  } finally {
    await repo.close();
  }
}
