import { createHash, webcrypto } from 'node:crypto';

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(s: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(s)) throw new Error(`not a hex id: ${JSON.stringify(s.slice(0, 80))}`);
  return Buffer.from(s, 'hex');
}

/**
 * Object names are the SHA-256 of the stored bytes, so anyone can verify them without the
 * key. WebCrypto hashes on libuv's thread pool, beside the main thread, but copies its
 * input first: fine for index files and snapshots. PackWriter names packs itself, as
 * their blobs come in.
 */
export async function objectName(stored: Uint8Array): Promise<string> {
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', stored)).toString('hex');
}

/**
 * objectName on the calling thread, for worker threads: there the thread pool would only
 * add a copy and compete with the main thread's file reads (check --read-data was 10%
 * slower with it).
 */
export function objectNameHere(stored: Uint8Array): string {
  return createHash('sha256').update(stored).digest('hex');
}
