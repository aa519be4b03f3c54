import { AlreadyExistsError, Backend, FileType, Handle, NotFoundError, Leftovers, ObjectInfo, ObjectWriter } from './backend.js';

/** Keeps objects in a Map; makes repository tests fast and needs no cleanup. */
export class MemoryBackend implements Backend {
  private readonly objects = new Map<string, Uint8Array>();

  location(): string {
    return 'memory:';
  }

  async create(): Promise<void> {}

  async isRepository(): Promise<boolean> {
    return this.objects.has(key({ type: 'config', name: '' }));
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    const k = key(h);
    if (h.type !== 'locks' && this.objects.has(k)) throw new AlreadyExistsError(h, this.location());
    this.objects.set(k, Uint8Array.from(data));
  }

  async load(h: Handle, offset = 0, length?: number): Promise<Uint8Array> {
    const data = this.objects.get(key(h));
    if (!data) throw new NotFoundError(h, this.location());
    const end = length === undefined ? data.length : Math.min(data.length, offset + length);
    return data.slice(offset, end);
  }

  async stat(h: Handle): Promise<ObjectInfo> {
    const data = this.objects.get(key(h));
    if (!data) throw new NotFoundError(h, this.location());
    return { name: h.name, size: data.length };
  }

  async *list(type: FileType): AsyncIterable<ObjectInfo> {
    if (type === 'config') {
      const config = this.objects.get('config');
      if (config) yield { name: '', size: config.length };
      return;
    }
    const prefix = `${type}/`;
    for (const [k, v] of [...this.objects]) {
      if (k.startsWith(prefix)) yield { name: k.slice(prefix.length), size: v.length };
    }
  }

  async remove(h: Handle): Promise<void> {
    this.objects.delete(key(h));
  }

  async removeLeftovers(): Promise<Leftovers> {
    return { files: 0, bytes: 0 };
  }

  async close(): Promise<void> {}

  /** Gathers the pieces and saves them whole, so that tests cover the callers' piecewise path. */
  openWriter(): ObjectWriter {
    const pieces: Uint8Array[] = [];
    return {
      write: async (bytes) => void pieces.push(bytes),
      commit: (h) => this.save(h, Buffer.concat(pieces.splice(0))),
      abort: async () => void pieces.splice(0),
    };
  }
}

function key(h: Handle): string {
  return h.type === 'config' ? 'config' : `${h.type}/${h.name}`;
}
