import { Backend } from './backend.js';
import { LocalBackend } from './local.js';
import { MemoryBackend } from './memory.js';
import { RateLimits, withRateLimits } from './rate-limit.js';
import { RetryBackend, RetryOptions } from './retry.js';
import type { S3Options } from './s3.js';

const isS3Location = (location: string) => location.startsWith('s3:');

/** Whether reading from the location costs a system call, not a request over a network. */
export function hasCheapReads(location: string): boolean {
  return !isS3Location(location);
}

export interface OpenOptions {
  s3?: S3Options & {
    /** `--s3-endpoint`: an S3-compatible server for an `s3://bucket/prefix` location. */
    endpoint?: string;
    /** Forces path-style (true) or virtual-host (false) addressing; default: path-style for a custom endpoint. */
    pathStyle?: boolean;
  };
  retry?: RetryOptions;
  /** `--limit-upload` / `--limit-download`; absent limits add no wrapper at all. */
  limits?: RateLimits;
}

/**
 * Opens a repository location: `memory:` (tests), `s3://bucket/prefix`,
 * `s3:https://host/bucket/prefix`, `local:/path` or a plain path. Remote backends come
 * wrapped in a RetryBackend; a local directory does not fail transiently. The S3 code
 * (and the AWS SDK, slow to load) is imported only for S3 locations. Rate limits wrap the
 * store itself, inside the RetryBackend: a retried upload crosses the link again, so each
 * attempt is paid for again.
 */
export async function openBackend(location: string, opts: OpenOptions = {}): Promise<Backend> {
  if (location === 'memory:') return withRateLimits(new MemoryBackend(), opts.limits);
  if (isS3Location(location)) {
    const { S3Backend, parseS3Url } = await import('./s3.js');
    const loc = parseS3Url(location);
    const { endpoint, pathStyle, ...s3 } = opts.s3 ?? {};
    if (endpoint) {
      if (loc.endpoint) throw new Error(`S3 endpoint given twice: in "${location}" and as --s3-endpoint ${endpoint}`);
      if (!/^https?:\/\/[^/@]+\/?$/.test(endpoint)) throw new Error(`invalid S3 endpoint "${endpoint}": expected http(s)://host[:port]`);
      loc.endpoint = endpoint.replace(/\/$/, '');
      loc.pathStyle = true;
    }
    if (pathStyle !== undefined) loc.pathStyle = pathStyle;
    return new RetryBackend(withRateLimits(new S3Backend(loc, s3), opts.limits), opts.retry);
  }
  const dir = location.startsWith('local:') ? location.slice('local:'.length) : location;
  if (!dir) throw new Error('empty repository location');
  return withRateLimits(new LocalBackend(dir), opts.limits);
}
