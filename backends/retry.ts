import { AlreadyExistsError, Backend, FileType, Handle, NotFoundError, Leftovers, ObjectInfo, PermanentError, describeHandle } from './backend.js';

export interface RetryInfo {
  /** The backend method that failed, e.g. 'save'. */
  op: string;
  handle?: Handle;
  /** The attempt that failed, from 1. */
  attempt: number;
  delayMs: number;
  reason: string;
  error: unknown;
}

export interface RetryOptions {
  /** Attempts per call, the first included (default 10). */
  maxAttempts?: number;
  /** Backoff before the first retry, doubled each time (default 100 ms). */
  baseDelayMs?: number;
  /** Upper bound of one backoff (default 5 s). */
  maxDelayMs?: number;
  /** Told about each retry, e.g. to show it in the progress output. */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryStats {
  retries: number;
  /** Retries counted by reason (S3 error code, socket error code, HTTP status...). */
  byReason: Record<string, number>;
}

/**
 * Retries temporary failures of another backend with exponential backoff and full
 * jitter (a random wait between 0 and the current bound), so that many clients hitting
 * one overloaded server do not retry in lockstep.
 */
export class RetryBackend implements Backend {
  readonly stats: RetryStats = { retries: 0, byReason: {} };
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(readonly inner: Backend, private readonly options: RetryOptions = {}) {
    this.maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 10));
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 5_000;
  }

  location(): string {
    return this.inner.location();
  }

  create(): Promise<void> {
    return this.retry('create', undefined, () => this.inner.create());
  }

  isRepository(): Promise<boolean> {
    return this.retry('isRepository', undefined, () => this.inner.isRepository());
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    let attempts = 0;
    try {
      await this.retry('save', h, () => {
        attempts++;
        return this.inner.save(h, data);
      });
    } catch (err) {
      // When an upload reached the server but its reply was lost (reset, timeout), the
      // retry finds the object already there. That is our own earlier attempt, not a
      // conflict: names are content hashes, so an object of the same name and size holds
      // the same bytes. Only after a retry can this happen; a first-attempt conflict is real.
      if (!(err instanceof AlreadyExistsError) || attempts < 2) throw err;
      const existing = await this.retry('stat', h, () => this.inner.stat(h));
      if (existing.size !== data.length) throw err;
    }
  }

  load(h: Handle, offset?: number, length?: number): Promise<Uint8Array> {
    return this.retry('load', h, () => this.inner.load(h, offset, length));
  }

  stat(h: Handle): Promise<ObjectInfo> {
    return this.retry('stat', h, () => this.inner.stat(h));
  }

  /**
   * A listing that fails part-way is started again; names already handed out are
   * skipped, so the caller sees each object once.
   */
  async *list(type: FileType): AsyncIterable<ObjectInfo> {
    const seen = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      try {
        for await (const info of this.inner.list(type)) {
          if (seen.has(info.name)) continue;
          seen.add(info.name);
          yield info;
        }
        return;
      } catch (err) {
        await this.backoffOrThrow('list', undefined, attempt, err);
      }
    }
  }

  remove(h: Handle): Promise<void> {
    return this.retry('remove', h, () => this.inner.remove(h));
  }

  removeLeftovers(dryRun: boolean): Promise<Leftovers> {
    return this.retry('removeLeftovers', undefined, () => this.inner.removeLeftovers(dryRun));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async retry<T>(op: string, handle: Handle | undefined, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        await this.backoffOrThrow(op, handle, attempt, err);
      }
    }
  }

  /** Waits before the next attempt, or rethrows when the error is final or attempts are used up. */
  private async backoffOrThrow(op: string, handle: Handle | undefined, attempt: number, err: unknown): Promise<void> {
    if (!isTemporary(err)) throw err;
    if (attempt >= this.maxAttempts) {
      const what = handle ? ` of ${describeHandle(handle)}` : '';
      // Permanent from here on: a wrapper above must not multiply the attempts again.
      throw new PermanentError(`${op}${what} at ${this.location()} still failing after ${attempt} attempts: ${(err as Error)?.message ?? err}`, { cause: err });
    }
    const bound = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    const delayMs = Math.round(Math.random() * bound);
    const reason = retryReason(err);
    this.stats.retries++;
    this.stats.byReason[reason] = (this.stats.byReason[reason] ?? 0) + 1;
    this.options.onRetry?.({ op, handle, attempt, delayMs, reason, error: err });
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}

/**
 * Everything is worth another try except the backend's verdicts (permanent, missing,
 * exists) and programming errors, which would fail the same way every time.
 */
export function isTemporary(err: unknown): boolean {
  return !(
    err instanceof PermanentError ||
    err instanceof NotFoundError ||
    err instanceof AlreadyExistsError ||
    err instanceof TypeError ||
    err instanceof RangeError ||
    err instanceof ReferenceError ||
    err instanceof SyntaxError
  );
}

/** A short label for the statistics: the S3 error code, socket error code or HTTP status. */
export function retryReason(err: unknown): string {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  // The SDK names resets "TimeoutError" too, so the socket error code goes first.
  if (typeof e?.code === 'string' && e.code) return e.code;
  if (e?.name === 'TimeoutError') return 'timeout';
  if (e?.name && e.name !== 'Error' && e.name !== 'UnknownError') return e.name;
  if (e?.$metadata?.httpStatusCode) return `http-${e.$metadata.httpStatusCode}`;
  return (err as Error)?.message?.slice(0, 40) || 'unknown';
}
