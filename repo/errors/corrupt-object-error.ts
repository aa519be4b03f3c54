/** A stored object failed to decrypt, decompress or parse. Names the object. */
export class CorruptObjectError extends Error {
  constructor(readonly object: string, readonly detail: string) {
    super(`${object} is damaged: ${detail}. Run \`cairn check --read-data\` to see what it affects`);
    this.name = 'CorruptObjectError';
  }
}
