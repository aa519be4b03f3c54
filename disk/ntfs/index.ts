import { DiskFormatError, type FileSystemProbe } from '../types.js';
import { readPadded } from '../read-padded.js';
import { isNtfsBootSector, parseBootSector } from './boot.js';
import { applyFixups } from './fixup.js';
import { AT_DATA, parseMftRecord } from './record.js';
import { joinSegments } from './stream.js';
import { NtfsFileSystem, ROOT_RECORD } from './fs.js';

/**
 * Recognizes NTFS by its boot sector. Returns null for other file systems; throws
 * DiskFormatError when the boot sector, $MFT or root directory cannot be read.
 */
export const probeNtfs: FileSystemProbe = async (src, opts = {}) => {
  if (src.size < 512) return null;
  const boot = await readPadded(src, 0, 512, () => {});
  if (!isNtfsBootSector(boot)) return null;
  const warn = opts.onWarning ?? (() => {});
  const geo = parseBootSector(boot);

  const record0 = await readPadded(src, geo.mftOffset, geo.mftRecordSize, warn);
  const err = applyFixups(record0, 'FILE');
  if (err) throw new DiskFormatError(`NTFS: $MFT record 0: ${err}`);
  const mftRecord = parseMftRecord(record0, geo.totalClusters, (m) => warn(`NTFS: $MFT record: ${m}`));
  const mftData = joinSegments(mftRecord.attributes.filter((a) => a.type === AT_DATA && a.name === ''), warn);
  if (!mftData || mftData.resident || mftData.runs.length === 0) throw new DiskFormatError('NTFS: $MFT has no data runs');

  const fs = new NtfsFileSystem(src, geo, mftData.runs, mftData.size, warn);
  await fs.completeMftMapping();
  const root = await fs.fileInfo(ROOT_RECORD);
  if (!root || !root.inUse || !root.isDirectory) throw new DiskFormatError('NTFS: root directory (MFT record 5) unreadable');
  return fs;
};
