/** A mistake in how cairn was called; printed without a stack trace, exit code 1. */
export class UsageError extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
