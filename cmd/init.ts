import type { ArgumentsCamelCase, Argv } from 'yargs';
import { Repository } from '../repo/repository.js';
import { GlobalArgs, openBackendFor, repositoryLocation } from './context.js';
import { Output } from './output.js';
import { readPassword } from './password.js';
import { UsageError } from './usage-error.js';

export const command = 'init';
export const describe = 'create a new repository';
export const builder = (y: Argv) =>
  y.option('pack-size', { type: 'string', describe: 'target pack size, e.g. 16M (default) or 256K; small packs suit tests' });

interface Args extends GlobalArgs {
  packSize?: string;
}

function parseSize(s: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(s.trim());
  if (!m) throw new UsageError(`--pack-size takes a size like 16M or 512K, not ${JSON.stringify(s)}`);
  const n = Number(m[1]) * 1024 ** ' KMG'.indexOf(m[2].toUpperCase() || ' ');
  if (n < 4096 || n > 1024 ** 3) throw new UsageError('--pack-size must lie between 4K and 1G');
  return n;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  const packSize = args.packSize ? parseSize(args.packSize) : undefined;
  const out = new Output(!!args.json, !!args.quiet);
  const { location } = repositoryLocation(args);
  const backend = await openBackendFor(args, location);
  const password = await readPassword(args, 'enter a password for the new repository: ', true);
  const repo = await Repository.init(backend, password, { cacheDir: args.cacheDir, packSize });
  try {
    out.emit({ message_type: 'initialized', id: repo.config.id, repository: location });
    out.print(`created cairn repository ${repo.config.id.slice(0, 10)} at ${location}`);
    out.print('Keep the password safe: without it the data in this repository cannot be read.');
  } finally {
    await repo.close();
  }
}
