/** Another cairn process holds a lock that conflicts with the one asked for. */
export class LockConflictError extends Error {
  readonly exitCode = 11;
  constructor(message: string) {
    super(message);
    this.name = 'LockConflictError';
  }
}
