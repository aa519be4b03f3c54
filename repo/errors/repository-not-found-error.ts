/** No repository at the given location (exit code 10). */
export class RepositoryNotFoundError extends Error {
  readonly exitCode = 10;
  constructor(readonly location: string) {
    super(`no repository at ${location}: create one with \`cairn init --repo ${location}\`, or check --repo / CAIRN_REPOSITORY`);
    this.name = 'RepositoryNotFoundError';
  }
}
