/**
 * Native code from packages that ship prebuilt binaries per platform (as optional
 * dependencies, so no install script runs): crypto, whose callers fall back to the WASM
 * code of hash-wasm where a platform has no binary (the same bytes), and koffi, an FFI
 * for the few libc calls Node lacks.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const loaded = new Map<string, unknown>();

/** The package's exports, or null when it (or its binary for this platform) is missing. */
export function optionalNative<T>(name: string): T | null {
  if (!loaded.has(name)) {
    let mod: unknown = null;
    try {
      mod = require(name);
    } catch {
      // No binary for this platform: the WASM fallback is used.
    }
    loaded.set(name, mod);
  }
  return loaded.get(name) as T | null;
}

interface Koffi {
  load(lib: string): { func(signature: string): (...args: number[]) => number | bigint };
  errno(): number;
}

/** A glibc function through koffi; null without koffi or glibc (musl, macOS). */
export function libcFunction(signature: string): ((...args: number[]) => number | bigint) | null {
  const koffi = process.platform === 'linux' ? optionalNative<Koffi>('koffi') : null;
  try {
    return koffi?.load('libc.so.6').func(signature) ?? null;
  } catch {
    return null;
  }
}

/** errno after a call made through libcFunction. */
export function libcErrno(): number {
  return optionalNative<Koffi>('koffi')!.errno();
}
