/**
 * Collects sealed blobs of one type into packs and uploads each pack as soon as it is
 * full, while the next one fills. At most `maxUploads` packs are in flight; `add` waits
 * when that many are, which bounds memory.
 */
import { seal } from '../crypto/aead.js';
import { BlobEntry, BlobType } from './blob.js';
import { encodePackHeader } from './pack-format.js';
import { objectName } from './hex.js';
import type { SealedBlob } from './blob-seal.js';

/** Names a finished pack; returns the bytes to upload (a namer may move them elsewhere and back). */
export type PackNamer = (bytes: Uint8Array) => Promise<{ name: string; bytes: Uint8Array }>;

const nameHere: PackNamer = async (bytes) => ({ name: await objectName(bytes), bytes });

export interface FinishedPack {
  id: string;
  size: number;
  blobs: BlobEntry[];
}

export class PackWriter {
  private parts: Uint8Array[] = [];
  private entries: BlobEntry[] = [];
  private size = 0;
  private readonly uploads = new Set<Promise<void>>();
  private failure: unknown;

  constructor(
    private readonly type: BlobType,
    private readonly targetSize: number,
    private readonly headerKey: Uint8Array,
    private readonly upload: (name: string, bytes: Uint8Array) => Promise<void>,
    private readonly onPackStored: (p: FinishedPack) => void,
    private readonly maxUploads: number,
    private readonly namer: PackNamer = nameHere,
  ) {}

  async add(b: SealedBlob): Promise<void> {
    if (this.failure) throw this.failure;
    // Packs stay within the target size unless a single blob is larger: which blobs share
    // a pack then depends less on the order in which concurrent workers deliver them.
    // A loop: another blob may have started the next pack while cut() waited for room.
    while (this.size > 0 && this.size + b.stored.length > this.targetSize) await this.cut();
    this.entries.push({ type: this.type, id: b.id, offset: this.size, length: b.stored.length, rawLength: b.rawLength, compressed: b.compressed });
    this.parts.push(b.stored);
    this.size += b.stored.length;
    if (this.size >= this.targetSize) await this.cut();
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
    const trailer = Buffer.alloc(4);
    trailer.writeUInt32LE(header.length);
    const bytes = Buffer.concat([...this.parts, header, trailer]);
    const blobs = this.entries;
    this.parts = [];
    this.entries = [];
    this.size = 0;
    const store = async () => {
      const named = await this.namer(bytes);
      const pack: FinishedPack = { id: named.name, size: named.bytes.length, blobs };
      await this.upload(pack.id, named.bytes);
      this.onPackStored(pack);
    };
    const p: Promise<void> = store()
      .catch((err) => {
        this.failure ??= err;
      })
      .finally(() => this.uploads.delete(p));
    this.uploads.add(p);
    while (this.uploads.size > this.maxUploads) await Promise.race(this.uploads);
    if (this.failure) throw this.failure;
  }
}
