/**
 * Where the password comes from, as restic looks: --password-file, --password-command,
 * then their variables CAIRN_PASSWORD_FILE and CAIRN_PASSWORD_COMMAND (for cron jobs and
 * systemd units that should not hold the password itself), CAIRN_PASSWORD, or a prompt on
 * a terminal.
 */
import { promises as fs } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { UsageError } from './usage-error.js';

const execFileP = promisify(execFile);

export interface PasswordSources {
  passwordFile?: string;
  passwordCommand?: string;
}

/** How the sources are called on the command line, and the environment variables read when the flags are absent. */
export interface PasswordNames {
  file: string;
  command?: string;
  /** None for a new password: it must not be taken from the current one's variables. */
  env?: { password: string; file: string; command: string };
}

export const REPO_PASSWORD: PasswordNames = {
  file: '--password-file',
  command: '--password-command',
  env: { password: 'CAIRN_PASSWORD', file: 'CAIRN_PASSWORD_FILE', command: 'CAIRN_PASSWORD_COMMAND' },
};

/** Whether a password can come from somewhere other than a prompt (`backup --stdin` reads stdin itself). */
export function passwordGivenWithoutPrompt(src: PasswordSources, names = REPO_PASSWORD): boolean {
  if (src.passwordFile || src.passwordCommand) return true;
  return !!names.env && [names.env.password, names.env.file, names.env.command].some((v) => process.env[v] !== undefined);
}

export async function readPassword(src: PasswordSources, prompt = 'enter password for repository: ', confirm = false, names = REPO_PASSWORD): Promise<string> {
  const env = names.env;
  if (src.passwordFile) return readPasswordFile(src.passwordFile, names.file);
  if (src.passwordCommand) return runPasswordCommand(src.passwordCommand, names.command!);
  if (env && process.env[env.file]) return readPasswordFile(process.env[env.file]!, env.file);
  if (env && process.env[env.command]) return runPasswordCommand(process.env[env.command]!, env.command);
  const fromEnv = env && process.env[env.password];
  if (fromEnv !== undefined) return fromEnv;
  if (process.stdin.isTTY && process.stderr.isTTY) {
    const pw = await promptHidden(prompt);
    if (confirm && (await promptHidden('enter the password again: ')) !== pw) throw new UsageError('the passwords do not match');
    if (pw === '') throw new UsageError('an empty password is not allowed');
    return pw;
  }
  const ways = [names.file, names.command, env?.file, env?.command, env?.password].filter(Boolean);
  throw new UsageError(`no password given: use ${ways.slice(0, -1).join(', ')}${ways.length > 1 ? ' or ' : ''}${ways[ways.length - 1]} (or run on a terminal to be asked)`);
}

/** `source` names where the path came from (a flag or a variable), for the message. */
async function readPasswordFile(file: string, source: string): Promise<string> {
  const text = await fs.readFile(file, 'utf8').catch((err) => {
    throw new UsageError(`cannot read ${source} ${file}: ${(err as Error).message}`);
  });
  return firstLine(text);
}

async function runPasswordCommand(command: string, source: string): Promise<string> {
  try {
    // Through the shell, as restic does, so quoting in the command works; the password only travels on stdout.
    const { stdout } = await execFileP('/bin/sh', ['-c', command], { maxBuffer: 1 << 20 });
    return firstLine(stdout);
  } catch (err) {
    throw new UsageError(`${source} failed: ${(err as Error).message.split('\n')[0]}`);
  }
}

function firstLine(s: string): string {
  const line = s.split(/\r?\n/)[0];
  if (line === '') throw new UsageError('the password is empty');
  return line;
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let pw = '';
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(pw);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new UsageError('interrupted'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') pw = pw.slice(0, -1);
        else pw += ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}
