import type { ArgumentsCamelCase, Argv } from 'yargs';
import { toHex, fromHex } from '../repo/hex.js';
import { openJson, openFile } from '../repo/sealed-file.js';
import { decodeIndex } from '../repo/index-format.js';
import { readPackHeader } from '../repo/pack-header.js';
import { GlobalArgs } from './context.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

export const command = 'cat <type> [id]';
export const describe = 'print a repository object, decrypted (config, snapshot, index, pack, blob, key)';
export const builder = (y: Argv) =>
  y.positional('type', { choices: ['config', 'snapshot', 'index', 'pack', 'blob', 'key'] as const }).positional('id', { type: 'string' });

interface Args extends GlobalArgs {
  type: 'config' | 'snapshot' | 'index' | 'pack' | 'blob' | 'key';
  id?: string;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  await withRepository(args, async (repo) => {
    const show = (v: unknown) => process.stdout.write(JSON.stringify(v, null, 2) + '\n');
    if (args.type === 'config') return show(repo.config);
    if (!args.id) throw new UsageError(`cat ${args.type} needs an id`);
    const id = args.id;
    switch (args.type) {
      case 'snapshot':
        return show(openJson(repo.key.encrypt, await repo.backend.load({ type: 'snapshots', name: id }), `snapshots/${id}`));
      case 'key':
        return process.stdout.write(Buffer.from(await repo.backend.load({ type: 'keys', name: id })));
      case 'index': {
        const idx = decodeIndex(openFile(repo.key.encrypt, await repo.backend.load({ type: 'index', name: id }), `index/${id}`));
        return show({ supersedes: idx.supersedes, packs: idx.packs.map((p) => ({ ...p, blobs: p.blobs.map((b) => ({ ...b, id: toHex(b.id) })) })) });
      }
      case 'pack': {
        const { size } = await repo.backend.stat({ type: 'data', name: id });
        return show((await readPackHeader(repo, id, size)).map((b) => ({ ...b, id: toHex(b.id) })));
      }
      case 'blob': {
        const data = await repo.loadBlob(fromHex(id));
        return process.stdout.write(data);
      }
    }
  });
}
