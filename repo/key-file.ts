/**
 * Key files: plaintext JSON that wraps the random master key with a password.
 * Each password has its own key file; the master key never changes.
 */
import os from 'node:os';
import { open, seal } from '../crypto/aead.js';
import { deriveKey, KdfParams, newKdfParams } from '../crypto/kdf.js';
import { decodeMasterKey, encodeMasterKey, MasterKey, wipe } from '../crypto/master-key.js';
import { Backend } from '../backends/backend.js';
import { objectName } from './hex.js';

export interface KeyFile {
  version: 1;
  created: string;
  host: string;
  user: string;
  kdf: KdfParams;
  /** base64 of seal(argon2id(password), master key). */
  data: string;
}

export async function createKeyFile(master: MasterKey, password: string, kdfOverrides?: Partial<KdfParams>): Promise<KeyFile> {
  const kdf = newKdfParams(kdfOverrides);
  const kek = await deriveKey(password, kdf);
  const raw = encodeMasterKey(master);
  try {
    return {
      version: 1,
      created: new Date().toISOString(),
      host: os.hostname(),
      user: os.userInfo().username,
      kdf,
      data: Buffer.from(seal(kek, raw)).toString('base64'),
    };
  } finally {
    wipe(kek, raw);
  }
}

export async function saveKeyFile(backend: Backend, kf: KeyFile): Promise<string> {
  const bytes = Buffer.from(JSON.stringify(kf, null, 2));
  const name = await objectName(bytes);
  await backend.save({ type: 'keys', name }, bytes);
  return name;
}

export function parseKeyFile(bytes: Uint8Array, label: string): KeyFile {
  let kf: KeyFile;
  try {
    kf = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new Error(`${label} is not valid JSON`);
  }
  if (kf?.version !== 1 || typeof kf.data !== 'string' || typeof kf.kdf !== 'object') {
    throw new Error(`${label} is not a cairn key file`);
  }
  return kf;
}

/** The master key, or null when the password does not open this key file. `meanwhile`: see deriveKey. */
export async function unwrapKeyFile(kf: KeyFile, password: string, meanwhile?: () => void): Promise<MasterKey | null> {
  const kek = await deriveKey(password, kf.kdf, undefined, meanwhile);
  let raw: Uint8Array | undefined;
  try {
    raw = open(kek, Buffer.from(kf.data, 'base64'));
    return decodeMasterKey(raw);
  } catch {
    return null;
  } finally {
    // decodeMasterKey copied the parts out; the unwrapped bytes are no longer needed.
    wipe(kek, ...(raw ? [raw] : []));
  }
}
