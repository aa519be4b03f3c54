/** Reads exact byte counts from a stream (a socket), for binary protocols. */
import { Readable } from 'node:stream';

export class ConnectionClosed extends Error {
  constructor() {
    super('the connection closed');
    this.name = 'ConnectionClosed';
  }
}

export class ExactReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private wake?: () => void;

  constructor(private readonly stream: Readable) {
    stream.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.buffered += d.length;
      // Stop reading from the socket while a lot is buffered (a client writing too fast).
      if (this.buffered > 64 * 1024 * 1024) stream.pause();
      this.wake?.();
    });
    const end = () => {
      this.ended = true;
      this.wake?.();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  /** Exactly n bytes, or ConnectionClosed when the stream ends first. */
  async read(n: number): Promise<Buffer> {
    while (this.buffered < n) {
      if (this.ended) throw new ConnectionClosed();
      this.stream.resume();
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}
