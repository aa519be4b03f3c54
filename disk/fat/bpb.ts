import { DiskFormatError } from '../types.js';

export type FatKind = 12 | 16 | 32;

/** The geometry of a FAT volume, derived from its BIOS parameter block. */
export interface FatGeometry {
  kind: FatKind;
  bytesPerSector: number;
  bytesPerCluster: number;
  /** Byte offset of the FAT that is read (the active one on FAT32 without mirroring). */
  fatOffset: number;
  fatBytes: number;
  /** Byte offset and size of the fixed root directory (FAT12/16; 0 on FAT32). */
  rootDirOffset: number;
  rootDirBytes: number;
  /** First cluster of the root directory (FAT32; 0 on FAT12/16). */
  rootCluster: number;
  /** Byte offset of cluster 2. */
  dataOffset: number;
  /** Clusters are numbered 2 .. clusterCount + 1. */
  clusterCount: number;
  /** Bytes covered by the file system. */
  volumeBytes: number;
}

const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000;
const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

/**
 * Whether the first sector looks like a FAT boot sector at all. Other file systems with a
 * DOS-style boot sector (NTFS, exFAT) fail here, so probing them is not an error.
 */
export function looksLikeFat(boot: Uint8Array): boolean {
  if (boot.length < 512) return false;
  if (!(boot[0] === 0xeb || boot[0] === 0xe9)) return false;
  if (boot[510] !== 0x55 || boot[511] !== 0xaa) return false;
  const oem = String.fromCharCode(...boot.subarray(3, 11));
  if (oem === 'NTFS    ' || oem === 'EXFAT   ') return false;
  const bps = u16(boot, 11);
  if (![512, 1024, 2048, 4096].includes(bps)) return false;
  if (!isPowerOfTwo(boot[13])) return false;
  const media = boot[21];
  return media === 0xf0 || media >= 0xf8;
}

/** Parses and validates the BPB; the FAT type follows from the cluster count (Microsoft spec). */
export function parseBpb(boot: Uint8Array): FatGeometry {
  const bytesPerSector = u16(boot, 11);
  const sectorsPerCluster = boot[13];
  const reservedSectors = u16(boot, 14);
  const numFats = boot[16];
  const rootEntries = u16(boot, 17);
  const totalSectors = u16(boot, 19) || u32(boot, 32);
  const fatSectors = u16(boot, 22) || u32(boot, 36);
  if (reservedSectors === 0) throw new DiskFormatError('FAT: reserved sector count is 0');
  if (numFats === 0 || numFats > 4) throw new DiskFormatError(`FAT: implausible number of FATs ${numFats}`);
  if (fatSectors === 0) throw new DiskFormatError('FAT: FAT size is 0');
  if (totalSectors === 0) throw new DiskFormatError('FAT: total sector count is 0');
  const rootDirSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  const metaSectors = reservedSectors + numFats * fatSectors + rootDirSectors;
  if (metaSectors >= totalSectors) throw new DiskFormatError('FAT: metadata is larger than the volume');
  const clusterCount = Math.floor((totalSectors - metaSectors) / sectorsPerCluster);
  if (clusterCount < 1) throw new DiskFormatError('FAT: no data clusters');
  const kind: FatKind = clusterCount < 4085 ? 12 : clusterCount < 65525 ? 16 : 32;
  if (kind === 32 && clusterCount > 0x0ffffff5) throw new DiskFormatError('FAT32: too many clusters');
  if (kind !== 32 && rootEntries === 0) throw new DiskFormatError(`FAT${kind}: root directory has no entries`);
  if (kind === 32 && rootEntries !== 0) throw new DiskFormatError('FAT32: fixed root directory present');

  const fatBytes = fatSectors * bytesPerSector;
  const neededFatBytes = kind === 12 ? Math.ceil(((clusterCount + 2) * 3) / 2) : (clusterCount + 2) * (kind / 8);
  if (fatBytes < neededFatBytes) throw new DiskFormatError(`FAT${kind}: FAT too small for ${clusterCount} clusters`);

  let activeFat = 0;
  let rootCluster = 0;
  if (kind === 32) {
    const extFlags = u16(boot, 40);
    if (extFlags & 0x80) activeFat = extFlags & 0x0f;
    if (activeFat >= numFats) throw new DiskFormatError(`FAT32: active FAT ${activeFat} does not exist`);
    rootCluster = u32(boot, 44) & 0x0fffffff;
    if (rootCluster < 2 || rootCluster > clusterCount + 1) throw new DiskFormatError(`FAT32: root cluster ${rootCluster} out of range`);
  }
  const fatStart = reservedSectors * bytesPerSector;
  return {
    kind,
    bytesPerSector,
    bytesPerCluster: bytesPerSector * sectorsPerCluster,
    fatOffset: fatStart + activeFat * fatBytes,
    fatBytes,
    rootDirOffset: kind === 32 ? 0 : fatStart + numFats * fatBytes,
    rootDirBytes: kind === 32 ? 0 : rootEntries * 32,
    rootCluster,
    dataOffset: metaSectors * bytesPerSector,
    clusterCount,
    volumeBytes: totalSectors * bytesPerSector,
  };
}
