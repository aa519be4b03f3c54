export class SnapshotNotFoundError extends Error {
  constructor(readonly query: string, reason = 'no snapshot matches') {
    super(`${reason} "${query}": list snapshots with \`cairn snapshots\``);
    this.name = 'SnapshotNotFoundError';
  }
}
