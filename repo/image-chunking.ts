/**
 * Raw byte ranges of an image into map extents: runs of zeros become holes (not stored),
 * everything else is cut by the CDC into data blobs on the chunk workers. Used for the
 * whole image in plain mode, and for what lies outside files in file-system-aware mode.
 */
import type { ReadAt } from '../disk/source.js';
import type { ByteRange } from '../disk/types.js';
import { ZERO_RUN_ALIGN, zeroRuns } from '../chunker/zero.js';
import { ChunkPool, ChunkResult, ChunkStream } from './chunk-pool.js';
import type { MapExtent } from './image-map.js';

/** Zero runs at least this long (and 4 KiB-aligned from the range start) become holes. */
export const MIN_HOLE = 64 * 1024;
/** Read size; a multiple of ZERO_RUN_ALIGN so zero blocks stay aligned to the range start. */
const PIECE = 8 * 1024 * 1024;
/**
 * The chunker restarts at each multiple of this image offset (and after each hole), so
 * the pieces of one image are chunked on every core at once. Unchanged bytes still give
 * the same chunks; at most one extra cut per 64 MiB.
 */
export const RESTART = 64 * 1024 * 1024;

export class SourceEndedError extends Error {
  constructor(offset: number, size: number) {
    super(`the source ended at byte ${offset}, before its size of ${size} bytes (was it truncated or removed while being read?)`);
    this.name = 'SourceEndedError';
  }
}

/** Chunk results become extents once the worker is done; started in image order. */
interface Unit {
  start: number;
  done: Promise<ChunkResult>;
}

export class RangeChunker {
  readonly extents: MapExtent[] = [];
  /** Bytes read so far (data and zeros). */
  bytesRead = 0;
  private pending: Unit[] = [];
  private stream?: ChunkStream;
  private streamStart = 0;
  private streamNext = -1;
  private zeroStart = -1;
  private zeroLength = 0;

  constructor(
    private readonly pool: ChunkPool,
    private readonly onRead: (bytes: number) => void = () => {},
  ) {}

  /** Reads and chunks these ranges of the source (sorted, not overlapping). */
  async add(src: ReadAt, ranges: ByteRange[]): Promise<void> {
    for (const r of ranges) await this.addRange(src, r);
  }

  private async addRange(src: ReadAt, r: ByteRange): Promise<void> {
    const end = r.offset + r.length;
    /** A piece's bytes, or just its length when it lies in a hole of a sparse source. */
    const readPiece = async (at: number): Promise<Uint8Array | number> => {
      const want = Math.min(PIECE, end - at);
      // zeroRuns ignores a last block shorter than ZERO_RUN_ALIGN, so such a piece is read.
      if (want >= ZERO_RUN_ALIGN && src.dataIn?.(at, want)?.length === 0) return want;
      const bytes = await src.read(at, want);
      if (bytes.length !== want) throw new SourceEndedError(at + bytes.length, src.size);
      return bytes;
    };
    let next = r.offset < end ? readPiece(r.offset) : undefined;
    for (let at = r.offset; at < end && next; ) {
      const got = await next;
      const length = typeof got === 'number' ? got : got.length;
      const after = at + length;
      // Read ahead while this piece is scanned and handed to the workers.
      next = after < end ? readPiece(after) : undefined;
      if (typeof got === 'number') this.zeros(at, got);
      else await this.piece(at, got);
      this.bytesRead += length;
      this.onRead(this.bytesRead);
      at = after;
    }
    await this.closeZeros();
    this.closeStream();
  }

  private async piece(offset: number, bytes: Uint8Array): Promise<void> {
    let at = 0;
    for (const z of zeroRuns(bytes, ZERO_RUN_ALIGN)) {
      if (z.offset > at) await this.data(offset + at, bytes.subarray(at, z.offset));
      this.zeros(offset + z.offset, z.length);
      at = z.offset + z.length;
    }
    if (at < bytes.length) await this.data(offset + at, bytes.subarray(at));
  }

  /** Zeros that extend the current zero run (or start one). */
  private zeros(offset: number, length: number): void {
    if (this.zeroStart < 0) this.zeroStart = offset;
    this.zeroLength += length;
  }

  /** A zero run ends: long ones become holes, short ones are data like any other. */
  private async closeZeros(): Promise<void> {
    if (this.zeroStart < 0) return;
    const start = this.zeroStart;
    const length = this.zeroLength;
    this.zeroStart = -1;
    this.zeroLength = 0;
    if (length >= MIN_HOLE) this.closeStream();
    else await this.data(start, new Uint8Array(length), true);
  }

  private async data(offset: number, bytes: Uint8Array, fromZeros = false): Promise<void> {
    if (!fromZeros) await this.closeZeros();
    let at = 0;
    while (at < bytes.length) {
      const pos = offset + at;
      if (pos % RESTART === 0 || pos !== this.streamNext) this.closeStream();
      const take = Math.min(bytes.length - at, RESTART - (pos % RESTART));
      if (!this.stream) {
        await this.throttle();
        this.stream = this.pool.chunkStream();
        this.streamStart = pos;
      }
      await this.stream.write(bytes.subarray(at, at + take));
      at += take;
      this.streamNext = pos + take;
    }
  }

  private closeStream(): void {
    if (!this.stream) return;
    const done = this.stream.end();
    done.catch(() => {});
    this.pending.push({ start: this.streamStart, done });
    this.stream = undefined;
    this.streamNext = -1;
  }

  /** Bounds the streams in flight (and so memory) to a few per worker. */
  private async throttle(): Promise<void> {
    while (this.pending.length >= this.pool.size * 2) await this.settle(this.pending.shift()!);
  }

  private async settle(u: Unit): Promise<void> {
    const r = await u.done;
    let at = u.start;
    r.content.forEach((blob, i) => {
      this.extents.push({ imageOffset: at, length: r.lengths[i], blob, blobOffset: 0 });
      at += r.lengths[i];
    });
  }

  /** Waits for every chunk; the extents are complete afterwards. */
  async finish(): Promise<MapExtent[]> {
    await this.closeZeros();
    this.closeStream();
    for (const u of this.pending.splice(0)) await this.settle(u);
    return this.extents;
  }
}
