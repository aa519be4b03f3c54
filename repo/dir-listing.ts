/**
 * One directory as the walk worker saw it: names in byte order, each with its lstat (or the
 * error lstat gave) and, for a symlink, its target. It crosses threads as a few typed
 * arrays, transferred rather than copied: a structured clone of one Buffer per name would
 * copy the 8 KiB pool slab behind each.
 */
import type { BigIntStats } from 'node:fs';

/** The lstat fields a tree node records, as lstat's BigInt form gives them. */
export type EntryStat = Pick<BigIntStats, 'dev' | 'ino' | 'mode' | 'nlink' | 'uid' | 'gid' | 'rdev' | 'size' | 'atimeNs' | 'mtimeNs' | 'ctimeNs'>;

const FIELDS = ['dev', 'ino', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'size', 'atimeNs', 'mtimeNs', 'ctimeNs'] as const;
const MODE = FIELDS.indexOf('mode');
const SIZE = FIELDS.indexOf('size');

/** An entry whose lstat or readlink failed; `extra` indexes `errors`. */
const FAILED = 1;
/** A directory on another file system under --one-file-system; it is not listed. */
const OTHER_DEVICE = 2;
/** A symlink; `extra` indexes the link targets. */
const SYMLINK = 4;

export interface ListingMessage {
  op: 'listing';
  /** The directory's path bytes as a latin1 string; '' for the listing of the roots. */
  dir: string;
  /** Set when the directory could not be read. */
  error?: string;
  names: Uint8Array;
  nameEnds: Uint32Array;
  stats: BigInt64Array;
  flags: Uint8Array;
  extra: Int32Array;
  errors: string[];
  links: Uint8Array;
  linkEnds: Uint32Array;
}

export interface ListedEntry {
  name: Buffer;
  stat?: EntryStat;
  error?: Error;
  linkTarget?: Buffer;
  otherDevice: boolean;
}

/** Collects a directory's entries on the walk's side. */
export class ListingBuilder {
  private readonly names: Buffer[] = [];
  /**
   * The entries' lstat fields, FIELDS.length per entry, copied out as each entry is added.
   * Holding lstat's results (18 BigInts each) until the directory was posted let them
   * outlive the walk's small young generation: the walk of the bench tree ended with
   * 34 MB of them dead in its old generation.
   */
  private stats = new BigInt64Array(FIELDS.length * 64);
  private readonly flags: number[] = [];
  private readonly extra: number[] = [];
  private readonly errors: string[] = [];
  private readonly links: Buffer[] = [];

  get length(): number {
    return this.names.length;
  }

  add(name: Buffer, stat: EntryStat, linkTarget: Buffer | undefined, otherDevice: boolean): void {
    this.setStat(stat);
    this.names.push(name);
    this.flags.push((linkTarget ? SYMLINK : 0) | (otherDevice ? OTHER_DEVICE : 0));
    this.extra.push(linkTarget ? this.links.push(linkTarget) - 1 : -1);
  }

  fail(name: Buffer, message: string): void {
    this.setStat(ZERO_STAT);
    this.names.push(name);
    this.flags.push(FAILED);
    this.extra.push(this.errors.push(message) - 1);
  }

  /** Records the stat of the entry about to be added. */
  private setStat(stat: EntryStat): void {
    const at = this.names.length * FIELDS.length;
    if (at + FIELDS.length > this.stats.length) {
      const grown = new BigInt64Array(this.stats.length * 2);
      grown.set(this.stats);
      this.stats = grown;
    }
    for (let j = 0; j < FIELDS.length; j++) this.stats[at + j] = stat[FIELDS[j]];
  }

  /** The message, and the buffers to transfer with it. */
  finish(dir: string): { message: ListingMessage; transfer: ArrayBuffer[] } {
    const stats = this.stats.slice(0, this.names.length * FIELDS.length);
    const [names, nameEnds] = pack(this.names);
    const [links, linkEnds] = pack(this.links);
    const message: ListingMessage = {
      op: 'listing',
      dir,
      names,
      nameEnds,
      stats,
      flags: Uint8Array.from(this.flags),
      extra: Int32Array.from(this.extra),
      errors: this.errors,
      links,
      linkEnds,
    };
    const transfer = [names, nameEnds, stats, message.flags, message.extra, links, linkEnds].map((a) => a.buffer as ArrayBuffer);
    return { message, transfer };
  }
}

/** The listing of a directory that could not be read. */
export function failedListing(dir: string, error: string): ListingMessage {
  const empty = new ListingBuilder().finish(dir).message;
  return { ...empty, error };
}

const ZERO_STAT: EntryStat = { dev: 0n, ino: 0n, mode: 0n, nlink: 0n, uid: 0n, gid: 0n, rdev: 0n, size: 0n, atimeNs: 0n, mtimeNs: 0n, ctimeNs: 0n };

function pack(parts: Buffer[]): [Uint8Array, Uint32Array] {
  const ends = new Uint32Array(parts.length);
  let total = 0;
  parts.forEach((p, i) => (ends[i] = total += p.length));
  const bytes = new Uint8Array(total);
  parts.forEach((p, i) => bytes.set(p, ends[i] - p.length));
  return [bytes, ends];
}

/** The archiver's view of a listing. */
export class DirListing {
  constructor(private readonly m: ListingMessage) {}

  get length(): number {
    return this.m.nameEnds.length;
  }

  /** Throws the error that reading the directory gave, if it gave one. */
  check(): void {
    if (this.m.error !== undefined) throw new Error(this.m.error);
  }

  /**
   * The byte strings that, in this order, say everything this listing holds, for comparing
   * it with an earlier one (known-dirs.ts); none when an entry failed, as the error must
   * be reported again.
   */
  digestParts(): Uint8Array[] | undefined {
    const m = this.m;
    if (m.error !== undefined || m.flags.some((f) => f & FAILED)) return undefined;
    const sizes = Uint32Array.of(m.nameEnds.length, m.names.length, m.linkEnds.length, m.links.length);
    const parts = [sizes, m.names, m.nameEnds, m.stats, m.flags, m.links, m.linkEnds];
    return parts.map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }

  name(i: number): Buffer {
    return slice(this.m.names, this.m.nameEnds, i);
  }

  /** lstat's mode of a listed entry (0 for one that failed). */
  mode(i: number): bigint {
    return this.m.stats[i * FIELDS.length + MODE];
  }

  size(i: number): bigint {
    return this.m.stats[i * FIELDS.length + SIZE];
  }

  otherDevice(i: number): boolean {
    return (this.m.flags[i] & OTHER_DEVICE) !== 0;
  }

  entry(i: number): ListedEntry {
    const m = this.m;
    const name = this.name(i);
    const flags = m.flags[i];
    if (flags & FAILED) return { name, error: new Error(m.errors[m.extra[i]]), otherDevice: false };
    const at = i * FIELDS.length;
    const s = m.stats;
    const stat: EntryStat = {
      dev: s[at],
      ino: s[at + 1],
      mode: s[at + 2],
      nlink: s[at + 3],
      uid: s[at + 4],
      gid: s[at + 5],
      rdev: s[at + 6],
      size: s[at + 7],
      atimeNs: s[at + 8],
      mtimeNs: s[at + 9],
      ctimeNs: s[at + 10],
    };
    const linkTarget = flags & SYMLINK ? slice(m.links, m.linkEnds, m.extra[i]) : undefined;
    return { name, stat, linkTarget, otherDevice: this.otherDevice(i) };
  }
}

/** A view, not a copy: the listing's buffers belong to this thread once transferred. */
function slice(bytes: Uint8Array, ends: Uint32Array, i: number): Buffer {
  const start = i === 0 ? 0 : ends[i - 1];
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, ends[i] - start);
}
