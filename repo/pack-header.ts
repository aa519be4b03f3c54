/**
 * Reads a pack's own list of its blobs from its tail: the sealed header and, in the last
 * 4 bytes, the header's length. Only two ranged reads, so it costs little on S3 too; for
 * packs that no readable index lists (check, repair index).
 */
import { open as openSealed } from '../crypto/aead.js';
import { mapLimit } from '../backends/concurrency.js';
import { toHex } from './hex.js';
import { BlobEntry } from './blob.js';
import { decodePackHeader, sealedHeaderLength } from './pack-format.js';
import { Repository } from './repository.js';

export async function readPackHeader(repo: Repository, id: string, size: number): Promise<BlobEntry[]> {
  const h = { type: 'data' as const, name: id };
  if (size < 4) throw new Error('pack too short');
  const len = sealedHeaderLength(size, await repo.backend.load(h, size - 4, 4));
  return decodePackHeader(openSealed(repo.key.encrypt, await repo.backend.load(h, size - 4 - len, len)), size);
}

/**
 * The blobs of packs that no index lists (`present` minus `listed`), by blob id: packs an
 * interrupted backup left, or whose index file was lost. A pack whose header cannot be
 * read adds nothing: without it, its blobs cannot be located.
 */
export async function unindexedBlobs(repo: Repository, listed: { has(pack: string): boolean }, present: Map<string, number>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const stray = [...present.keys()].filter((id) => !listed.has(id)).sort();
  await mapLimit(stray, 8, async (id) => {
    try {
      for (const b of await readPackHeader(repo, id, present.get(id)!)) out.set(toHex(b.id), id);
    } catch {
      // Reported by whoever needs those blobs, as missing.
    }
  });
  return out;
}
