import { promises as fs } from 'node:fs';
import { UsageError } from './usage-error.js';

/** The text of a file named by a flag (`--exclude-file`, `--files-from`), "-" being stdin. */
export async function readArgFile(f: string, flag: string): Promise<string> {
  try {
    if (f !== '-') return await fs.readFile(f, 'utf8');
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${flag} ${f}: ${(e as Error).message}`);
  }
}
