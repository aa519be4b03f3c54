import { Repository } from '../repo/repository.js';
import { GlobalArgs, openRepository } from './context.js';
import { Output } from './output.js';

/** Opens the repository for a command and always closes it (releasing the cache). */
export async function withRepository<T>(args: GlobalArgs, fn: (repo: Repository, out: Output) => Promise<T>): Promise<T> {
  const out = new Output(!!args.json, !!args.quiet);
  const repo = await openRepository(args, out);
  try {
    return await fn(repo, out);
  } finally {
    await repo.close();
  }
}
