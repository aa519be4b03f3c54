/**
 * Random access to an image snapshot: reads go through the map and load only the blobs
 * they touch, with a small cache, so a mount or a disk/ reader over a snapshot never
 * loads the whole image.
 */
import type { ReadAt } from '../disk/source.js';
import { CorruptObjectError } from './errors/corrupt-object-error.js';
import { StoredImageMap } from './image-map-store.js';
import { imageInfo } from './image-snapshot.js';
import { Repository } from './repository.js';
import { Snapshot } from './snapshot.js';

/** Decoded blobs kept; blobs average 1 MiB, so this is about 64 MiB. */
const BLOB_CACHE = 64;

export class BlobCache {
  private readonly blobs = new Map<string, Promise<Uint8Array>>();

  constructor(
    private readonly repo: Repository,
    private readonly capacity = BLOB_CACHE,
  ) {}

  get(id: string): Promise<Uint8Array> {
    let b = this.blobs.get(id);
    if (b) this.blobs.delete(id);
    else {
      b = this.repo.loadBlob(id);
      b.catch(() => this.blobs.delete(id));
      if (this.blobs.size >= this.capacity) this.blobs.delete(this.blobs.keys().next().value as string);
    }
    this.blobs.set(id, b);
    return b;
  }
}

export async function openImageSnapshot(repo: Repository, snapshot: Snapshot, id = ''): Promise<ReadAt> {
  const info = imageInfo(snapshot, id);
  const map = await StoredImageMap.load(repo, info.mapRoot);
  if (map.size !== info.size) throw new CorruptObjectError(`snapshots/${id}`, `image size ${info.size} differs from its map's ${map.size}`);
  return imageReadAt(repo, map);
}

export function imageReadAt(repo: Repository, map: StoredImageMap): ReadAt {
  const blobs = new BlobCache(repo);
  return {
    size: map.size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
        throw new RangeError(`invalid read: offset ${offset}, length ${length}`);
      }
      const end = Math.min(map.size, offset + length);
      if (end <= offset) return new Uint8Array(0);
      const out = new Uint8Array(end - offset);
      for await (const e of map.extentsIn(offset, end)) {
        const from = Math.max(offset, e.imageOffset);
        const to = Math.min(end, e.imageOffset + e.length);
        const data = await blobs.get(e.blob);
        const at = e.blobOffset + (from - e.imageOffset);
        if (at + (to - from) > data.length) throw new CorruptObjectError(`blob ${e.blob}`, `the image map reads past its end (${data.length} bytes)`);
        out.set(data.subarray(at, at + (to - from)), from - offset);
      }
      return out;
    },
  };
}
