/**
 * Repository locks: `locks/<random id>`, sealed JSON naming who holds the lock. Backups
 * take shared locks; prune takes an exclusive one, so it never deletes a blob that a
 * running backup may still reference. A lock is refreshed every 5 minutes while held, and
 * is stale (ignored) 30 minutes after its last refresh, or at once when its process is
 * gone on this host.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { Backend, listNames, NotFoundError } from '../backends/backend.js';
import { openJson, sealJson } from './sealed-file.js';
import { LockConflictError } from './errors/lock-conflict-error.js';
import { processExists } from './dead-writers.js';

export const REFRESH_MS = 5 * 60_000;
export const STALE_MS = 30 * 60_000;

export interface LockInfo {
  time: string;
  refreshed: string;
  host: string;
  pid: number;
  user: string;
  exclusive: boolean;
}

export interface StoredLock {
  id: string;
  info: LockInfo;
}

interface LockOwner {
  backend: Backend;
  key: { encrypt: Uint8Array };
}

export interface AcquireOptions {
  exclusive: boolean;
  /** Keep trying this long while another process holds a conflicting lock. */
  retryMs?: number;
  onWait?: (holder: StoredLock) => void;
}

export interface LockHandle {
  readonly id: string;
  /** Throws when a refresh came too late: another process may have taken the lock since. */
  assertHeld(): void;
  release(): Promise<void>;
}

export function isStale(info: LockInfo, now = Date.now(), host = os.hostname()): boolean {
  const refreshed = Date.parse(info.refreshed);
  if (Number.isNaN(refreshed) || now - refreshed > STALE_MS) return true;
  return info.host === host && !processExists(info.pid);
}

export function conflicts(wantExclusive: boolean, other: LockInfo): boolean {
  return wantExclusive || other.exclusive;
}

/** Every lock in the repository; one that cannot be read is reported and left out. */
export async function listLocks(repo: LockOwner, onError?: (id: string, err: Error) => void): Promise<StoredLock[]> {
  const ids = await listNames(repo.backend, 'locks');
  const out: StoredLock[] = [];
  for (const id of ids) {
    try {
      const info = openJson(repo.key.encrypt, await repo.backend.load({ type: 'locks', name: id }), `locks/${id}`) as LockInfo;
      if (typeof info?.refreshed !== 'string' || typeof info.host !== 'string') throw new Error(`locks/${id} is not a lock`);
      out.push({ id, info });
    } catch (err) {
      if (err instanceof NotFoundError) continue; // released meanwhile
      onError?.(id, err as Error);
    }
  }
  return out;
}

export function describeLock(l: StoredLock): string {
  return `${l.info.exclusive ? 'an exclusive' : 'a shared'} lock held by PID ${l.info.pid} on host ${l.info.host} (user ${l.info.user}) since ${l.info.time}, last refreshed ${l.info.refreshed}`;
}

export async function acquireLock(repo: LockOwner, opts: AcquireOptions): Promise<LockHandle> {
  const deadline = Date.now() + (opts.retryMs ?? 0);
  for (let attempt = 0; ; attempt++) {
    const holder = await tryAcquire(repo, opts.exclusive);
    if ('handle' in holder) return holder.handle;
    if (Date.now() >= deadline) {
      const kind = opts.exclusive ? 'an exclusive' : 'a shared';
      throw new LockConflictError(
        `cannot take ${kind} lock: the repository is locked by ${describeLock(holder.conflict)}. ` +
          'Wait for that process to finish (or pass --retry-lock 10m); if it is no longer running, its lock turns stale ' +
          `30 minutes after its last refresh, or remove it now with \`cairn unlock --remove-all\``,
      );
    }
    opts.onWait?.(holder.conflict);
    // Jitter keeps two waiting processes from retrying in lock step.
    const pause = Math.min(5000, 200 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random());
    await new Promise((r) => setTimeout(r, Math.min(pause, Math.max(50, deadline - Date.now()))));
  }
}

async function tryAcquire(repo: LockOwner, exclusive: boolean): Promise<{ handle: LockHandle } | { conflict: StoredLock }> {
  const blocking = async (ownId?: string) =>
    (await listLocks(repo)).find((l) => l.id !== ownId && !isStale(l.info) && conflicts(exclusive, l.info));
  const before = await blocking();
  if (before) return { conflict: before };
  const id = randomBytes(32).toString('hex');
  const now = new Date().toISOString();
  const info: LockInfo = { time: now, refreshed: now, host: os.hostname(), pid: process.pid, user: os.userInfo().username, exclusive };
  await repo.backend.save({ type: 'locks', name: id }, sealJson(repo.key.encrypt, info));
  // Two processes may both have seen no conflict; looking again after writing ours
  // catches that, and both back off rather than both proceeding.
  const after = await blocking(id);
  if (after) {
    await repo.backend.remove({ type: 'locks', name: id });
    return { conflict: after };
  }
  return { handle: new HeldLock(repo, id, info) };
}

class HeldLock implements LockHandle {
  private readonly timer: NodeJS.Timeout;
  private lastRefresh = Date.now();
  private refreshing: Promise<void> = Promise.resolve();
  private lost?: Error;

  constructor(
    private readonly repo: LockOwner,
    readonly id: string,
    private readonly info: LockInfo,
  ) {
    this.timer = setInterval(() => {
      this.refreshing = this.refresh();
    }, REFRESH_MS);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    if (Date.now() - this.lastRefresh > STALE_MS) {
      this.lost ??= new Error('the repository lock was not refreshed for 30 minutes (was the machine asleep?), so another process may have taken it; stopping');
      return;
    }
    try {
      const info = { ...this.info, refreshed: new Date().toISOString() };
      await this.repo.backend.save({ type: 'locks', name: this.id }, sealJson(this.repo.key.encrypt, info));
      this.lastRefresh = Date.now();
    } catch {
      // A later refresh may succeed; assertHeld fails once the lock could be stale.
    }
  }

  assertHeld(): void {
    if (this.lost) throw this.lost;
    if (Date.now() - this.lastRefresh > STALE_MS) throw new Error('the repository lock could not be refreshed for 30 minutes; stopping');
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.refreshing;
    await this.repo.backend.remove({ type: 'locks', name: this.id });
  }
}

/** Removes stale locks, or every lock (even unreadable ones) with `all`. Returns what it removed. */
export async function removeLocks(repo: LockOwner, all: boolean, onError?: (id: string, err: Error) => void): Promise<string[]> {
  const doomed: string[] = [];
  if (all) {
    for await (const f of repo.backend.list('locks')) doomed.push(f.name);
  } else {
    for (const l of await listLocks(repo, onError)) if (isStale(l.info)) doomed.push(l.id);
  }
  for (const id of doomed) await repo.backend.remove({ type: 'locks', name: id });
  return doomed;
}
