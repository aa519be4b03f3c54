import type { ArgumentsCamelCase, Argv } from 'yargs';
import { GlobalArgs } from './context.js';
import { formatBytes, Output } from './output.js';
import { UsageError } from './usage-error.js';

export const command = 'cache';
export const describe = 'list the local caches of all repositories used from here; --cleanup removes those unused for --max-age days';
export const builder = (y: Argv) =>
  y
    .option('cleanup', { type: 'boolean', default: false, describe: 'remove the caches not used for --max-age days' })
    .option('max-age', { type: 'number', default: 30, describe: 'with --cleanup: days since a cache was last used' })
    .epilog('A cache holds a copy of its repository\'s index; the next command on that repository builds it again, so removing one loses nothing.');

interface Args extends GlobalArgs {
  cleanup: boolean;
  maxAge: number;
}

const DAY_MS = 24 * 3600 * 1000;

export async function handler(args: ArgumentsCamelCase<Args>) {
  if (!Number.isFinite(args.maxAge) || args.maxAge < 0) throw new UsageError(`--max-age takes a number of days, not "${args.maxAge}"`);
  const out = new Output(!!args.json, !!args.quiet);
  const { promises: fs } = await import('node:fs');
  const { defaultCacheDir } = await import('../repo/repository.js');
  const { listCacheDirs } = await import('../repo/cache-dirs.js');
  const root = args.cacheDir ?? defaultCacheDir();
  const caches = await listCacheDirs(root);
  const now = Date.now();
  const old = caches.filter((c) => now - c.lastUsed.getTime() > args.maxAge * DAY_MS);
  for (const c of caches) {
    const days = Math.floor((now - c.lastUsed.getTime()) / DAY_MS);
    const removed = args.cleanup && old.includes(c);
    if (removed) await fs.rm(c.path, { recursive: true, force: true });
    out.emit({ message_type: 'cache', repository_id: c.id, path: c.path, last_used: c.lastUsed.toISOString(), bytes: c.bytes, removed });
    out.print(`${c.id.slice(0, 8)}  ${days === 0 ? 'used today' : `${days} day${days === 1 ? '' : 's'} ago`}  ${formatBytes(c.bytes).padStart(10)}${removed ? '  removed' : ''}`);
  }
  const freed = old.reduce((n, c) => n + c.bytes, 0);
  out.emit({ message_type: 'summary', caches: caches.length, old: old.length, removed: args.cleanup ? old.length : 0, bytes_removed: args.cleanup ? freed : 0 });
  if (caches.length === 0) out.print(`no caches in ${root}`);
  else if (args.cleanup) out.print(`removed ${old.length} of ${caches.length} caches in ${root} (${formatBytes(freed)})`);
  else out.print(`${caches.length} caches in ${root}${old.length ? `; ${old.length} unused for more than ${args.maxAge} days (${formatBytes(freed)}): \`cairn cache --cleanup\` removes them` : ''}`);
}
