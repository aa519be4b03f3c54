/** Messages between CryptoPool (repo/crypto-pool.ts) and its workers. */
import type { BlobEntry, IndexedBlob } from './blob.js';
import type { PackVerdict } from './pack-verify.js';

export type CryptoRequest =
  | { op: 'verify-pack'; task: number; pack: { id: string; blobs: BlobEntry[] }; bytes: Uint8Array }
  | { op: 'open-blob'; task: number; entry: IndexedBlob; stored: Uint8Array }
  /** Names an object (SHA-256); the bytes come back with the name. */
  | { op: 'name'; task: number; bytes: Uint8Array };

export type CryptoReply =
  | { op: 'verdict'; task: number; verdict: PackVerdict }
  | { op: 'plain'; task: number; plain: Uint8Array }
  | { op: 'named'; task: number; name: string; bytes: Uint8Array }
  /** A CorruptObjectError, whose class does not survive the message. */
  | { op: 'corrupt'; task: number; object: string; detail: string }
  | { op: 'failed'; task: number; message: string };
