/** Where the password comes from: --password-file, --password-command, CAIRN_PASSWORD, or a prompt on a TTY. */
import { promises as fs } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { UsageError } from './usage-error.js';

const execFileP = promisify(execFile);

export interface PasswordSources {
  passwordFile?: string;
  passwordCommand?: string;
}

/** How the sources are called on the command line, and the environment variable read after them. */
export interface PasswordNames {
  file: string;
  command: string;
  env: string;
}

export const REPO_PASSWORD: PasswordNames = { file: '--password-file', command: '--password-command', env: 'CAIRN_PASSWORD' };

export async function readPassword(src: PasswordSources, prompt = 'enter password for repository: ', confirm = false, names = REPO_PASSWORD): Promise<string> {
  if (src.passwordFile) {
    const text = await fs.readFile(src.passwordFile, 'utf8').catch((err) => {
      throw new UsageError(`cannot read ${names.file} ${src.passwordFile}: ${(err as Error).message}`);
    });
    return firstLine(text);
  }
  if (src.passwordCommand) {
    try {
      // Through the shell, as restic does, so quoting in the command works; the password only travels on stdout.
      const { stdout } = await execFileP('/bin/sh', ['-c', src.passwordCommand], { maxBuffer: 1 << 20 });
      return firstLine(stdout);
    } catch (err) {
      throw new UsageError(`${names.command} failed: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const fromEnv = process.env[names.env];
  if (fromEnv !== undefined) return fromEnv;
  if (process.stdin.isTTY && process.stderr.isTTY) {
    const pw = await promptHidden(prompt);
    if (confirm && (await promptHidden('enter the password again: ')) !== pw) throw new UsageError('the passwords do not match');
    if (pw === '') throw new UsageError('an empty password is not allowed');
    return pw;
  }
  throw new UsageError(`no password given: use ${names.file}, ${names.command} or ${names.env} (or run on a terminal to be asked)`);
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
