import type { ArgumentsCamelCase, Argv } from 'yargs';
import type { FileType } from '../backends/backend.js';
import { toHex } from '../repo/hex.js';
import type { Repository } from '../repo/repository.js';
import { GlobalArgs } from './context.js';
import { withRepository } from './run.js';

/** The object kinds, named as restic's `list` names them. */
const KINDS: Record<string, FileType | 'blobs'> = { snapshots: 'snapshots', index: 'index', packs: 'data', keys: 'keys', locks: 'locks', blobs: 'blobs' };

export const command = 'list <type>';
export const describe = "list the ids of snapshots, index, packs, keys or locks; blobs: each blob's type and id, from the index";
export const builder = (y: Argv) => y.positional('type', { choices: Object.keys(KINDS) });

interface Args extends GlobalArgs {
  type: keyof typeof KINDS;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  const kind = KINDS[args.type];
  // Only blobs come from the index; the other kinds are object names, listed as they are.
  await withRepository(args, async (repo, out) => {
    for await (const item of items(repo, kind)) {
      if (out.json) out.emit(item);
      else process.stdout.write(item.type ? `${item.type} ${item.id}\n` : `${item.id}\n`);
    }
  }, 'none', { syncIndex: kind === 'blobs' });
}

async function* items(repo: Repository, kind: FileType | 'blobs'): AsyncIterable<{ id: string; type?: string }> {
  if (kind === 'blobs') {
    for await (const b of repo.index.entries()) yield { type: b.type, id: toHex(b.id) };
  } else {
    for await (const f of repo.backend.list(kind)) yield { id: f.name };
  }
}
