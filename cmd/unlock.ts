import type { ArgumentsCamelCase, Argv } from 'yargs';
import { removeLocks } from '../repo/lock.js';
import { GlobalArgs } from './context.js';
import { withRepository } from './run.js';

export const command = 'unlock';
export const describe = 'remove stale locks (of processes that are gone, or not refreshed for 30 minutes)';
export const builder = (y: Argv) => y.option('remove-all', { type: 'boolean', default: false, describe: 'remove every lock, also those of running processes' });

interface Args extends GlobalArgs {
  removeAll: boolean;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  await withRepository(args, async (repo, out) => {
    const removed = await removeLocks(repo, args.removeAll, (id, err) => out.warn(`warning: locks/${id} cannot be read (${err.message}); \`cairn unlock --remove-all\` removes it`));
    out.emit({ message_type: 'unlock', removed });
    out.print(removed.length === 0 ? 'no lock to remove' : `removed ${removed.length} lock${removed.length === 1 ? '' : 's'}`);
  }, 'none', { syncIndex: false });
}
