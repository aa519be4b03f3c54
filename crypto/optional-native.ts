/**
 * Native crypto from packages that ship prebuilt binaries per platform (as optional
 * dependencies, so no install script runs). Where a platform has no binary, the
 * caller falls back to the WASM code of hash-wasm, which gives the same bytes.
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
