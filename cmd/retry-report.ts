/** Shows backend retries: one JSON line each with --json, a few human lines otherwise, and totals for the summary. */
import { Backend, describeHandle } from '../backends/backend.js';
import { RetryBackend, RetryInfo, RetryStats } from '../backends/retry.js';
import { Output } from './output.js';

/** Human lines shown before the rest are only counted: a flaky link must not flood the terminal. */
const HUMAN_RETRY_LINES = 5;

export function retryReporter(out: Output): (info: RetryInfo) => void {
  let shown = 0;
  return (info) => {
    const object = info.handle ? describeHandle(info.handle) : undefined;
    out.emit({ message_type: 'retry', op: info.op, object, attempt: info.attempt, reason: info.reason, delay_ms: info.delayMs });
    if (shown > HUMAN_RETRY_LINES) return;
    shown++;
    if (shown > HUMAN_RETRY_LINES) out.info('more retries follow; the summary counts them');
    else out.info(`retrying ${info.op}${object ? ` of ${object}` : ''} after ${info.reason} (attempt ${info.attempt + 1})`);
  };
}

export function retryStats(backend: Backend): RetryStats {
  return backend instanceof RetryBackend ? backend.stats : { retries: 0, byReason: {} };
}

/** Fields for a --json summary line. */
export function retrySummaryFields(backend: Backend): { retries: number; retry_reasons: Record<string, number> } {
  const s = retryStats(backend);
  return { retries: s.retries, retry_reasons: { ...s.byReason } };
}

/** "retried 3 requests (SlowDown 2, ECONNRESET 1)", or undefined when nothing was retried. */
export function retrySummaryLine(backend: Backend): string | undefined {
  const s = retryStats(backend);
  if (s.retries === 0) return undefined;
  const reasons = Object.entries(s.byReason)
    .sort((a, b) => b[1] - a[1])
    .map(([r, n]) => `${r} ${n}`)
    .join(', ');
  return `retried ${s.retries} storage request${s.retries === 1 ? '' : 's'} (${reasons})`;
}
