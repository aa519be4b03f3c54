import type { ArgumentsCamelCase, Argv } from 'yargs';
import { resolveSnapshot } from '../repo/snapshot-select.js';
import { findNode } from '../repo/tree-walk.js';
import { nameBytes } from '../repo/tree.js';
import { GlobalArgs } from './context.js';
import { formatBytes } from './output.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

export const command = 'dump <snapshot> <path>';
export const describe = "write one file's content from a snapshot to stdout; a directory as a tar or zip archive";
export const builder = (y: Argv) =>
  y
    .positional('snapshot', { type: 'string', describe: 'snapshot id, prefix, or latest' })
    .positional('path', { type: 'string', describe: 'file or directory inside the snapshot (/ for all of it)' })
    .option('archive', { choices: ['tar', 'zip'] as const, default: 'tar' as const, describe: 'the format a directory is written in' })
    .epilog(
      'A directory is written as an archive of everything below it, named from its own name down: `cairn dump latest /etc > etc.tar`. ' +
        'tar (POSIX pax) keeps modes, owners, times, links, device nodes and xattrs; zip keeps directories, files (deflated), symlinks, modes and times.',
    );

interface Args extends GlobalArgs {
  snapshot: string;
  path: string;
  archive: 'tar' | 'zip';
}

/** Writes to stdout, waiting while its buffer is full, so a slow reader holds the dump back. */
async function writeOut(data: Uint8Array): Promise<void> {
  if (!process.stdout.write(data)) await new Promise((r) => process.stdout.once('drain', r));
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  await withRepository(args, async (repo, out) => {
    const ref = await resolveSnapshot(repo, args.snapshot);
    const node = await findNode(repo, ref.snapshot.tree, args.path);
    if (node.type === 'dir') {
      if (process.stdout.isTTY) throw new UsageError(`${args.path} is a directory, which dump writes as a ${args.archive} archive: redirect the output to a file or a pipe, e.g. \`cairn dump ${args.snapshot} ${args.path} > x.${args.archive}\``);
      const { dumpArchive } = await import('../repo/dump-archive.js');
      const s = await dumpArchive(repo, node, nameBytes(node), args.archive, writeOut);
      out.info(`wrote a ${args.archive} archive of ${s.entries} entries, ${formatBytes(s.bytes)} of file content`);
      return;
    }
    if (node.type !== 'file') throw new UsageError(`${args.path} is a ${node.type}, not a file: use \`cairn restore ${args.snapshot}:${args.path} --target DIR\``);
    // Fetch ahead while writing, so the repository and stdout work at the same time.
    const ids = node.content ?? [];
    const ahead = 4;
    const loads: Promise<Uint8Array>[] = [];
    for (let i = 0; i < ids.length; i++) {
      while (loads.length < ahead && i + loads.length < ids.length) loads.push(repo.loadBlob(ids[i + loads.length]));
      await writeOut(await loads.shift()!);
    }
  });
}
