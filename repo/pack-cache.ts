/**
 * Whole packs kept in memory up to a byte budget, least recently used dropped first.
 * Tree packs go through here: walking a snapshot loads one tree per directory, and trees
 * written together sit in the same pack, so one read serves hundreds of directories
 * instead of one request each. Concurrent requests for a pack share one read.
 */
export class PackCache {
  private readonly packs = new Map<string, Promise<Uint8Array>>();
  private readonly sizes = new Map<string, number>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(name: string, load: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const hit = this.packs.get(name);
    if (hit) {
      this.packs.delete(name);
      this.packs.set(name, hit);
      return hit;
    }
    const p = load().then(
      (bytes) => {
        if (this.packs.get(name) === p) {
          this.sizes.set(name, bytes.length);
          this.bytes += bytes.length;
          this.evict(name);
        }
        return bytes;
      },
      (err) => {
        if (this.packs.get(name) === p) this.packs.delete(name);
        throw err;
      },
    );
    this.packs.set(name, p);
    return p;
  }

  /** Drops the oldest loaded packs until within budget; `keep` (just loaded) stays even if alone over it. */
  private evict(keep: string): void {
    for (const name of this.packs.keys()) {
      if (this.bytes <= this.maxBytes) return;
      const size = this.sizes.get(name);
      if (name === keep || size === undefined) continue;
      this.packs.delete(name);
      this.sizes.delete(name);
      this.bytes -= size;
    }
  }
}
