/** No key file opens with the given password (exit code 12). */
export class WrongPasswordError extends Error {
  readonly exitCode = 12;
  constructor(
    readonly location: string,
    readonly keyFiles: string[] = [],
  ) {
    const tried = keyFiles.length ? ` (tried ${keyFiles.map((k) => `keys/${k.slice(0, 12)}`).join(', ')}; if the password is right, these key files were modified)` : '';
    super(`wrong password for the repository at ${location}${tried}: check --password-file, --password-command or CAIRN_PASSWORD`);
    this.name = 'WrongPasswordError';
  }
}
