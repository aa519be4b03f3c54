import type { ArgumentsCamelCase, Argv } from 'yargs';
import { addKey, changePassword, listKeys, removeKey } from '../repo/keys.js';
import { GlobalArgs } from './context.js';
import { readPassword } from './password.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

export const command = 'key <action> [id]';
export const describe = 'manage passwords: key list | add | remove ID | passwd';
export const builder = (y: Argv) =>
  y
    .positional('action', { choices: ['list', 'add', 'remove', 'passwd'] as const })
    .positional('id', { type: 'string', describe: 'key id (or prefix) for remove' })
    .option('new-password-file', { type: 'string', describe: 'read the new password from this file (else you are asked on a terminal)' });

interface Args extends GlobalArgs {
  action: 'list' | 'add' | 'remove' | 'passwd';
  id?: string;
  newPasswordFile?: string;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  if (args.action === 'remove' && !args.id) throw new UsageError('name the key to remove: `cairn key remove ID` (ids: `cairn key list`)');
  if (args.action !== 'remove' && args.id) throw new UsageError(`key ${args.action} takes no id`);
  // The repository password may come from the environment; the new one only from its file or a prompt.
  const newPassword = () => readPassword({ passwordFile: args.newPasswordFile }, 'enter the new password: ', true, { file: '--new-password-file' });
  await withRepository(args, async (repo, out) => {
    switch (args.action) {
      case 'list': {
        const keys = await listKeys(repo, (id, err) => out.warn(`warning: keys/${id}: ${err.message}`));
        if (out.json) {
          process.stdout.write(JSON.stringify(keys) + '\n');
          return;
        }
        out.print(' ID        User      Host                 Created');
        for (const k of keys) out.print(`${k.current ? '*' : ' '}${k.id.slice(0, 8)}  ${k.user.padEnd(8)}  ${k.host.padEnd(20)} ${k.created.replace('T', ' ').slice(0, 19)}`);
        return;
      }
      case 'add': {
        const id = await addKey(repo, await newPassword());
        out.emit({ message_type: 'key_added', id });
        out.print(`added key ${id.slice(0, 8)}`);
        return;
      }
      case 'remove': {
        const id = await removeKey(repo, args.id!);
        out.emit({ message_type: 'key_removed', id });
        out.print(`removed key ${id.slice(0, 8)}`);
        return;
      }
      case 'passwd': {
        const id = await changePassword(repo, await newPassword());
        out.emit({ message_type: 'password_changed', id, removed: repo.keyName });
        out.print(`password changed: new key ${id.slice(0, 8)}, removed key ${repo.keyName.slice(0, 8)}`);
        return;
      }
    }
  }, 'none', { syncIndex: false });
}
