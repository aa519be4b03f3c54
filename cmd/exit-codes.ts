/** Exit codes: 0 ok, 1 error, 3 some files could not be read, 10 no repository, 11 locked, 12 wrong password (130 and 143: cmd/interrupt.ts). */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_PARTIAL = 3;

export function exitCodeFor(err: unknown): number {
  const code = (err as { exitCode?: unknown })?.exitCode;
  return typeof code === 'number' ? code : EXIT_ERROR;
}

export function messageFor(err: unknown): string {
  const e = err as Error;
  const known = ['UsageError', 'RepositoryNotFoundError', 'WrongPasswordError', 'CorruptObjectError', 'SnapshotNotFoundError', 'PathNotFoundError', 'NoSpaceError', 'PermanentError', 'StoreNotFoundError', 'DiskFormatError', 'LockConflictError'];
  if (e && known.includes(e.name)) return `error: ${e.message}`;
  if (process.env.CAIRN_DEBUG) return `error: ${e?.stack ?? String(err)}`;
  return `error: ${e?.message ?? String(err)}`;
}
