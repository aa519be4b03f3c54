/** RFC 3339 timestamps with nanoseconds, as restic writes them; exact round trip via bigint ns. */

const NS_PER_SECOND = 1_000_000_000n;
/** Second -> "YYYY-MM-DDTHH:MM:SS". Files share seconds (a package's install, a copy). */
const secondText = new Map<number, string>();
const SECOND_CACHE_LIMIT = 4096;

/** Every node of every backup formats three of these: the seconds' text is cached. */
export function nsToRfc3339(ns: bigint): string {
  let sec = ns / NS_PER_SECOND;
  let frac = ns - sec * NS_PER_SECOND;
  if (frac < 0n) {
    sec -= 1n;
    frac += NS_PER_SECOND;
  }
  const s = Number(sec);
  let text = secondText.get(s);
  if (text === undefined) {
    if (secondText.size >= SECOND_CACHE_LIMIT) secondText.clear();
    text = new Date(s * 1000).toISOString().slice(0, 19);
    secondText.set(s, text);
  }
  return `${text}.${String(Number(frac)).padStart(9, '0')}Z`;
}

export function rfc3339ToNs(s: string): bigint {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) throw new Error(`bad timestamp ${JSON.stringify(s)}`);
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) throw new Error(`bad timestamp ${JSON.stringify(s)}`);
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** Seconds as a float, for fs.utimes (which takes no more than that precision). */
export function nsToSeconds(ns: bigint): number {
  return Number(ns) / 1e9;
}
