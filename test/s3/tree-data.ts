/** Large deterministic test trees of incompressible data, generated fast (AES-CTR keystream). */
import { createCipheriv, createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

const BLOCK = 1 << 20;

/** `size` pseudo-random bytes, the same for the same seed, written in 1 MiB steps. */
export async function writeRandomFile(file: string, size: number, seed: string): Promise<void> {
  const key = createHash('sha256').update(`key:${seed}`).digest();
  const iv = createHash('sha256').update(`iv:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  const zeros = Buffer.alloc(BLOCK);
  const fh = await fs.open(file, 'w');
  try {
    for (let done = 0; done < size; done += BLOCK) {
      await fh.write(cipher.update(zeros.subarray(0, Math.min(BLOCK, size - done))));
    }
  } finally {
    await fh.close();
  }
}

/**
 * A tree of about `totalBytes`: a few large files (many chunks each), medium files
 * around the chunk size, and many small ones in nested directories.
 */
export async function writeRandomTree(root: string, totalBytes: number, seed: string): Promise<{ files: number; bytes: number }> {
  let bytes = 0;
  let files = 0;
  const add = async (rel: string, size: number) => {
    const p = path.join(root, rel);
    await fs.mkdir(path.dirname(p), { recursive: true });
    await writeRandomFile(p, size, `${seed}/${rel}`);
    bytes += size;
    files++;
  };
  for (let i = 0; i < 200; i++) await add(`small/d${i % 10}/f${i}.bin`, 1000 + ((i * 7919) % 60_000));
  for (let i = 0; i < 20; i++) await add(`medium/m${i}.bin`, 700_000 + i * 90_001);
  for (let i = 0; bytes < totalBytes; i++) await add(`large/l${i}.bin`, Math.min(24 * BLOCK + i * 4099, totalBytes - bytes));
  return { files, bytes };
}
