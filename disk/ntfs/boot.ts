import { DiskFormatError } from '../types.js';
import { safeU64, u16, u8 } from './bytes.js';

export interface NtfsGeometry {
  bytesPerSector: number;
  clusterSize: number;
  totalClusters: number;
  mftOffset: number;
  mftRecordSize: number;
  indexBlockSize: number;
}

export function isNtfsBootSector(boot: Uint8Array): boolean {
  return boot.length >= 512 && Buffer.from(boot.subarray(3, 11)).toString('latin1') === 'NTFS    ';
}

/** A size field that counts clusters when positive and is 2^-n bytes when negative. */
function clustersOrLog(raw: number, clusterSize: number): number {
  const signed = raw > 127 ? raw - 256 : raw;
  if (signed > 0) return signed * clusterSize;
  if (signed < -31 || signed === 0) return 0;
  return 2 ** -signed;
}

export function parseBootSector(boot: Uint8Array): NtfsGeometry {
  const bytesPerSector = u16(boot, 11);
  if (![256, 512, 1024, 2048, 4096].includes(bytesPerSector)) throw new DiskFormatError(`NTFS: bad bytes per sector ${bytesPerSector}`);
  const spcRaw = u8(boot, 13);
  // Values above 0x80 mean 2^(256 - value) sectors, for clusters over 64 KiB.
  const sectorsPerCluster = spcRaw <= 0x80 ? spcRaw : 2 ** (256 - spcRaw);
  if (sectorsPerCluster === 0 || (sectorsPerCluster & (sectorsPerCluster - 1)) !== 0) throw new DiskFormatError('NTFS: bad sectors per cluster');
  const clusterSize = bytesPerSector * sectorsPerCluster;
  if (clusterSize > 2 * 1024 * 1024) throw new DiskFormatError('NTFS: cluster size too large');
  const totalSectors = safeU64(boot, 40);
  const mftLcn = safeU64(boot, 48);
  if (totalSectors === null || totalSectors === 0) throw new DiskFormatError('NTFS: bad total sector count');
  const totalClusters = Math.floor(totalSectors / sectorsPerCluster);
  if (mftLcn === null || mftLcn === 0 || mftLcn >= totalClusters) throw new DiskFormatError('NTFS: $MFT location outside the volume');
  const mftRecordSize = clustersOrLog(u8(boot, 64), clusterSize);
  const indexBlockSize = clustersOrLog(u8(boot, 68), clusterSize);
  const okRecord = (n: number) => n >= 512 && n <= 65536 && (n & (n - 1)) === 0;
  if (!okRecord(mftRecordSize)) throw new DiskFormatError(`NTFS: bad MFT record size ${mftRecordSize}`);
  if (!okRecord(indexBlockSize)) throw new DiskFormatError(`NTFS: bad index block size ${indexBlockSize}`);
  return { bytesPerSector, clusterSize, totalClusters, mftOffset: mftLcn * clusterSize, mftRecordSize, indexBlockSize };
}
