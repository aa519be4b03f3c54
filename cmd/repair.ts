import type { ArgumentsCamelCase, Argv } from 'yargs';
import { GlobalArgs } from './context.js';
import { EXIT_ERROR } from './exit-codes.js';
import { options as snapshotOptions, RepairSnapshotsArgs } from './repair-snapshots.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

export const command = 'repair <what> [snapshots..]';
export const describe =
  'repair index: rebuild the index from the packs (after a damaged or lost index file); ' +
  'repair snapshots: remove missing content and directories from snapshots (after a lost pack), so check passes and prune runs';
export const builder = (y: Argv) =>
  y
    .positional('what', { choices: ['index', 'snapshots'] as const })
    .positional('snapshots', { type: 'string', array: true, describe: 'snapshots: snapshot ids, id prefixes or `latest` (default: all that match --host/--tag/--path)' })
    .option('read-all-packs', { type: 'boolean', default: false, describe: 'index: read every pack\'s header, also of packs a readable index file lists' })
    .options(snapshotOptions)
    .epilog(
      'repair snapshots needs a correct index: after a lost or damaged pack, run `cairn repair index` first. ' +
        'A file that lost blobs keeps the ones that remain, joined; a directory whose tree is lost becomes empty. ' +
        'Without --forget each repaired snapshot is saved next to its original, tagged `repaired`.',
    );

interface Args extends GlobalArgs, RepairSnapshotsArgs {
  what: 'index' | 'snapshots';
  readAllPacks: boolean;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  if (args.what === 'snapshots') {
    if (args.readAllPacks) throw new UsageError('--read-all-packs is an option of `repair index`');
    const { repairSnapshotsCommand } = await import('./repair-snapshots.js');
    return repairSnapshotsCommand(args);
  }
  const given = [args.snapshots?.length && 'snapshots', args.forget && '--forget', args.dryRun && '--dry-run', args.host && '--host', args.tag.length && '--tag', args.path.length && '--path'].filter(Boolean);
  if (given.length) throw new UsageError(`${given.join(', ')}: only \`repair snapshots\` takes ${given.length === 1 ? 'this' : 'these'}`);
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
      out.warn(`warning: data/${p} is listed by the index but missing: left out (\`cairn check\` names the snapshots that need it, \`cairn repair snapshots\` removes what they lose)`);
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
    if (r.missingPacks.length > 0) out.print('packs are gone: run `cairn check` to see which snapshots needed them, and `cairn repair snapshots` to remove what they lost');
    if (r.unreadablePacks.length > 0) process.exitCode = EXIT_ERROR;
  }, 'exclusive', { onIndexError: () => {} }); // the damaged index files are what this repairs
}
