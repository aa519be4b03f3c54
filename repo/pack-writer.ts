/**
 * Collects sealed blobs of one type into packs and uploads each pack as soon as it is
 * full, while the next one fills. At most `maxUploads` packs are in flight; `add` waits
 * when that many are, which bounds memory. Where the destination takes a pack piece by
 * piece (a local directory), blobs go out as they come and no pack is held whole.
 */
import { createHash, type Hash } from 'node:crypto';
import { seal } from '../crypto/aead.js';
import type { Backend, ObjectWriter } from '../backends/backend.js';
import { BlobEntry, BlobType } from './blob.js';
import { encodePackHeader } from './pack-format.js';
import type { SealedBlob } from './blob-seal.js';

/** Names a finished pack; returns the bytes to upload (a namer may move them elsewhere and back). */
export type PackNamer = (bytes: Uint8Array) => Promise<{ name: string; bytes: Uint8Array }>;

/** Where finished packs go. */
export interface PackDestination {
  /** Stores a whole pack. */
  save(name: string, bytes: Uint8Array): Promise<void>;
  /** A writer for one pack, written as it fills; used unless a namer needs the whole pack. */
  openWriter?(): ObjectWriter;
}

/** A backend's `data/` as a destination, written piece by piece where the backend can. */
export function packDestination(backend: Backend): PackDestination {
  return {
    save: (name, bytes) => backend.save({ type: 'data', name }, bytes),
    openWriter: backend.openWriter && (() => backend.openWriter!('data')),
  };
}

export interface FinishedPack {
  id: string;
  size: number;
  blobs: BlobEntry[];
}

/**
 * Pack buffers kept for reuse once their upload is done: one, for the pack after the
 * next, while the next fills. More uploads in flight (S3) hold more buffers only while
 * they are in flight.
 */
const SPARE_BUFFERS = 1;

export class PackWriter {
  /**
   * The pack being filled: blobs are copied in as they come. Holding the blobs
   * themselves until the pack was cut kept 16 MiB of them alive long enough for V8 to
   * move them to its old generation, where they waited for a full collection; and each
   * pack was a fresh 16 MiB buffer, every page of it faulted in.
   */
  private buf?: Uint8Array;
  private readonly spare: Uint8Array[] = [];
  /** The pack being written piece by piece, instead of buf. */
  private file?: ObjectWriter;
  private entries: BlobEntry[] = [];
  private size = 0;
  private readonly uploads = new Set<Promise<void>>();
  private failure: unknown;
  /**
   * Without a namer, the pack's name (the SHA-256 of its bytes) is computed as blobs are
   * copied in, while they are in the CPU's cache. Hashing the finished pack through
   * WebCrypto copied all 16 MiB of it first: in the bench's first backup that copy was
   * 43% of all page faults.
   */
  private hash?: Hash;

  constructor(
    private readonly type: BlobType,
    private readonly targetSize: number,
    private readonly headerKey: Uint8Array,
    private readonly destination: PackDestination,
    private readonly onPackStored: (p: FinishedPack) => void,
    private readonly maxUploads: number,
    private readonly namer?: PackNamer,
  ) {
    this.hash = this.newHash();
  }

  private newHash(): Hash | undefined {
    return this.namer ? undefined : createHash('sha256');
  }

  async add(b: SealedBlob): Promise<void> {
    if (this.failure) throw this.failure;
    // Packs stay within the target size unless a single blob is larger: which blobs share
    // a pack then depends less on the order in which concurrent workers deliver them.
    // A loop: another blob may have started the next pack while cut() waited for room.
    while (this.size > 0 && this.size + b.stored.length > this.targetSize) await this.cut();
    this.entries.push({ type: this.type, id: b.id, offset: this.size, length: b.stored.length, rawLength: b.rawLength, compressed: b.compressed });
    // Synchronous up to the size update, so that concurrent adds get distinct offsets.
    let room: Promise<void> | undefined;
    if (this.piecewise) {
      this.file ??= this.destination.openWriter!();
      room = this.file.write(b.stored);
      // Awaited last; this keeps a failure meanwhile from going unhandled.
      room.catch(() => {});
    } else {
      this.reserve(this.size + b.stored.length);
      this.buf!.set(b.stored, this.size);
    }
    this.hash?.update(b.stored);
    this.size += b.stored.length;
    if (this.size >= this.targetSize) await this.cut();
    await room;
  }

  private get piecewise(): boolean {
    return !this.namer && this.destination.openWriter !== undefined;
  }

  /** Makes the pack buffer hold at least `bytes`, keeping what it holds. */
  private reserve(bytes: number) {
    if (this.buf && bytes <= this.buf.length) return;
    // The target plus room for the header of a pack of small blobs (46 bytes a blob).
    const want = Math.max(bytes, this.targetSize + Math.ceil(this.targetSize / 64));
    const i = this.spare.findIndex((b) => b.length >= want);
    const next = i >= 0 ? this.spare.splice(i, 1)[0] : new Uint8Array(Buffer.allocUnsafeSlow(want).buffer);
    if (this.buf) next.set(this.buf.subarray(0, this.size));
    this.buf = next;
  }

  /**
   * Drops the pack being filled (a run that failed or was stopped) and waits for the
   * uploads in flight; blobs added later are refused, so that no new pack starts.
   */
  async abort(): Promise<void> {
    this.failure ??= new Error('no more blobs are stored: the run is stopping');
    const file = this.file;
    this.file = undefined;
    this.buf = undefined;
    this.entries = [];
    this.size = 0;
    this.hash = this.newHash();
    await Promise.all(this.uploads);
    await file?.abort();
  }

  /** Uploads what is pending and waits for every upload. */
  async flush(): Promise<void> {
    if (this.entries.length > 0) await this.cut();
    await Promise.all(this.uploads);
    if (this.failure) throw this.failure;
  }

  /**
   * Seals the pending blobs into a pack and starts its upload. Everything up to the
   * upload's registration is synchronous, so a blob added meanwhile lands in the next
   * pack, and flush() always sees this upload.
   */
  private async cut(): Promise<void> {
    const header = seal(this.headerKey, encodePackHeader(this.entries));
    const total = this.size + header.length + 4;
    const blobs = this.entries;
    const store = this.piecewise ? this.finishFile(header, total) : this.finishBuffer(header, total);
    this.entries = [];
    this.size = 0;
    this.hash = this.newHash();
    const p: Promise<void> = store()
      .then((id) => this.onPackStored({ id, size: total, blobs }))
      .catch((err) => {
        this.failure ??= err;
      })
      .finally(() => this.uploads.delete(p));
    this.uploads.add(p);
    while (this.uploads.size > this.maxUploads) await Promise.race(this.uploads);
    if (this.failure) throw this.failure;
  }

  /** Appends the header to the pack buffer; returns the upload, which returns the pack's name. */
  private finishBuffer(header: Uint8Array, total: number): () => Promise<string> {
    this.reserve(total);
    const buf = this.buf!;
    buf.set(header, this.size);
    new DataView(buf.buffer, buf.byteOffset).setUint32(total - 4, header.length, true);
    const bytes = buf.subarray(0, total);
    const name = this.hash?.update(buf.subarray(this.size, total)).digest('hex');
    this.buf = undefined;
    return async () => {
      const named = name !== undefined ? { name, bytes } : await this.namer!(bytes);
      await this.destination.save(named.name, named.bytes);
      // Uploaded, or never sent (a namer may send a copy); not if a namer took it away.
      if (buf.byteLength > 0 && this.spare.length < SPARE_BUFFERS) this.spare.push(buf);
      return named.name;
    };
  }

  /** Queues the header behind the blobs written; returns the commit, which returns the pack's name. */
  private finishFile(header: Uint8Array, total: number): () => Promise<string> {
    const tail = new Uint8Array(header.length + 4);
    tail.set(header);
    new DataView(tail.buffer).setUint32(header.length, header.length, true);
    const file = this.file!;
    this.file = undefined;
    // The pack is done: commit waits for every write and reports a failed one, so room
    // for more does not matter.
    file.write(tail).catch(() => {});
    const name = this.hash!.update(tail).digest('hex');
    return async () => {
      await file.commit({ type: 'data', name });
      return name;
    };
  }
}
