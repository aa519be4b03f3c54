/** No key file opens with the given password (exit code 12). */
export class WrongPasswordError extends Error {
  readonly exitCode = 12;
  constructor(readonly location: string) {
    super(`wrong password for the repository at ${location} (or its key files were modified): check --password-file, --password-command or CAIRN_PASSWORD`);
    this.name = 'WrongPasswordError';
  }
}
