/**
 * The one place that calls fastcdc-wasm. Its get_chunks(bytes, min, avg, max) returns
 * the cut offsets of the whole buffer *including* 0 and bytes.length (so n chunks give
 * n + 1 offsets, and an empty buffer gives [0]); the end of the buffer is always treated
 * as a cut even when the data goes on.
 *
 * FastCDC decides each cut by looking only at the bytes from the previous cut up to at
 * most `max` bytes past it, restarting its hash at every cut. So a chunk that starts at s
 * is final once the window holds s + max bytes, whatever follows; this is what lets a
 * stream be cut window by window with the same result as the whole buffer at once.
 */
import { get_chunks } from 'fastcdc-wasm';
import type { ChunkerParams } from './params.js';

/**
 * Ends (exclusive offsets) of the chunks in `window` that are certain, in order. The
 * window must start at a cut. With `isEnd` the stream ends here and every chunk is
 * certain; otherwise a chunk counts only if it starts at least `max` bytes before the end
 * of the window. Note that get_chunks copies `window` into WASM memory and back.
 */
export function certainCuts(window: Uint8Array, isEnd: boolean, p: ChunkerParams): number[] {
  if (window.length === 0) return [];
  const cuts = get_chunks(window, p.min, p.avg, p.max);
  const ends: number[] = [];
  for (let k = 1; k < cuts.length; k++) {
    if (!isEnd && cuts[k - 1] + p.max > window.length) break;
    ends.push(cuts[k]);
  }
  return ends;
}
