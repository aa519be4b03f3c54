/**
 * Restore worker: decrypts, decompresses and checks the blobs of a pack range, and writes
 * them into the files it owns with synchronous calls (no thread-pool round trip per
 * write). When a file has all its writes, the worker cuts it to length, sets owner,
 * mode and times through the open descriptor, and closes it.
 */
import { parentPort } from 'node:worker_threads';
import fs, { constants as fsc } from 'node:fs';
import { createBlobHasher } from '../crypto/blob-id.js';
import { isAllZero, ZERO_RUN_ALIGN, zeroRuns } from '../chunker/zero.js';
import { openStoredBlob } from './blob-open.js';
import { preallocate } from './preallocate.js';
import { exitWhenAsked } from './worker-exit.js';
import { wireBlob, wireBlobCount, type FileDone, type FileSpec, type RestoreReply, type RestoreRequest, type RestoreWorkerInit } from './restore-protocol.js';

/** Descriptors kept open for files still waiting for blobs from later packs. */
const MAX_OPEN = 256;
/**
 * Files smaller than this are left to delayed allocation: a fallocate costs about 25 µs
 * of ext4 time however few the bytes, and files under 64 KiB were 96% of the bench's
 * files but 18% of its bytes, too few to stall writers.
 */
const PREALLOCATE_FROM = 64 * 1024;

interface FileState {
  spec: FileSpec;
  path: Buffer;
  done: number;
  /** End of the bytes written so far (zero runs are skipped, not written). */
  end: number;
  created: boolean;
  fd?: number;
  error?: { message: string; code?: string };
}

let init: RestoreWorkerInit;
const port = parentPort!;
const files = new Map<number, FileState>();
/** Open descriptors, least recently used first. */
const open = new Map<number, number>();
let queue: Promise<(d: Uint8Array) => Uint8Array> | undefined;

exitWhenAsked(port);
port.on('message', (msg: RestoreRequest) => {
  // The keys come first, in a message: a worker may start before the key is derived.
  if (msg.op === 'init') {
    init = msg.init;
    queue = createBlobHasher(init.blobIdKey);
    return;
  }
  queue = queue!.then((hash) => {
    try {
      handle(msg, hash);
      if (finished.length) post({ op: 'files-done', files: finished.splice(0) });
    } catch (err) {
      // A bug, not a file error: end the worker so the restore fails instead of hanging.
      setImmediate(() => {
        throw err;
      });
    }
    return hash;
  });
});

function post(m: RestoreReply) {
  port.postMessage(m);
}

/**
 * Files finished by the request being handled, reported together when it is done: a
 * message per file was 62,000 postMessage calls for the bench's restore.
 */
const finished: FileDone[] = [];

function handle(msg: Exclude<RestoreRequest, { op: 'init' }>, hash: (d: Uint8Array) => Uint8Array) {
  if (msg.op === 'files') {
    for (const spec of msg.files) {
      const st: FileState = { spec, path: Buffer.from(spec.path, 'latin1'), done: 0, end: 0, created: false };
      files.set(spec.file, st);
      if (spec.writes === 0) finish(st);
    }
  } else if (msg.op === 'failed') {
    const st = files.get(msg.file)!;
    st.error ??= { message: msg.error };
    st.done += msg.count;
    if (st.done >= st.spec.writes) finish(st);
  } else {
    const targets = msg.blobs.targets;
    let t = 0;
    for (let i = 0, n = wireBlobCount(msg.blobs); i < n; i++) {
      const { entry, targets: count } = wireBlob(msg.blobs, i);
      let plain: Uint8Array | undefined;
      let error: Error | undefined;
      try {
        // Transient: each write below is done before the next blob is opened.
        plain = openStoredBlob(init.encryptKey, hash, entry, msg.stored.subarray(entry.offset, entry.offset + entry.length), true);
      } catch (err) {
        error = err as Error;
      }
      for (const end = t + 2 * count; t < end; t += 2) {
        const st = files.get(targets[t])!;
        if (error) st.error ??= { message: error.message };
        else if (!st.error) write(st, plain!, targets[t + 1]);
        st.done++;
        if (st.done >= st.spec.writes) finish(st);
      }
    }
    post({ op: 'range-done', seq: msg.seq });
  }
}

function descriptor(st: FileState): number {
  const file = st.spec.file;
  let fd = open.get(file);
  if (fd !== undefined) {
    open.delete(file);
    open.set(file, fd);
    return fd;
  }
  if (open.size >= MAX_OPEN) {
    const [oldest, ofd] = open.entries().next().value as [number, number];
    open.delete(oldest);
    fs.closeSync(ofd);
  }
  if (st.created) {
    fd = fs.openSync(st.path, fsc.O_WRONLY);
  } else {
    // A new file, never an existing one: truncating an existing name could write through
    // a hard link into a file outside the restore.
    const flags = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL;
    const mode = createMode(st.spec);
    try {
      fd = fs.openSync(st.path, flags, mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      fs.unlinkSync(st.path);
      fd = fs.openSync(st.path, flags, mode);
    }
    st.created = true;
  }
  open.set(file, fd);
  return fd;
}

const ownUid = process.geteuid?.();
const ownGid = process.getegid?.();

/**
 * A file that will keep the owner it is created with gets its permission bits at once,
 * so that finish() seldom needs an fchmod: an fchown and an fchmod of every file, most of
 * them changing nothing, cost the bench's restore about 0.2 s of its 3.5 s of system time.
 * Any other file starts private, as others must not read it before it has its owner. A
 * file without owner write would refuse to be opened again once its descriptor is closed.
 */
function createMode(s: FileSpec): number {
  return s.uid === ownUid && s.gid === ownGid && s.mode & 0o200 ? s.mode & 0o777 : 0o600;
}

function write(st: FileState, data: Uint8Array, position: number) {
  try {
    const fd = descriptor(st);
    // Zero runs are skipped, not written, so the file stays sparse where the original was.
    if (isAllZero(data)) return;
    let at = 0;
    for (const run of zeroRuns(data, ZERO_RUN_ALIGN)) {
      if (run.offset > at) writeAll(st, fd, data.subarray(at, run.offset), position + at);
      at = run.offset + run.length;
    }
    if (at < data.length) writeAll(st, fd, data.subarray(at), position + at);
  } catch (err) {
    fail(st, err);
  }
}

function writeAll(st: FileState, fd: number, data: Uint8Array, position: number) {
  if (st.spec.contentLength >= PREALLOCATE_FROM) preallocate(fd, position, data.length);
  let done = 0;
  while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, position + done);
  st.end = Math.max(st.end, position + data.length);
}

function fail(st: FileState, err: unknown) {
  const e = err as NodeJS.ErrnoException;
  st.error ??= { message: e.message, code: e.code };
  const fd = open.get(st.spec.file);
  if (fd !== undefined) {
    open.delete(st.spec.file);
    fs.closeSync(fd);
  }
}

function finish(st: FileState) {
  const s = st.spec;
  if (!st.error) {
    try {
      const fd = descriptor(st);
      // Gives trailing holes (and empty files' zeros) their length; most files already have it.
      if (st.end !== s.contentLength) fs.ftruncateSync(fd, s.contentLength);
      // Checked rather than assumed: the umask, a set-group-id directory or a default ACL
      // may have given the new file another group or mode.
      const now = fs.fstatSync(fd);
      const chown = init.chown && (now.uid !== s.uid || now.gid !== s.gid);
      // fchmod after fchown, which clears set-user-id and set-group-id bits.
      if (chown) fs.fchownSync(fd, s.uid, s.gid);
      if (chown || (now.mode & 0o7777) !== s.mode) fs.fchmodSync(fd, s.mode);
      fs.futimesSync(fd, s.atime, s.mtime);
      if (s.contentLength !== s.size) st.error = { message: `restored ${s.contentLength} bytes, the snapshot records ${s.size}` };
    } catch (err) {
      fail(st, err);
    }
  }
  const fd = open.get(s.file);
  if (fd !== undefined) {
    open.delete(s.file);
    fs.closeSync(fd);
  }
  // Never leave a half-written file that could pass for the original.
  if (st.error && st.created) {
    try {
      fs.unlinkSync(st.path);
    } catch {}
  }
  files.delete(s.file);
  finished.push({ file: s.file, error: st.error?.message, code: st.error?.code });
}
