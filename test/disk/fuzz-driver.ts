import assert from 'node:assert/strict';
import { DiskFormatError, type FileSystemProbe } from '../../disk/types.js';
import { bufferSource, prng, sha256 } from './helpers.js';

export type Outcome = 'ok' | 'warnings' | 'rejected' | 'not-recognized';

/** Errors a reader may end with: a DiskFormatError or a plain Error naming the problem. */
function isClearError(err: unknown, prefix: RegExp): boolean {
  if (err instanceof DiskFormatError) return true;
  return err instanceof Error && err.constructor === Error && prefix.test(err.message);
}

const READ_CAP = 2 * 1024 * 1024;
const CHUNK = 256 * 1024;

/** Probes, walks the whole tree and reads every file (up to a cap) of one image. */
export async function exercise(bytes: Uint8Array, probe: FileSystemProbe, errorPrefix: RegExp): Promise<Outcome> {
  let warned = false;
  try {
    const fs = await probe(bufferSource(bytes), { onWarning: () => { warned = true; } });
    if (!fs) return 'not-recognized';
    const queue = [fs.root()];
    const seen = new Set<number>();
    let nodes = 0;
    while (queue.length > 0 && nodes < 20_000) {
      const dir = queue.shift()!;
      if (seen.has(dir.id)) continue;
      seen.add(dir.id);
      for (const node of await fs.list(dir)) {
        nodes++;
        if (node.type === 'dir') queue.push(node);
        else if (node.type === 'symlink') await fs.readlink(node).catch((e) => { if (!isClearError(e, errorPrefix)) throw e; });
        else if (node.type === 'file') {
          try {
            await fs.extents(node);
            for (let off = 0; off < Math.min(node.size, READ_CAP); off += CHUNK) {
              const got = await fs.readFile(node, off, CHUNK);
              assert.equal(got.length, Math.min(CHUNK, node.size - off), 'readFile returns exactly the bytes asked for');
            }
          } catch (e) {
            if (!isClearError(e, errorPrefix)) throw e;
            warned = true;
          }
        }
      }
    }
    await fs.usedRanges();
    return warned ? 'warnings' : 'ok';
  } catch (e) {
    if (isClearError(e, errorPrefix)) return 'rejected';
    throw e;
  }
}

export interface Region {
  offset: number;
  length: number;
}

/**
 * Damages `base` in place (byte flips inside the given regions, sometimes truncation) and
 * returns the damaged view plus an undo, so thousands of inputs need no image copies.
 */
export function mutate(base: Uint8Array, regions: Region[], seed: number): { bytes: Uint8Array; undo: () => void } {
  const next = prng(seed);
  const saved: [number, number][] = [];
  const set = (at: number, value: number) => {
    if (at >= base.length) return;
    saved.push([at, base[at]]);
    base[at] = value;
  };
  const flips = 1 + (next() % 8);
  for (let i = 0; i < flips; i++) {
    const r = regions[next() % regions.length];
    const at = r.offset + (next() % r.length);
    const style = next() % 4;
    if (style === 0) set(at, base[at] ^ (1 << (next() % 8)));
    else if (style === 1) set(at, next() & 0xff);
    else if (style === 2) set(at, [0, 0xff, 0x80, 0x7f][next() % 4]);
    else {
      const value = next() & 0xff;
      const n = 1 + (next() % 16);
      for (let k = 0; k < n; k++) set(at + k, value);
    }
  }
  const bytes = next() % 20 === 0 ? base.subarray(0, next() % base.length) : base;
  return { bytes, undo: () => saved.reverse().forEach(([at, v]) => (base[at] = v)) };
}

/**
 * A guard against a reader that loops, not a speed bar: in CI this runs beside other
 * tests, 5-10 times slower than alone (about 12 s for 5,000 FAT16 inputs alone, 50-180 s
 * in CI), and one input took 12 s there once.
 */
const HANG_MS = 60_000;

/** Runs `count` mutations; each must end in success, warnings or a clear error, and none may hang. */
export async function fuzz(base: Uint8Array, regions: Region[], count: number, probe: FileSystemProbe, errorPrefix: RegExp) {
  const outcomes: Record<Outcome, number> = { ok: 0, warnings: 0, rejected: 0, 'not-recognized': 0 };
  const before = sha256(base);
  for (let seed = 1; seed <= count; seed++) {
    const input = mutate(base, regions, seed);
    const started = Date.now();
    let outcome: Outcome;
    try {
      outcome = await exercise(input.bytes, probe, errorPrefix);
    } catch (e) {
      throw new Error(`mutation seed ${seed} crashed the reader: ${(e as Error).stack}`);
    } finally {
      input.undo();
    }
    const took = Date.now() - started;
    assert.ok(took < HANG_MS, `mutation seed ${seed} took ${took} ms`);
    outcomes[outcome]++;
  }
  assert.equal(sha256(base), before, 'every mutation was undone');
  return outcomes;
}
