/**
 * Native code from packages that ship prebuilt binaries per platform (as optional
 * dependencies, so no install script runs): crypto, whose callers fall back to the WASM
 * code of hash-wasm where a platform has no binary (the same bytes), and koffi, an FFI
 * for the few libc calls Node lacks.
 */
import { readFileSync } from 'node:fs';
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

/**
 * A napi-rs package, loaded from its per-platform package where this can name it. The
 * loader of @napi-rs/blake-hash tells glibc from musl by process.report.getReport(), which
 * builds a whole diagnostic report: 13 ms of every thread that loads it, and the chunk,
 * restore and crypto workers all do. Where the platform is not known here, the package's
 * own loader decides.
 */
export function optionalNapiNative<T>(name: string): T | null {
  const platform = napiPlatform();
  return (platform !== undefined ? optionalNative<T>(`${name}-${platform}`) : null) ?? optionalNative<T>(name);
}

/** The platform part of a napi-rs binary package's name, on Linux x64 and arm64. */
function napiPlatform(): string | undefined {
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) return undefined;
  try {
    // As the newer napi-rs loaders do: glibc's ldd is a script that never says musl.
    return `linux-${process.arch}-${readFileSync('/usr/bin/ldd', 'latin1').includes('musl') ? 'musl' : 'gnu'}`;
  } catch {
    return undefined;
  }
}

interface Koffi {
  load(lib: string): { func(signature: string): LibcFunction };
  errno(): number;
}

type LibcFunction = (...args: number[]) => number | bigint;

/** Per signature, what libcFunction found (null too): callers may ask once per file. */
const libcFunctions = new Map<string, LibcFunction | null>();

/** A glibc function through koffi, looked up once; null without koffi or glibc (musl, macOS). */
export function libcFunction(signature: string): LibcFunction | null {
  let f = libcFunctions.get(signature);
  if (f === undefined) {
    f = lookUpLibc(signature);
    libcFunctions.set(signature, f);
  }
  return f;
}

function lookUpLibc(signature: string): LibcFunction | null {
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
