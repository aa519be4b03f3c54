/**
 * A local directory's ObjectWriter: pieces go to a temporary file as they come, through
 * the thread pool, and the file is synced and linked into place on commit. A backup then
 * holds a few megabytes of a pack in memory, not the whole pack until it is full. Small
 * pieces are gathered in a staging buffer first, so that a pack of thousands of small
 * blobs costs a few dozen writes, not one each.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { FileType, Handle, ObjectWriter } from './backend.js';

/** Pieces smaller than this are copied into a staging buffer of this size. */
const STAGE_BYTES = 1024 * 1024;
/** Bytes handed to the thread pool and not yet written: write() waits above this. */
const IN_FLIGHT_BYTES = 8 * 1024 * 1024;
/** Staging buffers kept for reuse once written: one fills while the other is written. */
const SPARE_STAGES = 2;

export class LocalObjectWriter implements ObjectWriter {
  private readonly file: Promise<FileHandle>;
  private position = 0;
  private stage?: Buffer;
  private staged = 0;
  private readonly spareStages: Buffer[] = [];
  private inFlight = 0;
  private readonly writes = new Set<Promise<void>>();
  private failure: unknown;
  private ended = false;
  private closed?: Promise<void>;

  /**
   * `place` moves the finished temporary file `tmp` to where `h` belongs; `translate`
   * turns a system error into the backend's error for `h` (no space left, permission
   * denied).
   */
  constructor(
    private readonly tmp: string,
    private readonly type: FileType,
    private readonly place: (tmp: string, h: Handle) => Promise<void>,
    private readonly translate: (err: unknown, h: Handle) => unknown,
  ) {
    this.file = fs.open(tmp, 'wx', 0o600);
    // Reported by the write that needs it, or by commit.
    this.file.catch(() => {});
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.ended) throw new Error('write to an object writer that was committed or aborted');
    this.throwFailure();
    if (bytes.length < STAGE_BYTES) {
      if (this.staged + bytes.length > STAGE_BYTES) this.writeStage();
      this.stage ??= this.spareStages.pop() ?? Buffer.allocUnsafeSlow(STAGE_BYTES);
      this.stage.set(bytes, this.staged);
      this.staged += bytes.length;
    } else {
      this.writeStage();
      this.issue(bytes);
    }
    while (this.inFlight > IN_FLIGHT_BYTES && !this.failure) await Promise.race(this.writes);
    this.throwFailure();
  }

  async commit(h: Handle): Promise<void> {
    if (this.ended) throw new Error('object writer committed or aborted twice');
    this.writeStage();
    this.ended = true;
    try {
      await Promise.all(this.writes);
      if (this.failure) throw this.failure;
      await (await this.file).sync();
      await this.close();
      await this.place(this.tmp, h);
    } catch (err) {
      await this.abort();
      throw this.translate(err, h);
    }
  }

  async abort(): Promise<void> {
    this.ended = true;
    await Promise.all(this.writes);
    await this.close();
    await fs.unlink(this.tmp).catch(() => {});
  }

  /** Once; an error closing after the sync loses nothing. */
  private close(): Promise<void> {
    this.closed ??= this.file.then((fh) => fh.close()).catch(() => {});
    return this.closed;
  }

  private writeStage() {
    if (!this.stage || this.staged === 0) return;
    const stage = this.stage;
    const bytes = stage.subarray(0, this.staged);
    this.stage = undefined;
    this.staged = 0;
    this.issue(bytes, () => this.spareStages.length < SPARE_STAGES && this.spareStages.push(stage));
  }

  /** Writes `bytes` at the current end of the object; `done` runs once they are written. */
  private issue(bytes: Uint8Array, done?: () => void) {
    const at = this.position;
    this.position += bytes.length;
    this.inFlight += bytes.length;
    const p: Promise<void> = this.file
      .then(async (fh) => {
        for (let n = 0; n < bytes.length; ) n += (await fh.write(bytes, n, bytes.length - n, at + n)).bytesWritten;
        done?.();
      })
      .catch((err) => {
        this.failure ??= err;
      })
      .finally(() => {
        this.inFlight -= bytes.length;
        this.writes.delete(p);
      });
    this.writes.add(p);
  }

  /** A write failed: its error, as the backend reports it for the temporary file. */
  private throwFailure() {
    if (this.failure) throw this.translate(this.failure, { type: this.type, name: path.basename(this.tmp) });
  }
}
