/**
 * A random-access byte source: a device, an image file, or an image snapshot inside a
 * repository. Every disk/ reader works over this and nothing else, so the same parser
 * serves backup (reading a device) and restore/mount (reading a snapshot).
 */
import type { ByteRange } from './types.js';

export interface ReadAt {
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Read `length` bytes at `offset`. A read that runs past `size` returns the bytes that
   * exist (possibly fewer); readers must treat short reads as damage, not loop on them.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Where in [offset, offset + length) the source may hold non-zero bytes (the rest is
   * holes of a sparse file, which read as zeros); null, or left out, when it cannot say.
   */
  dataIn?(offset: number, length: number): ByteRange[] | null;
}
