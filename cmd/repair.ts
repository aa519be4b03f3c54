import type { ArgumentsCamelCase, Argv } from 'yargs';
import { GlobalArgs } from './context.js';
import { EXIT_ERROR } from './exit-codes.js';
import { options as snapshotOptions, RepairSnapshotsArgs } from './repair-snapshots.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

export const command = 'repair <what> [ids..]';
export const describe =
  'repair index: rebuild the index from the packs (after a damaged or lost index file); ' +
  'repair packs ID...: keep the sound blobs of damaged packs and remove the packs (a copy of each is saved first); ' +
  'repair snapshots: remove missing content and directories from snapshots (after a lost pack), so check passes and prune runs';
export const builder = (y: Argv) =>
  y
    .positional('what', { choices: ['index', 'packs', 'snapshots'] as const })
    .positional('ids', { type: 'string', array: true, describe: 'packs: pack ids (as check names them); snapshots: snapshot ids, id prefixes or `latest` (default: all that match --host/--tag/--path)' })
    .option('read-all-packs', { type: 'boolean', default: false, describe: 'index: read every pack\'s header, also of packs a readable index file lists' })
    .option('save-to', { type: 'string', describe: 'packs: directory for the copies of the damaged packs (default: the current directory)' })
    .options(snapshotOptions)
    .epilog(
      'After `cairn check --read-data` names damaged packs: `cairn repair packs ID...`, then, for what was lost, ' +
        '`cairn backup --force` of the same paths if the files still exist (older snapshots become whole again), else `cairn repair snapshots --forget`. ' +
        'repair snapshots needs a correct index: after a lost or damaged pack, run `cairn repair index` first. ' +
        'A file that lost blobs keeps the ones that remain, joined; a directory whose tree is lost becomes empty. ' +
        'Without --forget each repaired snapshot is saved next to its original, tagged `repaired`.',
    );

interface Args extends GlobalArgs, Omit<RepairSnapshotsArgs, 'snapshots'> {
  what: 'index' | 'packs' | 'snapshots';
  ids?: string[];
  readAllPacks: boolean;
  saveTo?: string;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  const only = (what: string, given: unknown[]) => {
    const named = given.filter((g): g is string => typeof g === 'string');
    if (named.length) throw new UsageError(`${named.join(', ')}: only \`repair ${what}\` takes ${named.length === 1 ? 'this' : 'these'}`);
  };
  const snapshotFlags = [args.forget && '--forget', args.dryRun && '--dry-run', args.host && '--host', args.tag.length && '--tag', args.path.length && '--path'];
  if (args.what !== 'index') only('index', [args.readAllPacks && '--read-all-packs']);
  if (args.what !== 'packs') only('packs', [args.saveTo !== undefined && '--save-to']);
  if (args.what === 'snapshots') {
    const { repairSnapshotsCommand } = await import('./repair-snapshots.js');
    return repairSnapshotsCommand({ ...args, snapshots: args.ids });
  }
  only('snapshots', snapshotFlags);
  if (args.what === 'packs') {
    const { repairPacksCommand } = await import('./repair-packs.js');
    return repairPacksCommand(args, args.ids ?? [], args.saveTo ?? '.');
  }
  if (args.ids?.length) throw new UsageError('`repair index` takes no ids: it reads every index file and lists every pack');
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
