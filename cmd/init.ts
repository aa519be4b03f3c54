import type { ArgumentsCamelCase, Argv } from 'yargs';
import { Repository } from '../repo/repository.js';
import { GlobalArgs, openBackendFor, repositoryLocation } from './context.js';
import { Output } from './output.js';
import { readPassword } from './password.js';
import { parseSize } from './parse-size.js';

export const command = 'init';
export const describe = 'create a new repository';
export const builder = (y: Argv) =>
  y.option('pack-size', { type: 'string', describe: 'target pack size, e.g. 16M (default 16M; small packs suit tests and high-latency stores less)' });

export async function handler(args: ArgumentsCamelCase<GlobalArgs & { packSize?: string }>) {
  const out = new Output(!!args.json, !!args.quiet);
  const { location } = repositoryLocation(args);
  const backend = await openBackendFor(args, location, out);
  const password = await readPassword(args, 'enter a password for the new repository: ', true);
  const packSize = args.packSize ? parseSize(args.packSize, '--pack-size') : undefined;
  const repo = await Repository.init(backend, password, { cacheDir: args.cacheDir, connections: args.connections, packSize });
  try {
    out.emit({ message_type: 'initialized', id: repo.config.id, repository: location });
    out.print(`created cairn repository ${repo.config.id.slice(0, 10)} at ${location}`);
    out.print('Keep the password safe: without it the data in this repository cannot be read.');
  } finally {
    await repo.close();
  }
}
