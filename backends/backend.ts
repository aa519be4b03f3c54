/**
 * The storage interface every repository operation goes through. It is kept narrow on
 * purpose: everything above it (packs, index, snapshots) is built from these calls, so a
 * new store only has to implement them, and wrappers (retry, fault injection) compose.
 */

/** The kinds of object a repository stores; each maps to a folder/prefix. */
export type FileType = 'config' | 'keys' | 'data' | 'index' | 'snapshots' | 'locks';

export const FILE_TYPES: readonly FileType[] = ['config', 'keys', 'data', 'index', 'snapshots', 'locks'];

export interface Handle {
  type: FileType;
  /** Object name; ignored for `config`, which is a single object. */
  name: string;
}

export interface ObjectInfo {
  name: string;
  size: number;
}

export interface Leftovers {
  files: number;
  bytes: number;
}

export interface Backend {
  /** Human-readable location, used in messages (never contains credentials). */
  location(): string;
  /** Create the empty repository structure (bucket, folders). Idempotent. */
  create(): Promise<void>;
  /** Does a `config` object exist, i.e. is there a repository here? */
  isRepository(): Promise<boolean>;
  /**
   * Store an object. Objects are immutable: saving a name that exists fails with
   * AlreadyExistsError, except for `locks`, which may be overwritten (refresh).
   */
  save(h: Handle, data: Uint8Array): Promise<void>;
  /** Read a whole object, or `length` bytes at `offset` (fewer where the object ends sooner). Throws NotFoundError. */
  load(h: Handle, offset?: number, length?: number): Promise<Uint8Array>;
  /** Size of an object. Throws NotFoundError. */
  stat(h: Handle): Promise<ObjectInfo>;
  /** Every object of a type, in no particular order. */
  list(type: FileType): AsyncIterable<ObjectInfo>;
  /** Delete an object. Deleting a missing object is not an error. */
  remove(h: Handle): Promise<void>;
  /**
   * What saves cut short by a crash left behind: a local directory's temporary files
   * (stores that write atomically have none). Removed unless `dryRun`. A save in progress
   * leaves the same kind of file, so the caller must hold the exclusive lock.
   */
  removeLeftovers(dryRun: boolean): Promise<Leftovers>;
  close(): Promise<void>;
  /**
   * A writer that puts an object together piece by piece, where the store can take it
   * that way (a local directory). Without it, objects are saved whole: a pack is then
   * held in memory until it is full.
   */
  openWriter?(type: FileType): ObjectWriter;
}

/**
 * One object written in pieces, then put in place under its name, as save() would: never
 * half-written under that name, and never replacing an object that exists.
 */
export interface ObjectWriter {
  /**
   * Queues `bytes` behind what was queued before, at once; resolves when the writer has
   * room for more. The writer may keep `bytes` until commit or abort: the caller must
   * not change them. A failed write is thrown here or by commit().
   */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Stores what was queued as `h`, once every write is done: AlreadyExistsError if `h`
   * exists, or the error of a write that failed. On failure what was written is dropped.
   */
  commit(h: Handle): Promise<void>;
  /** Drops what was written; for a writer that will not be committed. */
  abort(): Promise<void>;
}

export class NotFoundError extends Error {
  constructor(readonly handle: Handle, where: string) {
    super(`${describeHandle(handle)} not found in ${where}`);
    this.name = 'NotFoundError';
  }
}

export class AlreadyExistsError extends Error {
  constructor(readonly handle: Handle, where: string) {
    super(`${describeHandle(handle)} already exists in ${where}`);
    this.name = 'AlreadyExistsError';
  }
}

/** A failure that retrying cannot fix (bad credentials, no bucket, no space left). */
export class PermanentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

/**
 * The place that should hold the repository (an S3 bucket) does not exist. Like a
 * missing repository, it ends a command with exit code 10; `init` creates it instead.
 */
export class StoreNotFoundError extends PermanentError {
  readonly exitCode = 10;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreNotFoundError';
  }
}

/** The names of every object of a type, in no particular order. */
export async function listNames(backend: Backend, type: FileType): Promise<string[]> {
  const names: string[] = [];
  for await (const f of backend.list(type)) names.push(f.name);
  return names;
}

export function describeHandle(h: Handle): string {
  return h.type === 'config' ? 'config' : `${h.type}/${h.name}`;
}
