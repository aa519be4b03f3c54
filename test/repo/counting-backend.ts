import { Handle } from '../../backends/backend.js';
import { MemoryBackend } from '../../backends/memory.js';

/** Counts pack reads, and damages every byte read from one pack on request. */
export class CountingBackend extends MemoryBackend {
  reads: Array<{ name: string; offset?: number; length?: number }> = [];
  corrupt?: string;
  override async load(h: Handle, offset?: number, length?: number): Promise<Uint8Array> {
    const bytes = await super.load(h, offset, length);
    if (h.type !== 'data') return bytes;
    this.reads.push({ name: h.name, offset, length });
    if (h.name === this.corrupt) for (let i = 0; i < bytes.length; i++) bytes[i] ^= 0xff;
    return bytes;
  }
}
