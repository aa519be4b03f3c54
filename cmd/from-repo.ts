/**
 * The source repository of `copy` and `init --from-repo`, named as restic names it:
 * --from-repo / CAIRN_FROM_REPOSITORY, and a password from --from-password-file,
 * --from-password-command, CAIRN_FROM_PASSWORD or a prompt.
 */
import { OpenOptions, Repository } from '../repo/repository.js';
import { GlobalArgs, openBackendFor } from './context.js';
import { Output } from './output.js';
import { PasswordNames, readPassword } from './password.js';
import { UsageError } from './usage-error.js';

export interface FromRepoArgs {
  fromRepo?: string;
  fromPasswordFile?: string;
  fromPasswordCommand?: string;
}

const FROM_PASSWORD: PasswordNames = {
  file: '--from-password-file',
  command: '--from-password-command',
  env: { password: 'CAIRN_FROM_PASSWORD', file: 'CAIRN_FROM_PASSWORD_FILE', command: 'CAIRN_FROM_PASSWORD_COMMAND' },
};

export const fromRepoOptions = {
  'from-repo': { type: 'string', describe: 'source repository (default: $CAIRN_FROM_REPOSITORY)' },
  'from-password-file': { type: 'string', describe: 'read the source repository\'s password from this file' },
  'from-password-command': { type: 'string', describe: 'run this shell command and use its output as the source repository\'s password' },
} as const;

export function sourceLocation(args: FromRepoArgs): string | undefined {
  return args.fromRepo ?? process.env.CAIRN_FROM_REPOSITORY;
}

export async function openSourceRepository(args: GlobalArgs & FromRepoArgs, out: Output, opts: Partial<OpenOptions> = {}): Promise<Repository> {
  const location = sourceLocation(args);
  if (!location) throw new UsageError('name the source repository with --from-repo or CAIRN_FROM_REPOSITORY');
  const backend = await openBackendFor(args, location, out);
  const password = await readPassword({ passwordFile: args.fromPasswordFile, passwordCommand: args.fromPasswordCommand }, `enter password for the source repository ${location}: `, false, FROM_PASSWORD);
  return Repository.open(backend, password, { cacheDir: args.cacheDir, connections: args.connections, ...opts });
}
