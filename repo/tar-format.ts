/**
 * POSIX tar (pax interchange format) headers, for `cairn dump` of a directory. Pure: the
 * caller writes each header, the entry's content, and the padding to 512 bytes.
 *
 * An entry gets a pax extended header (typeflag `x`) before its ustar header when a field
 * does not fit ustar: a name or link target over 100 bytes, a size of 8 GiB or more, ids
 * over 2097151, long user or group names, times with a fraction of a second, xattrs.
 */
import { encodeBytes } from './tree.js';

export const BLOCK = 512;
/** Two zero blocks end an archive. */
export const TAR_END = new Uint8Array(2 * BLOCK);

export type TarType = 'file' | 'hardlink' | 'symlink' | 'chardev' | 'blockdev' | 'dir' | 'fifo';

export interface TarEntry {
  /** Path in the archive, relative, without a trailing slash. */
  path: Buffer;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  /** Content bytes that follow the header: regular files only. */
  size: number;
  mtimeNs: bigint;
  atimeNs?: bigint;
  /** Symlink target, or the earlier path a hard link names. */
  link?: Buffer;
  devMajor?: number;
  devMinor?: number;
  xattrs?: { name: string; value: Buffer }[];
}

const TYPEFLAG: Record<TarType, string> = { file: '0', hardlink: '1', symlink: '2', chardev: '3', blockdev: '4', dir: '5', fifo: '6' };
const MAX_OCTAL_SIZE = 8 ** 11 - 1;
const MAX_OCTAL_ID = 8 ** 7 - 1;
const NS = 1_000_000_000n;

/** The header block(s) for `e`: a pax extended header when needed, then the ustar header. */
export function tarHeader(e: TarEntry): Buffer {
  const name = e.type === 'dir' ? Buffer.concat([e.path, Buffer.from('/')]) : e.path;
  const pax: [string, Buffer][] = [];
  const text = (key: string, value: string) => pax.push([key, Buffer.from(value)]);
  if (name.length > 100) pax.push(['path', name]);
  if (e.link && e.link.length > 100) pax.push(['linkpath', e.link]);
  if (pax.some(([, v]) => encodeBytes(v).raw !== undefined)) text('hdrcharset', 'BINARY');
  if (e.size > MAX_OCTAL_SIZE) text('size', String(e.size));
  if (e.uid > MAX_OCTAL_ID) text('uid', String(e.uid));
  if (e.gid > MAX_OCTAL_ID) text('gid', String(e.gid));
  if (e.user && Buffer.byteLength(e.user) > 31) text('uname', e.user);
  if (e.group && Buffer.byteLength(e.group) > 31) text('gname', e.group);
  if (e.mtimeNs % NS !== 0n || e.mtimeNs < 0n) {
    text('mtime', paxTime(e.mtimeNs));
    if (e.atimeNs !== undefined) text('atime', paxTime(e.atimeNs));
  }
  for (const x of e.xattrs ?? []) pax.push([`SCHILY.xattr.${x.name}`, x.value]);

  const ustar = ustarHeader(e, name);
  if (pax.length === 0) return ustar;
  const records = Buffer.concat(pax.map(([k, v]) => paxRecord(k, v)));
  const paxName = Buffer.concat([Buffer.from('PaxHeaders/'), lastPart(name).subarray(0, 88)]);
  const paxHeader = ustarHeader({ path: paxName, type: 'file', mode: 0o644, uid: 0, gid: 0, size: records.length, mtimeNs: 0n }, paxName, 'x');
  return Buffer.concat([paxHeader, records, padding(records.length), ustar]);
}

/** Zeros that fill the last block of `size` content bytes. */
export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

function ustarHeader(e: TarEntry, name: Buffer, typeflag = TYPEFLAG[e.type]): Buffer {
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0, 0, Math.min(name.length, 100));
  octal(h, 100, 8, e.mode & 0o7777);
  octal(h, 108, 8, e.uid > MAX_OCTAL_ID ? 0 : e.uid);
  octal(h, 116, 8, e.gid > MAX_OCTAL_ID ? 0 : e.gid);
  octal(h, 124, 12, e.size > MAX_OCTAL_SIZE ? 0 : e.size);
  const seconds = e.mtimeNs / NS - (e.mtimeNs % NS < 0n ? 1n : 0n);
  octal(h, 136, 12, seconds < 0n ? 0 : Number(seconds));
  h.write(typeflag, 156, 'latin1');
  if (e.link) e.link.copy(h, 157, 0, Math.min(e.link.length, 100));
  h.write('ustar\u000000', 257, 'latin1');
  if (e.user) h.write(e.user, 265, Math.min(Buffer.byteLength(e.user), 31));
  if (e.group) h.write(e.group, 297, Math.min(Buffer.byteLength(e.group), 31));
  if (e.type === 'chardev' || e.type === 'blockdev') {
    octal(h, 329, 8, e.devMajor ?? 0);
    octal(h, 337, 8, e.devMinor ?? 0);
  }
  // The checksum is taken with its own field as spaces, then written as 6 digits, NUL, space.
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return h;
}

/** `value` in octal, zero-padded to fill the field but its final NUL. */
function octal(h: Buffer, at: number, width: number, value: number): void {
  h.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, at, 'latin1');
}

/** "LEN KEY=VALUE\n", where LEN counts the whole record, its own digits included. */
function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(key) + value.length + 3;
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from('\n')]);
}

/** Seconds with up to 9 decimals; a time before 1970 as a negative number. */
function paxTime(ns: bigint): string {
  const sign = ns < 0n ? '-' : '';
  const abs = ns < 0n ? -ns : ns;
  const frac = (abs % NS).toString().padStart(9, '0').replace(/0+$/, '');
  return `${sign}${abs / NS}${frac ? `.${frac}` : ''}`;
}

function lastPart(name: Buffer): Buffer {
  const trimmed = name[name.length - 1] === 0x2f ? name.subarray(0, -1) : name;
  return trimmed.subarray(trimmed.lastIndexOf(0x2f) + 1);
}
