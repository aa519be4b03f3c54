/**
 * The one place that calls fastcdc-wasm. Its get_chunks(bytes, min, avg, max) returns
 * the cut offsets of the whole buffer *including* 0 and bytes.length (so n chunks give
 * n + 1 offsets, and an empty buffer gives [0]); the end of the buffer is always treated
 * as a cut even when the data goes on.
 *
 * FastCDC (fastcdc 1.0.5, which the package compiles) decides each cut by scanning the
 * bytes after the previous cut s, up to at most s + max, for the first position where its
 * hash matches a mask, restarting the hash at every cut. The buffer's end only shortens
 * that scan: which mask applies at a position does not depend on it (fewer remaining
 * bytes than fastcdc's "center" make the stricter mask cover them all, as it would have
 * anyway). So in a window of length L, a chunk [s, c) is the one the whole stream gives
 * if its cut was found before the end (c < L) or its whole scan fit (s + max <= L). This
 * is what lets a stream be cut window by window with the same result as the whole buffer.
 */
import { get_chunks } from 'fastcdc-wasm';
import type { ChunkerParams } from './params.js';

/**
 * Ends (exclusive offsets) of the chunks in `window` that are certain, in order. The
 * window must start at a cut. With `isEnd` the stream ends here and every chunk is
 * certain; otherwise every chunk but the last counts, and the last only if it was cut at
 * `max`. Note that get_chunks copies `window` into WASM memory and back.
 */
export function certainCuts(window: Uint8Array, isEnd: boolean, p: ChunkerParams): number[] {
  if (window.length === 0) return [];
  const cuts = get_chunks(window, p.min, p.avg, p.max);
  const L = window.length;
  const ends: number[] = [];
  for (let k = 1; k < cuts.length; k++) {
    if (!isEnd && cuts[k] === L && cuts[k - 1] + p.max > L) break;
    ends.push(cuts[k]);
  }
  return ends;
}
