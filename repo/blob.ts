export type BlobType = 'data' | 'tree';

/** Where a blob lives: the pack-header entry, plus the pack it is in. */
export interface BlobEntry {
  type: BlobType;
  id: Uint8Array;
  /** Byte offset of the stored (encrypted) blob inside the pack. */
  offset: number;
  /** Stored length: nonce, ciphertext and tag. */
  length: number;
  /** Plaintext length after decompression. */
  rawLength: number;
  compressed: boolean;
}

export interface IndexedBlob extends BlobEntry {
  pack: string;
}
