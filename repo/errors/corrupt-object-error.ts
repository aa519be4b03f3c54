/** A stored object failed to decrypt, decompress or parse. Names the object, and what to do next. */
export class CorruptObjectError extends Error {
  constructor(readonly object: string, readonly detail: string, advice = 'Run `cairn check --read-data` to see what it affects') {
    super(`${object} is damaged: ${detail}. ${advice}`);
    this.name = 'CorruptObjectError';
  }
}
