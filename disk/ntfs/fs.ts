import type { ReadAt } from '../source.js';
import type { ByteRange, DiskNode, FileSystem, OpenOptions, PhysicalExtent } from '../types.js';
import { isUnsafeName, readPadded, utf8 } from '../read-padded.js';
import { u32, utf16 } from './bytes.js';
import type { NtfsGeometry } from './boot.js';
import { applyFixups } from './fixup.js';
import { decompressLznt1 } from './lznt1.js';
import { NAMESPACE_DOS, parseFileName, parseIndexNode, parseStandardInformation, type FileName, type IndexEntry, type StandardInformation } from './names.js';
import {
  AT_ATTRIBUTE_LIST, AT_DATA, AT_FILE_NAME, AT_INDEX_ALLOCATION, AT_INDEX_ROOT, AT_REPARSE_POINT, AT_STANDARD_INFORMATION,
  parseAttributeList, parseMftRecord, type Attribute, type MftRecord,
} from './record.js';
import { isLinkReparse, reparseTarget } from './reparse.js';
import { joinSegments, runsBetween, type Stream } from './stream.js';
import type { DataRun } from './runs.js';

export const ROOT_RECORD = 5;
const BITMAP_RECORD = 6;
/** Records 0-15 are the file system's own ($MFT, $Bitmap, ..., $Extend). */
const FIRST_USER_RECORD = 16;
const MAX_EXTENSION_RECORDS = 1024;
const MAX_METADATA_VALUE = 16 * 1024 * 1024;
const MAX_INDEX_DEPTH = 32;
const CACHED_FILES = 256;
const MAX_COMPRESSION_UNIT_BYTES = 4 * 1024 * 1024;

/** What cairn needs of one file: its attributes gathered from the base and extension records. */
export interface FileInfo {
  record: number;
  sequence: number;
  inUse: boolean;
  isDirectory: boolean;
  attributes: Attribute[];
  si: StandardInformation | null;
  names: FileName[];
  data: Stream | null;
  reparse?: Uint8Array;
  /** Target of an Interix-style symlink (what ntfs-3g writes by default). */
  interixTarget?: string;
}

const FILE_ATTRIBUTE_SYSTEM = 0x04;
const INTERIX_MAGIC = 'IntxLNK\x01';
const MAX_INTERIX_BYTES = 8 + 2 * 4096;

export class NtfsFileSystem implements FileSystem {
  readonly type = 'ntfs' as const;
  private readonly files = new Map<number, FileInfo | null>();
  private mft: Stream;
  private lastUnit: { record: number; unit: number; bytes: Uint8Array } | null = null;

  constructor(
    private readonly src: ReadAt,
    private readonly geo: NtfsGeometry,
    mftRuns: DataRun[],
    mftSize: number,
    private readonly warn: (message: string) => void,
  ) {
    this.mft = { runs: mftRuns, size: mftSize, initializedSize: mftSize, compressed: false, encrypted: false, compressionUnit: 0 };
  }

  /** Replaces the bootstrap $MFT mapping with the full one once record 0 is fully known. */
  async completeMftMapping(): Promise<void> {
    const info = await this.fileInfo(0);
    if (info?.data && !info.data.resident && info.data.runs.length >= this.mft.runs.length) this.mft = info.data;
  }

  get recordCount(): number {
    return Math.floor(this.mft.size / this.geo.mftRecordSize);
  }

  root(): DiskNode {
    return { id: ROOT_RECORD, name: new Uint8Array(0), type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtimeNs: 0n, atimeNs: 0n, ctimeNs: 0n, nlink: 1 };
  }

  /** Bytes [offset, offset+length) of a non-resident stream; holes and the uninitialized tail read as zeros. */
  private async readStream(s: Stream, offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(offset + length, s.size);
    const out = new Uint8Array(Math.max(0, end - offset));
    const readable = Math.min(end, s.initializedSize);
    if (offset >= readable) return out;
    const cs = this.geo.clusterSize;
    for (const r of runsBetween(s.runs, Math.floor(offset / cs), Math.ceil(readable / cs))) {
      if (r.lcn === null) continue;
      const from = Math.max(offset, r.vcn * cs);
      const to = Math.min(readable, (r.vcn + r.length) * cs);
      if (to <= from) continue;
      const bytes = await readPadded(this.src, r.lcn * cs + (from - r.vcn * cs), to - from, this.warn);
      out.set(bytes, from - offset);
    }
    return out;
  }

  private async streamValue(s: Stream, what: string): Promise<Uint8Array> {
    if (s.resident) return s.resident;
    if (s.size > MAX_METADATA_VALUE) {
      this.warn(`NTFS: ${what} is ${s.size} bytes; ignored`);
      return new Uint8Array(0);
    }
    return this.readStream(s, 0, s.size);
  }

  private async loadRecord(n: number): Promise<MftRecord | null> {
    if (n < 0 || n >= this.recordCount) {
      this.warn(`NTFS: MFT record ${n} does not exist`);
      return null;
    }
    const size = this.geo.mftRecordSize;
    const bytes = await this.readStream(this.mft, n * size, size);
    if (bytes.length < size) return null;
    const err = applyFixups(bytes, 'FILE');
    if (err) {
      this.warn(`NTFS: MFT record ${n}: ${err}; skipped`);
      return null;
    }
    return parseMftRecord(bytes, this.geo.totalClusters, (m) => this.warn(`NTFS: MFT record ${n}: ${m}`));
  }

  async fileInfo(n: number): Promise<FileInfo | null> {
    if (this.files.has(n)) return this.files.get(n)!;
    const info = await this.gather(n);
    if (this.files.size >= CACHED_FILES) this.files.delete(this.files.keys().next().value as number);
    this.files.set(n, info);
    return info;
  }

  private async gather(n: number): Promise<FileInfo | null> {
    const base = await this.loadRecord(n);
    if (!base) return null;
    let attributes = base.attributes;
    const list = attributes.find((a) => a.type === AT_ATTRIBUTE_LIST);
    if (list) {
      const listStream = joinSegments([list], this.warn);
      const value = listStream ? await this.streamValue(listStream, `attribute list of record ${n}`) : new Uint8Array(0);
      const records = [...new Set(parseAttributeList(value, (m) => this.warn(`NTFS: record ${n}: ${m}`)).map((e) => e.record))];
      attributes = attributes.filter((a) => a.type !== AT_ATTRIBUTE_LIST);
      // Extension records never hold attribute lists of their own, so this is one level deep.
      for (const ext of records.filter((r) => r !== n).slice(0, MAX_EXTENSION_RECORDS)) {
        const rec = await this.loadRecord(ext);
        if (!rec || rec.baseRecord !== n) {
          this.warn(`NTFS: record ${n}: extension record ${ext} is missing or belongs elsewhere`);
          continue;
        }
        attributes = attributes.concat(rec.attributes.filter((a) => a.type !== AT_ATTRIBUTE_LIST));
      }
    }
    const si = attributes.find((a) => a.type === AT_STANDARD_INFORMATION && a.value);
    const names = attributes
      .filter((a) => a.type === AT_FILE_NAME && a.value)
      .map((a) => parseFileName(a.value!))
      .filter((f): f is FileName => f !== null);
    const reparse = attributes.find((a) => a.type === AT_REPARSE_POINT);
    const reparseStream = reparse ? joinSegments([reparse], this.warn) : null;
    const data = joinSegments(attributes.filter((a) => a.type === AT_DATA && a.name === ''), (m) => this.warn(`NTFS: record ${n}: ${m}`));
    const siValue = si ? parseStandardInformation(si.value!) : null;
    let interixTarget: string | undefined;
    if (siValue && siValue.attributes & FILE_ATTRIBUTE_SYSTEM && data && !data.compressed && data.size > 8 && data.size <= MAX_INTERIX_BYTES) {
      const bytes = data.resident ?? (await this.readStream(data, 0, data.size));
      if (Buffer.from(bytes.subarray(0, 8)).toString('latin1') === INTERIX_MAGIC) interixTarget = utf16(bytes, 8, (bytes.length - 8) >> 1);
    }
    return {
      record: n,
      sequence: base.sequence,
      inUse: base.inUse,
      isDirectory: base.isDirectory,
      attributes,
      si: siValue,
      names,
      data,
      interixTarget,
      reparse: reparseStream ? await this.streamValue(reparseStream, `reparse point of record ${n}`) : undefined,
    };
  }

  private linkTarget(info: FileInfo): string | null {
    if (info.interixTarget !== undefined) return info.interixTarget;
    return isLinkReparse(info.reparse) ? reparseTarget(info.reparse!) : null;
  }

  private toNode(info: FileInfo, name: string): DiskNode {
    const target = this.linkTarget(info);
    const type = target !== null ? 'symlink' : info.isDirectory ? 'dir' : 'file';
    const size = target !== null ? utf8(target).length : type === 'file' ? (info.data?.size ?? 0) : 0;
    return {
      id: info.record,
      name: utf8(name),
      type,
      mode: type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644,
      uid: 0,
      gid: 0,
      size,
      mtimeNs: info.si?.modifiedNs ?? 0n,
      atimeNs: info.si?.accessedNs ?? 0n,
      ctimeNs: info.si?.changedNs ?? 0n,
      nlink: Math.max(1, info.names.filter((f) => f.namespace !== NAMESPACE_DOS).length),
    };
  }

  /** All entries of a directory's $I30 index: the root node, then every reachable INDX block. */
  private async indexEntries(info: FileInfo): Promise<IndexEntry[]> {
    const rootAttr = info.attributes.find((a) => a.type === AT_INDEX_ROOT && a.name === '$I30' && a.value);
    if (!rootAttr) {
      this.warn(`NTFS: directory record ${info.record} has no index root`);
      return [];
    }
    const tag = `NTFS: directory record ${info.record}`;
    const warn = (m: string) => this.warn(`${tag}: ${m}`);
    const rootValue = rootAttr.value!;
    let blockSize = u32(rootValue, 8);
    if (blockSize < 512 || blockSize > 65536 || (blockSize & (blockSize - 1)) !== 0) blockSize = this.geo.indexBlockSize;
    const vcnUnit = blockSize >= this.geo.clusterSize ? this.geo.clusterSize : 512;
    const alloc = joinSegments(info.attributes.filter((a) => a.type === AT_INDEX_ALLOCATION && a.name === '$I30'), warn);
    const maxBlocks = alloc ? Math.ceil(alloc.size / blockSize) : 0;

    const all: IndexEntry[] = [];
    const visited = new Set<number>();
    const pending: { entries: IndexEntry[]; depth: number }[] = [{ entries: parseIndexNode(rootValue, 16, warn), depth: 0 }];
    while (pending.length > 0) {
      const { entries, depth } = pending.pop()!;
      for (const e of entries) {
        if (e.fileName) all.push(e);
        if (e.subnode === null) continue;
        if (!alloc || alloc.resident || depth >= MAX_INDEX_DEPTH || visited.has(e.subnode) || visited.size >= maxBlocks) {
          if (!visited.has(e.subnode)) warn(`index child block ${e.subnode} unreachable; skipped`);
          continue;
        }
        visited.add(e.subnode);
        const block = await this.readStream(alloc, e.subnode * vcnUnit, blockSize);
        const err = block.length === blockSize ? applyFixups(block, 'INDX') : 'block outside the index';
        if (err) {
          warn(`index block ${e.subnode}: ${err}; skipped`);
          continue;
        }
        pending.push({ entries: parseIndexNode(block, 24, warn), depth: depth + 1 });
      }
    }
    return all;
  }

  async list(dir: DiskNode): Promise<DiskNode[]> {
    if (dir.type !== 'dir') throw new Error('NTFS: list() needs a directory');
    const info = await this.fileInfo(dir.id);
    if (!info || !info.inUse) {
      this.warn(`NTFS: directory record ${dir.id} unreadable`);
      return [];
    }
    const seen = new Set<string>();
    const out: DiskNode[] = [];
    for (const e of await this.indexEntries(info)) {
      const fn = e.fileName!;
      if (fn.namespace === NAMESPACE_DOS || e.record === info.record || e.record < FIRST_USER_RECORD) continue;
      const key = `${e.record}/${fn.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (isUnsafeName(fn.name)) {
        this.warn(`NTFS: skipping entry with unusable name ${JSON.stringify(fn.name)}`);
        continue;
      }
      const child = await this.fileInfo(e.record);
      if (!child || !child.inUse || (e.sequence !== 0 && e.sequence !== child.sequence)) {
        this.warn(`NTFS: "${fn.name}" points to a missing or reused MFT record ${e.record}; skipped`);
        continue;
      }
      out.push(this.toNode(child, fn.name));
    }
    return out;
  }

  private async fileStream(file: DiskNode): Promise<Stream | null> {
    if (file.type !== 'file') throw new Error('NTFS: not a regular file');
    const info = await this.fileInfo(file.id);
    if (!info) throw new Error(`NTFS: MFT record ${file.id} unreadable`);
    if (info.data?.encrypted) throw new Error(`NTFS: record ${file.id} is encrypted; not supported`);
    return info.data;
  }

  async extents(file: DiskNode): Promise<PhysicalExtent[] | null> {
    const s = await this.fileStream(file);
    if (!s) return [];
    if (s.resident || s.compressed) return null;
    const cs = this.geo.clusterSize;
    const limit = Math.min(s.size, s.initializedSize);
    const out: PhysicalExtent[] = [];
    for (const r of runsBetween(s.runs, 0, Math.ceil(limit / cs))) {
      if (r.lcn === null) continue;
      const fileOffset = r.vcn * cs;
      const length = Math.min(r.length * cs, limit - fileOffset);
      const last = out[out.length - 1];
      if (last && last.fileOffset + last.length === fileOffset && last.diskOffset + last.length === r.lcn * cs) last.length += length;
      else out.push({ fileOffset, diskOffset: r.lcn * cs, length });
    }
    return out;
  }

  async readFile(file: DiskNode, offset: number, length: number): Promise<Uint8Array> {
    const s = await this.fileStream(file);
    const size = s?.size ?? 0;
    const end = Math.min(size, offset + Math.max(0, length));
    if (!s || offset < 0 || offset >= end) return new Uint8Array(0);
    if (s.resident) {
      const out = new Uint8Array(end - offset);
      out.set(s.resident.subarray(offset, end));
      return out;
    }
    if (s.compressed) return this.readCompressed(file.id, s, offset, end);
    return this.readStream(s, offset, end - offset);
  }

  private async readCompressed(record: number, s: Stream, offset: number, end: number): Promise<Uint8Array> {
    const unitClusters = 2 ** s.compressionUnit;
    const unitBytes = unitClusters * this.geo.clusterSize;
    // Windows writes 16-cluster units of at most 64 KiB; larger ones only come from damage.
    if (unitBytes > MAX_COMPRESSION_UNIT_BYTES) throw new Error(`NTFS: record ${record}: compression unit of ${unitBytes} bytes not supported`);
    const out = new Uint8Array(end - offset);
    for (let u = Math.floor(offset / unitBytes); u * unitBytes < end; u++) {
      const bytes = await this.compressionUnit(record, s, u, unitClusters);
      const from = Math.max(offset, u * unitBytes);
      const to = Math.min(end, (u + 1) * unitBytes);
      out.set(bytes.subarray(from - u * unitBytes, to - u * unitBytes), from - offset);
    }
    return out;
  }

  /**
   * One compression unit: all clusters sparse = zeros; all allocated = stored as is;
   * otherwise the allocated clusters hold LZNT1 data for the whole unit.
   */
  private async compressionUnit(record: number, s: Stream, u: number, unitClusters: number): Promise<Uint8Array> {
    if (this.lastUnit?.record === record && this.lastUnit.unit === u) return this.lastUnit.bytes;
    const cs = this.geo.clusterSize;
    const pieces = runsBetween(s.runs, u * unitClusters, (u + 1) * unitClusters).filter((r) => r.lcn !== null);
    const allocated = pieces.reduce((n, r) => n + r.length, 0);
    const out = new Uint8Array(unitClusters * cs);
    if (allocated > 0) {
      const stored = Buffer.concat(await Promise.all(pieces.map((r) => readPadded(this.src, r.lcn! * cs, r.length * cs, this.warn))));
      if (allocated === unitClusters) out.set(stored);
      else {
        const err = decompressLznt1(stored, out);
        if (err) this.warn(`NTFS: record ${record}, compression unit ${u}: ${err}`);
      }
    }
    this.lastUnit = { record, unit: u, bytes: out };
    return out;
  }

  async readlink(link: DiskNode): Promise<Uint8Array> {
    const info = await this.fileInfo(link.id);
    const target = info ? this.linkTarget(info) : null;
    if (target === null) throw new Error(`NTFS: record ${link.id} has no readable link target`);
    return utf8(target);
  }

  async usedRanges(): Promise<ByteRange[]> {
    const info = await this.fileInfo(BITMAP_RECORD);
    if (!info?.data) throw new Error('NTFS: $Bitmap unreadable');
    const cs = this.geo.clusterSize;
    // Clusters past the end of the source cannot hold anything readable.
    const total = Math.min(this.geo.totalClusters, Math.ceil(this.src.size / cs));
    const ranges: ByteRange[] = [];
    const add = (cluster: number, count: number) => {
      const last = ranges[ranges.length - 1];
      if (last && last.offset + last.length === cluster * cs) last.length += count * cs;
      else ranges.push({ offset: cluster * cs, length: count * cs });
    };
    const chunkBytes = 1 << 20;
    const bitmapBytes = Math.min(info.data.size, Math.ceil(total / 8));
    for (let off = 0; off < bitmapBytes; off += chunkBytes) {
      const chunk = info.data.resident
        ? info.data.resident.subarray(off, off + chunkBytes)
        : await this.readStream(info.data, off, Math.min(chunkBytes, bitmapBytes - off));
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i];
        if (byte === 0) continue;
        const firstCluster = (off + i) * 8;
        for (let bit = 0; bit < 8 && firstCluster + bit < total; bit++) if (byte & (1 << bit)) add(firstCluster + bit, 1);
      }
    }
    return ranges;
  }
}
