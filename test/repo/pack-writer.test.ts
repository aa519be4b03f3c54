import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Backend } from '../../backends/backend.js';
import { LocalBackend } from '../../backends/local.js';
import { MemoryBackend } from '../../backends/memory.js';
import { open } from '../../crypto/aead.js';
import { decodePackHeader } from '../../repo/pack-format.js';
import { PackWriter, packDestination, type FinishedPack, type PackDestination } from '../../repo/pack-writer.js';
import { tempDir } from '../helpers.js';

/** Reads what it is given only after a while, as an upload over a network would. */
class SlowBackend extends MemoryBackend {
  override async save(h: Parameters<MemoryBackend['save']>[0], data: Uint8Array): Promise<void> {
    await new Promise((r) => setTimeout(r, 3));
    return super.save(h, data);
  }
}

/** Blobs mostly small, some larger than a whole 64 KiB pack (a pack of its own, a buffer regrown). */
function someBlobs(n: number) {
  return Array.from({ length: n }, (_, i) => {
    const stored = new Uint8Array(randomBytes(i % 50 === 7 ? 100_000 : 1 + ((i * 7919) % 9000)));
    return { id: new Uint8Array(randomBytes(32)), stored, rawLength: stored.length, compressed: false };
  });
}

/** Writes `n` blobs through a PackWriter into `backend` and checks every pack byte for byte. */
async function writeAndCheck(backend: Backend, destination: PackDestination, n: number) {
  const key = new Uint8Array(randomBytes(32));
  const packs: FinishedPack[] = [];
  const writer = new PackWriter('data', 64 * 1024, key, destination, (p) => packs.push(p), 3);
  const blobs = new Map<string, Uint8Array>();
  // Concurrent adds, as chunk workers deliver blobs: each must still get its own offset.
  const adds = [];
  for (const b of someBlobs(n)) {
    blobs.set(Buffer.from(b.id).toString('hex'), b.stored);
    adds.push(writer.add(b));
    if (adds.length === 4) await Promise.all(adds.splice(0));
  }
  await Promise.all(adds);
  await writer.flush();
  let seen = 0;
  for (const p of packs) {
    const bytes = await backend.load({ type: 'data', name: p.id });
    assert.equal(p.id, createHash('sha256').update(bytes).digest('hex'), 'a pack is named by the SHA-256 of its bytes');
    assert.equal(p.size, bytes.length);
    const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 4, true);
    const header = decodePackHeader(open(key, bytes.subarray(bytes.length - 4 - headerLength, bytes.length - 4)), bytes.length);
    assert.deepEqual(header, p.blobs, `pack ${p.id}: its header lists its blobs`);
    for (const e of p.blobs) {
      const want = blobs.get(Buffer.from(e.id).toString('hex'))!;
      assert.ok(Buffer.from(bytes.subarray(e.offset, e.offset + e.length)).equals(want), `pack ${p.id}: blob at ${e.offset}`);
      seen++;
    }
  }
  assert.equal(seen, n);
  assert.ok(packs.length > 10, `several packs: ${packs.length}`);
  return packs;
}

it('packs written through reused buffers hold exactly their blobs, with uploads in flight', async () => {
  const backend = new SlowBackend();
  await writeAndCheck(backend, { save: (name, bytes) => backend.save({ type: 'data', name }, bytes) }, 300);
});

it('packs written piece by piece hold exactly their blobs', async () => {
  const backend = new MemoryBackend();
  await writeAndCheck(backend, packDestination(backend), 300);
});

it('packs written piece by piece into a local directory are linked into place, with no temporary file left', async () => {
  const dir = await tempDir();
  const backend = new LocalBackend(dir);
  await backend.create();
  const packs = await writeAndCheck(backend, packDestination(backend), 1000);
  for (const p of packs) await fs.access(path.join(dir, 'data', p.id.slice(0, 2), p.id));
  assert.deepEqual((await fs.readdir(path.join(dir, 'data'))).filter((n) => n.endsWith('.tmp')), []);
  assert.equal((await backend.removeLeftovers(true)).files, 0);
});

it('a pack dropped unfinished leaves no temporary file', async () => {
  const dir = await tempDir();
  const backend = new LocalBackend(dir);
  await backend.create();
  const writer = new PackWriter('data', 1024 * 1024, new Uint8Array(32), packDestination(backend), () => assert.fail('no pack is finished'), 3);
  for (const b of someBlobs(20)) await writer.add(b);
  assert.equal((await backend.removeLeftovers(true)).files, 1, 'the pack being filled is on disk');
  await writer.abort();
  assert.deepEqual(await backend.removeLeftovers(true), { files: 0, bytes: 0 });
});

it('a full disk fails the pack with a clear error and leaves nothing behind', { skip: process.getuid?.() !== 0 ? 'needs root to mount a small tmpfs' : false, timeout: 60_000 }, async () => {
  const dir = await tempDir();
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
  const backend = new LocalBackend(dir);
  try {
    await backend.create();
    const packs: FinishedPack[] = [];
    const writer = new PackWriter('data', 1024 * 1024, new Uint8Array(32), packDestination(backend), (p) => packs.push(p), 3);
    const err = await (async () => {
      try {
        for (let i = 0; i < 8; i++) {
          const stored = new Uint8Array(randomBytes(700_000));
          await writer.add({ id: new Uint8Array(randomBytes(32)), stored, rawLength: stored.length, compressed: false });
        }
        await writer.flush();
      } catch (e) {
        return e as Error;
      }
    })();
    assert.ok(err, 'writing 5.6 MB to a 2 MiB file system fails');
    assert.match(err.message, /no space left on device .*free some space/);
    await writer.abort();
    assert.deepEqual(await backend.removeLeftovers(true), { files: 0, bytes: 0 }, 'no temporary file is left');
    // What was stored before the disk filled is whole.
    for (const p of packs) assert.equal((await backend.load({ type: 'data', name: p.id })).length, p.size);
  } finally {
    // It keeps loaded packs open, which would keep the file system busy.
    await backend.close();
    execFileSync('umount', [dir]);
  }
});
