import type { ArgumentsCamelCase, Argv } from 'yargs';
import { Repository } from '../repo/repository.js';
import { GlobalArgs, openBackendFor, repositoryLocation } from './context.js';
import { FromRepoArgs, fromRepoOptions, openSourceRepository, sourceLocation } from './from-repo.js';
import { Output } from './output.js';
import { readPassword } from './password.js';
import { parseSize } from './parse-size.js';

export const command = 'init';
export const describe = 'create a new repository (with --from-repo: one that shares that repository\'s blob ids, for cheap copies)';
export const builder = (y: Argv) =>
  y
    .option('pack-size', { type: 'string', describe: 'target pack size, e.g. 16M (default 16M, or the source\'s with --from-repo; small packs suit tests and high-latency stores less)' })
    .options(fromRepoOptions)
    .epilog(
      'With --from-repo, the new repository gets a fresh encryption key but the source\'s blob-id key and chunker parameters, ' +
        'so `cairn copy` moves trees between the two as they are and later copies read only new data (see docs/SECURITY.md for what sharing the id key means).',
    );

export async function handler(args: ArgumentsCamelCase<GlobalArgs & FromRepoArgs & { packSize?: string }>) {
  const out = new Output(!!args.json, !!args.quiet);
  const { location } = repositoryLocation(args);
  const packSize = args.packSize ? parseSize(args.packSize, '--pack-size') : undefined;
  // The source is opened first: a wrong source password then leaves nothing behind.
  const source = sourceLocation(args) ? await openSourceRepository(args, out, { syncIndex: false }) : undefined;
  try {
    const backend = await openBackendFor(args, location, out);
    const password = await readPassword(args, 'enter a password for the new repository: ', true);
    const opts = { cacheDir: args.cacheDir, connections: args.connections, packSize };
    let repo: Repository;
    if (source) {
      const { initFrom } = await import('../repo/copy.js');
      repo = await initFrom(backend, password, source, opts);
    } else repo = await Repository.init(backend, password, opts);
    try {
      out.emit({ message_type: 'initialized', id: repo.config.id, repository: location, from_repository: source?.backend.location() });
      out.print(`created cairn repository ${repo.config.id.slice(0, 10)} at ${location}`);
      if (source) out.print(`its blob ids and chunker parameters are those of ${source.backend.location()}, so \`cairn copy\` can copy snapshots from there`);
      out.print('Keep the password safe: without it the data in this repository cannot be read.');
    } finally {
      await repo.close();
    }
  } finally {
    await source?.close();
  }
}
