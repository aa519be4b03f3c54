/**
 * Password key derivation: Argon2id, with its parameters stored next to the sealed
 * master key so they can be raised later without breaking old key files.
 */
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { optionalNative } from './optional-native.js';

export interface KdfParams {
  name: 'argon2id';
  memoryKiB: number;
  iterations: number;
  parallelism: number;
  /** base64 */
  salt: string;
}

/**
 * 64 MiB, 3 passes, 1 lane: the first recommended setting of RFC 9106 (section 4) for
 * memory-constrained machines, also used by libsodium's "moderate" limits. It costs
 * about 60 ms natively here (0.3 s in WASM), once per command. One lane, because the
 * WASM fallback is single-threaded and more lanes would only add time there.
 */
export const DEFAULT_KDF = { memoryKiB: 65536, iterations: 3, parallelism: 1 } as const;

/**
 * With CAIRN_TEST_WEAK_KDF=1 in the environment, new key files use 64 KiB and 1 pass so
 * that tests creating many repositories stay fast. Never set it for real repositories:
 * the parameters are stored in the key file, so it stays weak until the key is changed.
 */
const WEAK_TEST_KDF = { memoryKiB: 64, iterations: 1, parallelism: 1 } as const;

const SALT_BYTES = 16;
const KEY_BYTES = 32;

const LIMITS = {
  memoryKiB: { min: 8, max: 4 * 1024 * 1024 },
  iterations: { min: 1, max: 100 },
  parallelism: { min: 1, max: 16 },
  saltBytes: { min: 16, max: 64 },
};

export function newKdfParams(opts: Partial<Omit<KdfParams, 'name' | 'salt'>> = {}): KdfParams {
  const base = process.env.CAIRN_TEST_WEAK_KDF === '1' ? WEAK_TEST_KDF : DEFAULT_KDF;
  const p: KdfParams = {
    name: 'argon2id',
    memoryKiB: opts.memoryKiB ?? base.memoryKiB,
    iterations: opts.iterations ?? base.iterations,
    parallelism: opts.parallelism ?? base.parallelism,
    salt: randomBytes(SALT_BYTES).toString('base64'),
  };
  validateKdfParams(p);
  return p;
}

function checkInt(field: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new Error(`invalid KDF parameter ${field}: ${JSON.stringify(v)} (must be an integer from ${min} to ${max})`);
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Key files are plaintext and may be tampered with; strict limits keep a forged file
 * from making us allocate or loop without bound. Returns the decoded salt.
 */
export function validateKdfParams(p: unknown): Uint8Array {
  if (typeof p !== 'object' || p === null) throw new Error('invalid KDF parameters: not an object');
  const q = p as Record<string, unknown>;
  if (q.name !== 'argon2id') throw new Error(`invalid KDF parameter name: ${JSON.stringify(q.name)} (only "argon2id" is supported)`);
  checkInt('memoryKiB', q.memoryKiB, LIMITS.memoryKiB.min, LIMITS.memoryKiB.max);
  checkInt('iterations', q.iterations, LIMITS.iterations.min, LIMITS.iterations.max);
  checkInt('parallelism', q.parallelism, LIMITS.parallelism.min, LIMITS.parallelism.max);
  // Argon2 itself requires at least 8 KiB of memory per lane.
  if ((q.memoryKiB as number) < 8 * (q.parallelism as number)) {
    throw new Error(`invalid KDF parameter memoryKiB: ${q.memoryKiB} is less than 8 KiB per lane (parallelism ${q.parallelism})`);
  }
  if (typeof q.salt !== 'string' || q.salt.length % 4 !== 0 || !BASE64.test(q.salt)) {
    throw new Error('invalid KDF parameter salt: not a base64 string');
  }
  const salt = new Uint8Array(Buffer.from(q.salt, 'base64'));
  if (salt.length < LIMITS.saltBytes.min || salt.length > LIMITS.saltBytes.max) {
    throw new Error(`invalid KDF parameter salt: ${salt.length} bytes (must be ${LIMITS.saltBytes.min} to ${LIMITS.saltBytes.max})`);
  }
  return salt;
}

export type KdfKind = 'native' | 'wasm';

type NativeArgon2 = {
  hashRaw(password: string, o: { algorithm: number; memoryCost: number; timeCost: number; parallelism: number; outputLen: number; salt: Uint8Array }): Promise<Buffer>;
};
/** @node-rs/argon2's Algorithm.Argon2id (a const enum, so not importable by value). */
const NATIVE_ARGON2ID = 2;

const loadNative = () => optionalNative<NativeArgon2>('@node-rs/argon2');

/** Which implementation deriveKey uses on this machine. */
export function kdfKind(): KdfKind {
  return loadNative() ? 'native' : 'wasm';
}

/**
 * Derives the 32-byte key that wraps the master key. The native Argon2id of
 * @node-rs/argon2 runs on libuv's thread pool and frees its memory when done. The WASM
 * fallback runs in a short-lived worker thread: WASM memory never shrinks, so running it
 * here would keep its 64 MiB for the rest of a long backup.
 *
 * `meanwhile` runs on this thread once the derivation is under way on the other one: a
 * derivation takes 60-250 ms (its 64 MiB are fresh pages, and each first touch of a page
 * costs a fault), in which this thread would otherwise sit idle.
 */
export async function deriveKey(password: string, p: KdfParams, kind: KdfKind = kdfKind(), meanwhile?: () => void): Promise<Uint8Array> {
  const salt = validateKdfParams(p);
  if (kind === 'native') {
    const native = loadNative();
    if (!native) throw new Error('the native Argon2id (@node-rs/argon2) has no binary for this platform');
    const deriving = native.hashRaw(password, { algorithm: NATIVE_ARGON2ID, memoryCost: p.memoryKiB, timeCost: p.iterations, parallelism: p.parallelism, outputLen: KEY_BYTES, salt });
    meanwhile?.();
    const key = await deriving;
    const out = Uint8Array.from(key);
    key.fill(0);
    return out;
  }
  const worker = new Worker(new URL('./kdf-worker.js', import.meta.url), {
    workerData: { password, salt, memoryKiB: p.memoryKiB, iterations: p.iterations, parallelism: p.parallelism, hashLength: KEY_BYTES },
  });
  try {
    meanwhile?.();
    return await new Promise<Uint8Array>((resolve, reject) => {
      worker.once('message', (key: Uint8Array) => resolve(key));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`key derivation stopped (exit ${code})`)));
    });
  } finally {
    await worker.terminate();
  }
}
