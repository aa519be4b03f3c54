/**
 * Encoding of every encrypted object that is not a pack (config, index, snapshots, locks):
 * seal(key, flag || payload), where flag 0 means raw and 1 means zstd-compressed.
 */
import { open, seal } from '../crypto/aead.js';
import { decompress, withCompressed } from './compression.js';
import { CorruptObjectError } from './errors/corrupt-object-error.js';

const RAW = 0;
const ZSTD = 1;

export function sealFile(key: Uint8Array, payload: Uint8Array): Uint8Array {
  const plain = withCompressed(payload, (packed) => {
    const body = packed ?? payload;
    const p = new Uint8Array(body.length + 1);
    p[0] = packed ? ZSTD : RAW;
    p.set(body, 1);
    return p;
  });
  return seal(key, plain);
}

export function openFile(key: Uint8Array, stored: Uint8Array, label: string): Uint8Array {
  let plain: Uint8Array;
  try {
    plain = open(key, stored);
  } catch {
    throw new CorruptObjectError(label, 'authentication failed (modified, truncated or not written by this repository)');
  }
  if (plain.length < 1) throw new CorruptObjectError(label, 'empty');
  if (plain[0] === RAW) return plain.subarray(1);
  if (plain[0] === ZSTD) {
    try {
      return decompress(plain.subarray(1));
    } catch (err) {
      throw new CorruptObjectError(label, `cannot decompress: ${(err as Error).message}`);
    }
  }
  throw new CorruptObjectError(label, `unknown encoding flag ${plain[0]}`);
}

export function sealJson(key: Uint8Array, value: unknown): Uint8Array {
  return sealFile(key, Buffer.from(JSON.stringify(value)));
}

export function openJson(key: Uint8Array, stored: Uint8Array, label: string): unknown {
  const bytes = openFile(key, stored, label);
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw new CorruptObjectError(label, 'not valid JSON');
  }
}
