import type { ArgumentsCamelCase, Argv } from 'yargs';
import { GlobalArgs } from './context.js';
import { EXIT_ERROR } from './exit-codes.js';
import { withRepository } from './run.js';

export const command = 'repair <what>';
export const describe = 'repair index: rebuild the index from the packs (after a damaged or lost index file)';
export const builder = (y: Argv) =>
  y
    .positional('what', { choices: ['index'] as const })
    .option('read-all-packs', { type: 'boolean', default: false, describe: 'read every pack\'s header, also of packs a readable index file lists' });

interface Args extends GlobalArgs {
  what: 'index';
  readAllPacks: boolean;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  const { repairIndex } = await import('../repo/repair-index.js');
  await withRepository(args, async (repo, out, lock) => {
    const r = await repairIndex(repo, {
      readAllPacks: args.readAllPacks,
      lock,
      onProgress: (p) => out.status(`read ${p.headersRead}/${p.headersToRead} pack headers`),
    });
    out.clearStatus();
    for (const f of r.damagedIndexFiles) {
      out.emit({ message_type: 'damaged_index_file', index_file: f.name, detail: f.detail });
      out.print(`index/${f.name} cannot be read (${f.detail}): replaced`);
    }
    for (const p of r.missingPacks) {
      out.emit({ message_type: 'missing_pack', pack: p });
      out.warn(`warning: data/${p} is listed by the index but missing: left out (\`cairn check\` names the snapshots that need it)`);
    }
    for (const p of r.unreadablePacks) {
      out.emit({ message_type: 'unreadable_pack', pack: p.pack, detail: p.detail, indexed: p.indexed });
      const fate = p.indexed ? 'kept as an index file lists it (`cairn check --read-data` verifies its blobs)' : 'its blobs are not indexed (`cairn check` names the snapshots that need them)';
      out.warn(`error: data/${p.pack}: its header cannot be read (${p.detail}); ${fate}`);
    }
    out.emit({
      message_type: 'summary',
      packs: r.packs,
      packs_from_index: r.packsFromIndex,
      packs_from_header: r.packsFromHeader,
      blobs: r.blobs,
      index_files_replaced: r.indexFilesReplaced,
    });
    out.print(
      r.indexFilesReplaced === 0 && r.packsFromHeader === 0
        ? `the index lists all ${r.packs} packs: nothing to repair`
        : `wrote a new index of ${r.blobs} blobs in ${r.packsFromIndex + r.packsFromHeader} packs (${r.packsFromHeader} read from their headers), replacing ${r.indexFilesReplaced} index file${r.indexFilesReplaced === 1 ? '' : 's'}`,
    );
    if (r.unreadablePacks.length > 0) process.exitCode = EXIT_ERROR;
  }, 'exclusive', { onIndexError: () => {} }); // the damaged index files are what this repairs
}
