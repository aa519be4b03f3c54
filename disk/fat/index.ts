import type { FileSystemProbe } from '../types.js';
import { readPadded } from '../read-padded.js';
import { looksLikeFat, parseBpb } from './bpb.js';
import { FatFileSystem } from './fs.js';

/**
 * Recognizes FAT12/16/32. Returns null when the first sector is not a FAT boot sector,
 * throws DiskFormatError when it is one but its geometry is impossible.
 */
export const probeFat: FileSystemProbe = async (src, opts = {}) => {
  if (src.size < 512) return null;
  const boot = await readPadded(src, 0, 512, () => {});
  if (!looksLikeFat(boot)) return null;
  const geo = parseBpb(boot);
  if (geo.volumeBytes > src.size) opts.onWarning?.(`FAT: volume is ${geo.volumeBytes} bytes but the source has ${src.size}`);
  return new FatFileSystem(src, geo, opts);
};
