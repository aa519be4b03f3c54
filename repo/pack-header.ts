/**
 * Reads a pack's own list of its blobs from its tail: the sealed header and, in the last
 * 4 bytes, the header's length. Only two ranged reads, so it costs little on S3 too; for
 * packs that no readable index lists (check, repair index).
 */
import { open as openSealed } from '../crypto/aead.js';
import { BlobEntry } from './blob.js';
import { decodePackHeader } from './pack-format.js';
import { Repository } from './repository.js';

export async function readPackHeader(repo: Repository, id: string, size: number): Promise<BlobEntry[]> {
  const h = { type: 'data' as const, name: id };
  if (size < 4) throw new Error('pack too short');
  const len = Buffer.from(await repo.backend.load(h, size - 4, 4)).readUInt32LE(0);
  if (len + 4 > size) throw new Error('header length points outside the pack');
  return decodePackHeader(openSealed(repo.key.encrypt, await repo.backend.load(h, size - 4 - len, len)), size);
}
