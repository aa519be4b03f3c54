import { UsageError } from './usage-error.js';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "16M", "64k", "4096", "1.5G" -> bytes. */
export function parseSize(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$/i.exec(s.trim());
  if (!m) throw new UsageError(`${flag} takes a size like 16M or 4096, not ${JSON.stringify(s)}`);
  return Math.round(Number(m[1]) * UNITS[m[2].toLowerCase()]);
}
