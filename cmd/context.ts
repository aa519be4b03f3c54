/** Shared by all commands: global flags, opening the repository, and output. */
import os from 'node:os';
import path from 'node:path';
import { Backend } from '../backends/backend.js';
import { OpenOptions, Repository } from '../repo/repository.js';
import { readPassword } from './password.js';
import { Output } from './output.js';
import { tuneMalloc } from './malloc-tuning.js';
import { retryReporter } from './retry-report.js';
import { UsageError } from './usage-error.js';

export interface GlobalArgs {
  repo?: string;
  passwordFile?: string;
  passwordCommand?: string;
  json?: boolean;
  quiet?: boolean;
  cacheDir?: string;
  connections?: number;
  s3StorageClass?: string;
  s3Endpoint?: string;
  retryLock?: string;
  limitUpload?: string;
  limitDownload?: string;
}

export function defaultRepository(): string {
  const base = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'cairn', 'repository');
}

export function repositoryLocation(args: GlobalArgs): { location: string; isDefault: boolean } {
  const given = args.repo ?? process.env.CAIRN_REPOSITORY;
  return given ? { location: given, isDefault: false } : { location: defaultRepository(), isDefault: true };
}

export async function openBackendFor(args: GlobalArgs, location: string, out: Output): Promise<Backend> {
  const { openBackend } = await import('../backends/open.js');
  if (args.connections !== undefined && !(Number.isInteger(args.connections) && args.connections >= 1 && args.connections <= 256)) {
    throw new UsageError(`--connections takes a whole number from 1 to 256, not ${args.connections}`);
  }
  return openBackend(location, {
    s3: { connections: args.connections, storageClass: args.s3StorageClass, endpoint: args.s3Endpoint },
    retry: { onRetry: retryReporter(out) },
    limits: { uploadKiBs: rateLimit('--limit-upload', args.limitUpload), downloadKiBs: rateLimit('--limit-download', args.limitDownload) },
  });
}

/**
 * Opens the repository. The default repository (no --repo, no CAIRN_REPOSITORY) is
 * created on first use, so `cairn backup DIR` works with nothing set up.
 */
export async function openRepository(args: GlobalArgs, out: Output, extra: Partial<OpenOptions> = {}): Promise<Repository> {
  const { location, isDefault } = repositoryLocation(args);
  const backend = await openBackendFor(args, location, out);
  // Loading koffi for mallopt took 14 ms of every start; it fits in the key derivation.
  const whileDeriving = () => {
    tuneMalloc();
    extra.whileDeriving?.();
  };
  const opts = { cacheDir: args.cacheDir, connections: args.connections, ...extra, whileDeriving };
  if (isDefault && !(await backend.isRepository())) {
    out.info(`creating the default repository at ${location}`);
    const password = await readPassword(args, 'enter a password for the new repository: ', true);
    tuneMalloc();
    const repo = await Repository.init(backend, password, opts);
    out.info(`created repository ${repo.config.id.slice(0, 10)} at ${location}; keep the password safe: without it the data cannot be read`);
    return repo;
  }
  const password = await readPassword(args);
  return Repository.open(backend, password, opts);
}

/**
 * A flag that may be given several times (`--tag a --tag b`). Not a yargs array option:
 * those swallow the positional arguments that follow them.
 */
export function repeatable(describe: string) {
  return {
    type: 'string' as const,
    default: [] as string[],
    describe,
    coerce: (v: unknown): string[] => ([] as unknown[]).concat(v ?? []).map(String),
  };
}

/** The filters that choose snapshots by host, tags and paths (snapshots, copy, rewrite). */
export const snapshotFilterOptions = {
  host: { type: 'string', describe: 'only snapshots of this host' },
  tag: repeatable('only snapshots with these tags'),
  path: repeatable('only snapshots with these paths'),
} as const;

/** A `--limit-upload`/`--limit-download` value: a whole number of KiB/s, at least 1 (restic's units). */
function rateLimit(flag: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (Number.isSafeInteger(n) && n >= 1 && n <= 2 ** 40) return n;
  const shown = Array.isArray(value) ? 'the flag given twice' : `"${String(value)}"`;
  throw new UsageError(`${flag} takes a whole number of KiB/s, at least 1 (leave the flag out for no limit), not ${shown}`);
}
