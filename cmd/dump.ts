import type { ArgumentsCamelCase, Argv } from 'yargs';
import { resolveSnapshot } from '../repo/snapshot-select.js';
import { findNode } from '../repo/tree-walk.js';
import { GlobalArgs } from './context.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

export const command = 'dump <snapshot> <path>';
export const describe = "write one file's content from a snapshot to stdout";
export const builder = (y: Argv) =>
  y.positional('snapshot', { type: 'string', describe: 'snapshot id, prefix, or latest' }).positional('path', { type: 'string', describe: 'file inside the snapshot' });

interface Args extends GlobalArgs {
  snapshot: string;
  path: string;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  await withRepository(args, async (repo) => {
    const ref = await resolveSnapshot(repo, args.snapshot);
    const node = await findNode(repo, ref.snapshot.tree, args.path);
    if (node.type !== 'file') throw new UsageError(`${args.path} is a ${node.type}, not a file: use \`cairn restore ${args.snapshot}:${args.path} --target DIR\``);
    // Fetch ahead while writing, so the repository and stdout work at the same time.
    const ids = node.content ?? [];
    const ahead = 4;
    const loads: Promise<Uint8Array>[] = [];
    for (let i = 0; i < ids.length; i++) {
      while (loads.length < ahead && i + loads.length < ids.length) loads.push(repo.loadBlob(ids[i + loads.length]));
      const data = await loads.shift()!;
      if (!process.stdout.write(data)) await new Promise((r) => process.stdout.once('drain', r));
    }
  });
}
