/**
 * Names the S3 requests a client made, by operation and repository folder, so tests and
 * bench/s3-requests.ts can count them: "PUT data", "LIST index", "GET snapshots"...
 */
import type { RequestRecord } from './fault-proxy.js';

export type RequestTally = Record<string, number>;

/**
 * Classifies one path-style request against `bucket` and the repository `prefix`
 * ('' for the bucket root). Object requests are named by the folder below the prefix
 * (data, index, snapshots, keys, locks, config); bucket requests by what they do.
 */
export function classifyRequest(method: string, url: string, bucket: string, prefix: string): string {
  const u = new URL(url, 'http://proxy');
  const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] !== bucket) return `${method} other-bucket`;
  const key = parts.slice(1).join('/');
  const base = prefix ? `${prefix}/` : '';
  if (!key) {
    if (method === 'GET' && u.searchParams.get('list-type') === '2') return `LIST ${folderOf(u.searchParams.get('prefix') ?? '', base)}`;
    return `${method} bucket`;
  }
  return `${method} ${folderOf(key, base)}`;
}

function folderOf(key: string, base: string): string {
  if (!key.startsWith(base)) return 'outside-prefix';
  const rest = key.slice(base.length);
  return rest.split('/')[0] || 'root';
}

/** Counts requests by class; faults injected by the proxy are counted under "<class> (fault)". */
export function tallyRequests(records: readonly RequestRecord[], bucket: string, prefix: string): RequestTally {
  const tally: RequestTally = {};
  for (const r of records) {
    const name = classifyRequest(r.method, r.url, bucket, prefix) + (r.fault === 'error' ? ' (fault)' : '');
    tally[name] = (tally[name] ?? 0) + 1;
  }
  return tally;
}
