/** ext2/ext3/ext4, read-only. The pieces live in disk/ext/. */
import type { FileSystemProbe } from './types.js';
import { openExt } from './ext/filesystem.js';

/** A FileSystem when the source holds an ext superblock, null when the magic is absent. */
export const probeExt: FileSystemProbe = (src, opts) => openExt(src, opts);
