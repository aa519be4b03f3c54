/**
 * The image map: which byte ranges of a disk image lie in which blobs. Bytes no extent
 * covers are zeros (holes, never stored). For a large image the map is a chain of parts,
 * each a tree-type blob of at most MAX_PART_BYTES, listed by a small root blob with each
 * part's image range, so a reader finds the extents for an offset with two binary
 * searches and two blob loads, without loading the whole map.
 *
 * Everything here is pure: binary encode/decode with full validation. The layout is in
 * docs/FORMAT.md ("Image map").
 */

export interface MapExtent {
  imageOffset: number;
  length: number;
  /** Hex id of the data blob holding these bytes. */
  blob: string;
  /** Where the bytes start inside the blob's plaintext. */
  blobOffset: number;
}

export interface MapPart {
  /** Image range [start, end) this part covers; parts tile [0, image size). */
  start: number;
  end: number;
  extents: MapExtent[];
}

export interface MapRootEntry {
  start: number;
  end: number;
  /** Hex id of the part's blob. */
  id: string;
}

export interface MapRoot {
  size: number;
  parts: MapRootEntry[];
}

export class ImageMapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageMapError';
  }
}

const PART_MAGIC = 0x504d4943; // "CIMP" little-endian
const ROOT_MAGIC = 0x524d4943; // "CIMR"
const VERSION = 1;
const HEADER = 8;
const PART_FIXED = HEADER + 8 + 8 + 4 + 4;
const ROOT_FIXED = HEADER + 8 + 4;
const ID = 32;
const EXTENT = 8 + 4 + 4 + 4;
const ROOT_ENTRY = 8 + ID;
export const MAX_PART_BYTES = 1024 * 1024;
export const MAX_ROOT_BYTES = 1024 * 1024;
/** A blob is one chunk, and chunks are at most 64 MiB (chunker bounds). */
const MAX_BLOB_OFFSET = 2 ** 32 - 1;

const HEX64 = /^[0-9a-f]{64}$/;

function fail(what: string): never {
  throw new ImageMapError(`image map: ${what}`);
}

function readU64(v: DataView, at: number): number {
  const n = v.getBigUint64(at, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) fail(`offset ${n} is out of range`);
  return Number(n);
}

function header(v: DataView, bytes: Uint8Array, magic: number, min: number, max: number, what: string) {
  if (bytes.length < min) fail(`${what} is truncated (${bytes.length} bytes)`);
  if (bytes.length > max) fail(`${what} is ${bytes.length} bytes, more than the limit of ${max}`);
  if (v.getUint32(0, true) !== magic) fail(`${what} has a bad magic number`);
  if (v.getUint8(4) !== VERSION) fail(`${what} has unsupported version ${v.getUint8(4)}`);
  if (v.getUint8(5) || v.getUint16(6, true)) fail(`${what} has non-zero reserved bytes`);
}

function writeHeader(v: DataView, magic: number) {
  v.setUint32(0, magic, true);
  v.setUint8(4, VERSION);
}

/** Checks what makes a part canonical and sane; the decoder and encoder share it. */
export function validatePart(p: MapPart): void {
  if (!Number.isSafeInteger(p.start) || !Number.isSafeInteger(p.end) || p.start < 0 || p.end <= p.start) fail(`part range [${p.start}, ${p.end}) is invalid`);
  if (p.extents.length === 0) fail('part has no extents');
  let prevEnd = p.start;
  let prev: MapExtent | undefined;
  for (const e of p.extents) {
    if (!Number.isSafeInteger(e.imageOffset) || !Number.isSafeInteger(e.length) || e.length < 1) fail(`extent at ${e.imageOffset} has a bad length ${e.length}`);
    if (e.imageOffset < prevEnd) fail(`extent at ${e.imageOffset} overlaps the previous one or lies before the part start ${p.start}`);
    if (e.imageOffset + e.length > p.end) fail(`extent [${e.imageOffset}, ${e.imageOffset + e.length}) runs past the part end ${p.end}`);
    if (!Number.isSafeInteger(e.blobOffset) || e.blobOffset < 0 || e.blobOffset + e.length > MAX_BLOB_OFFSET) fail(`extent at ${e.imageOffset} has a bad blob offset ${e.blobOffset}`);
    if (!HEX64.test(e.blob)) fail(`extent at ${e.imageOffset} has a bad blob id`);
    if (prev && prev.imageOffset + prev.length === e.imageOffset && prev.blob === e.blob && prev.blobOffset + prev.length === e.blobOffset) {
      fail(`extents at ${prev.imageOffset} and ${e.imageOffset} are contiguous in the same blob and must be one extent`);
    }
    prevEnd = e.imageOffset + e.length;
    prev = e;
  }
}

/** Blob ids in order of first use: the part's dictionary. */
function dictionary(extents: MapExtent[]): string[] {
  const seen = new Set<string>();
  for (const e of extents) seen.add(e.blob);
  return [...seen];
}

export function partSize(extents: number, blobs: number): number {
  return PART_FIXED + blobs * ID + extents * EXTENT;
}

export function encodePart(p: MapPart): Uint8Array {
  validatePart(p);
  const blobs = dictionary(p.extents);
  const size = partSize(p.extents.length, blobs.length);
  if (size > MAX_PART_BYTES) fail(`part of ${size} bytes exceeds ${MAX_PART_BYTES}`);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  writeHeader(v, PART_MAGIC);
  v.setBigUint64(HEADER, BigInt(p.start), true);
  v.setBigUint64(HEADER + 8, BigInt(p.end), true);
  v.setUint32(HEADER + 16, blobs.length, true);
  v.setUint32(HEADER + 20, p.extents.length, true);
  const index = new Map<string, number>();
  let at = PART_FIXED;
  blobs.forEach((b, i) => {
    index.set(b, i);
    out.set(Buffer.from(b, 'hex'), at);
    at += ID;
  });
  for (const e of p.extents) {
    v.setBigUint64(at, BigInt(e.imageOffset), true);
    v.setUint32(at + 8, e.length, true);
    v.setUint32(at + 12, index.get(e.blob)!, true);
    v.setUint32(at + 16, e.blobOffset, true);
    at += EXTENT;
  }
  return out;
}

export function decodePart(bytes: Uint8Array): MapPart {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  header(v, bytes, PART_MAGIC, PART_FIXED, MAX_PART_BYTES, 'map part');
  const start = readU64(v, HEADER);
  const end = readU64(v, HEADER + 8);
  const nBlobs = v.getUint32(HEADER + 16, true);
  const nExtents = v.getUint32(HEADER + 20, true);
  // Bounds checked before any allocation: counts come from untrusted bytes.
  if (bytes.length !== partSize(nExtents, nBlobs)) fail(`map part is ${bytes.length} bytes, its counts say ${partSize(nExtents, nBlobs)}`);
  const blobs: string[] = [];
  let at = PART_FIXED;
  for (let i = 0; i < nBlobs; i++, at += ID) blobs.push(Buffer.from(bytes.subarray(at, at + ID)).toString('hex'));
  const extents: MapExtent[] = [];
  let nextNew = 0;
  for (let i = 0; i < nExtents; i++, at += EXTENT) {
    const bi = v.getUint32(at + 12, true);
    if (bi > nextNew || bi >= nBlobs) fail(`extent ${i} uses blob ${bi} out of first-use order or range`);
    if (bi === nextNew) nextNew++;
    extents.push({ imageOffset: readU64(v, at), length: v.getUint32(at + 8, true), blob: blobs[bi], blobOffset: v.getUint32(at + 16, true) });
  }
  if (nextNew !== nBlobs) fail('map part lists blobs no extent uses');
  if (new Set(blobs).size !== blobs.length) fail('map part lists a blob twice');
  const part = { start, end, extents };
  validatePart(part);
  return part;
}

export function validateRoot(r: MapRoot): void {
  if (!Number.isSafeInteger(r.size) || r.size < 0) fail(`bad image size ${r.size}`);
  let prevEnd = 0;
  for (const p of r.parts) {
    if (p.start !== prevEnd) fail(`part [${p.start}, ${p.end}) does not start where the previous one ends (${prevEnd})`);
    if (!Number.isSafeInteger(p.end) || p.end <= p.start) fail(`part [${p.start}, ${p.end}) is empty or reversed`);
    if (!HEX64.test(p.id)) fail('part has a bad blob id');
    prevEnd = p.end;
  }
  if (r.parts.length > 0 && prevEnd !== r.size) fail(`parts end at ${prevEnd}, the image is ${r.size} bytes`);
}

export function encodeRoot(r: MapRoot): Uint8Array {
  validateRoot(r);
  const size = ROOT_FIXED + r.parts.length * ROOT_ENTRY;
  if (size > MAX_ROOT_BYTES) fail(`root of ${size} bytes exceeds ${MAX_ROOT_BYTES}`);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  writeHeader(v, ROOT_MAGIC);
  v.setBigUint64(HEADER, BigInt(r.size), true);
  v.setUint32(HEADER + 8, r.parts.length, true);
  let at = ROOT_FIXED;
  for (const p of r.parts) {
    v.setBigUint64(at, BigInt(p.end), true);
    out.set(Buffer.from(p.id, 'hex'), at + 8);
    at += ROOT_ENTRY;
  }
  return out;
}

export function decodeRoot(bytes: Uint8Array): MapRoot {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  header(v, bytes, ROOT_MAGIC, ROOT_FIXED, MAX_ROOT_BYTES, 'map root');
  const size = readU64(v, HEADER);
  const n = v.getUint32(HEADER + 8, true);
  if (bytes.length !== ROOT_FIXED + n * ROOT_ENTRY) fail(`map root is ${bytes.length} bytes, its count says ${ROOT_FIXED + n * ROOT_ENTRY}`);
  const parts: MapRootEntry[] = [];
  let start = 0;
  for (let i = 0, at = ROOT_FIXED; i < n; i++, at += ROOT_ENTRY) {
    const end = readU64(v, at);
    parts.push({ start, end, id: Buffer.from(bytes.subarray(at + 8, at + 8 + ID)).toString('hex') });
    start = end;
  }
  const root = { size, parts };
  validateRoot(root);
  return root;
}

/**
 * Sorts extents, merges the ones that continue each other in the same blob, and rejects
 * overlaps and extents outside [0, size). The result is the canonical extent list.
 */
export function normalizeExtents(extents: MapExtent[], size: number): MapExtent[] {
  const sorted = [...extents].sort((a, b) => a.imageOffset - b.imageOffset);
  const out: MapExtent[] = [];
  for (const e of sorted) {
    if (e.length === 0) continue;
    if (e.imageOffset < 0 || e.imageOffset + e.length > size) fail(`extent [${e.imageOffset}, ${e.imageOffset + e.length}) lies outside the image of ${size} bytes`);
    const last = out[out.length - 1];
    if (last && e.imageOffset < last.imageOffset + last.length) fail(`extents at ${last.imageOffset} and ${e.imageOffset} overlap`);
    if (last && last.imageOffset + last.length === e.imageOffset && last.blob === e.blob && last.blobOffset + last.length === e.blobOffset) {
      out[out.length - 1] = { ...last, length: last.length + e.length };
    } else out.push({ ...e });
  }
  return out;
}

/**
 * Cuts a canonical extent list into parts of at most MAX_PART_BYTES, filled greedily in
 * order, so the same extents always give the same parts (and the same blob ids).
 */
export function splitIntoParts(extents: MapExtent[], size: number, maxBytes = MAX_PART_BYTES): MapPart[] {
  const groups: MapExtent[][] = [];
  let cur: MapExtent[] = [];
  let blobs = new Set<string>();
  for (const e of extents) {
    const newBlob = !blobs.has(e.blob);
    if (cur.length > 0 && partSize(cur.length + 1, blobs.size + (newBlob ? 1 : 0)) > maxBytes) {
      groups.push(cur);
      cur = [];
      blobs = new Set();
    }
    cur.push(e);
    blobs.add(e.blob);
  }
  if (cur.length) groups.push(cur);
  return groups.map((g, i) => ({
    start: i === 0 ? 0 : g[0].imageOffset,
    end: i + 1 < groups.length ? groups[i + 1][0].imageOffset : size,
    extents: g,
  }));
}

/** Index of the last element whose key is <= x, or -1. */
export function floorIndex<T>(items: T[], x: number, key: (t: T) => number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(items[mid]) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}
