/** Storing an image map in a repository and reading it back part by part. */
import { CorruptObjectError } from './errors/corrupt-object-error.js';
import {
  decodePart, decodeRoot, encodePart, encodeRoot, floorIndex, MapExtent, MapPart, MapRoot, normalizeExtents, splitIntoParts,
} from './image-map.js';
import { Repository } from './repository.js';

/** Saves the extents as map parts and a root; returns the root blob's id. */
export async function saveImageMap(repo: Repository, extents: MapExtent[], size: number): Promise<string> {
  const parts = splitIntoParts(normalizeExtents(extents, size), size);
  const entries = [];
  for (const p of parts) entries.push({ start: p.start, end: p.end, id: await repo.saveBlob('tree', encodePart(p)) });
  return repo.saveBlob('tree', encodeRoot({ size, parts: entries }));
}

/** Parts kept decoded; a part is at most 1 MiB, about 50,000 extents. */
const PART_CACHE = 8;

export class StoredImageMap {
  private readonly cache = new Map<string, Promise<MapPart>>();

  private constructor(
    private readonly repo: Repository,
    readonly root: MapRoot,
  ) {}

  static async load(repo: Repository, rootId: string): Promise<StoredImageMap> {
    try {
      return new StoredImageMap(repo, decodeRoot(await repo.loadBlob(rootId)));
    } catch (err) {
      if (err instanceof CorruptObjectError) throw err;
      throw new CorruptObjectError(`image map root ${rootId}`, (err as Error).message);
    }
  }

  get size(): number {
    return this.root.size;
  }

  part(i: number): Promise<MapPart> {
    const entry = this.root.parts[i];
    let p = this.cache.get(entry.id);
    if (p) {
      this.cache.delete(entry.id);
    } else {
      p = this.repo.loadBlob(entry.id).then((bytes) => {
        let part: MapPart;
        try {
          part = decodePart(bytes);
        } catch (err) {
          throw new CorruptObjectError(`image map part ${entry.id}`, (err as Error).message);
        }
        if (part.start !== entry.start || part.end !== entry.end) {
          throw new CorruptObjectError(`image map part ${entry.id}`, `covers [${part.start}, ${part.end}), the root says [${entry.start}, ${entry.end})`);
        }
        return part;
      });
      p.catch(() => this.cache.delete(entry.id));
      if (this.cache.size >= PART_CACHE) this.cache.delete(this.cache.keys().next().value as string);
    }
    this.cache.set(entry.id, p);
    return p;
  }

  /** The extents that overlap [from, to), in order; loads only the parts concerned. */
  async *extentsIn(from: number, to: number): AsyncGenerator<MapExtent> {
    const parts = this.root.parts;
    for (let i = Math.max(0, floorIndex(parts, from, (p) => p.start)); i < parts.length && parts[i].start < to; i++) {
      const { extents } = await this.part(i);
      for (let j = Math.max(0, floorIndex(extents, from, (e) => e.imageOffset)); j < extents.length; j++) {
        const e = extents[j];
        if (e.imageOffset >= to) break;
        if (e.imageOffset + e.length > from) yield e;
      }
    }
  }

  /** Every extent, part by part. */
  async *all(): AsyncGenerator<MapExtent> {
    for (let i = 0; i < this.root.parts.length; i++) yield* (await this.part(i)).extents;
  }
}
