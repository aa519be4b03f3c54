import { UsageError } from './usage-error.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "500ms", "30s", "10m", "1h": milliseconds. */
export function parseDuration(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s.trim());
  if (!m) throw new UsageError(`${flag} takes a duration like 30s, 10m or 1h, not ${JSON.stringify(s)}`);
  return Number(m[1]) * UNITS[m[2]];
}
