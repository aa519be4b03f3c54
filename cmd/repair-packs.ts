/** `cairn repair packs`, dispatched to by `cairn repair` (cmd/repair.ts). */
import { GlobalArgs } from './context.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

export async function repairPacksCommand(args: GlobalArgs, ids: string[], saveTo: string) {
  if (ids.length === 0) throw new UsageError('`repair packs` needs the ids of the damaged packs (`cairn check --read-data` names them)');
  const { repairPacks } = await import('../repo/repair-packs.js');
  await withRepository(args, async (repo, out, lock) => {
    const results = await repairPacks(repo, ids, {
      saveTo,
      lock,
      onPack: (r) => {
        out.emit({ message_type: 'pack', pack: r.pack, saved_as: r.savedAs, blobs: r.blobs, salvaged: r.salvaged, elsewhere: r.elsewhere, lost: r.lost, header_problem: r.headerProblem });
        if (r.headerProblem) out.warn(`warning: data/${r.pack}: its header cannot be read (${r.headerProblem}); its blobs are taken from the index`);
        for (const b of r.lost) out.warn(`error: data/${r.pack}: ${b.type} blob ${b.id} is lost (${b.detail})`);
        out.print(`data/${r.pack}: ${r.salvaged} of ${r.blobs} blobs kept in new packs, ${r.elsewhere} found sound in other packs, ${r.lost.length} lost; the damaged pack is saved as ${r.savedAs}`);
      },
    });
    const lost = results.reduce((n, r) => n + r.lost.length, 0);
    out.emit({ message_type: 'summary', packs_removed: results.length, blobs_salvaged: results.reduce((n, r) => n + r.salvaged, 0), blobs_lost: lost });
    out.print(`removed ${results.length} damaged pack${results.length === 1 ? '' : 's'} from the repository and the index`);
    if (lost > 0) {
      out.warn(
        `${lost} blob${lost === 1 ? ' is' : 's are'} lost. If the files that held them still exist unchanged, \`cairn backup --force\` of the same paths ` +
          'stores them again and the older snapshots that used them are whole again; otherwise `cairn repair snapshots --forget` removes what they lost. ' +
          '`cairn check` names the snapshots that need them.',
      );
    }
  }, 'exclusive');
}
