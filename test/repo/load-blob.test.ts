import { it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Handle } from '../../backends/backend.js';
import { MemoryBackend } from '../../backends/memory.js';
import { CorruptObjectError } from '../../repo/errors/corrupt-object-error.js';
import { Repository } from '../../repo/repository.js';
import { pseudoRandom, tempDir } from '../helpers.js';

/** Flips one byte of a chosen blob each time it is read. */
class DamagingBackend extends MemoryBackend {
  damage?: { pack: string; offset: number };
  override async load(h: Handle, offset = 0, length?: number): Promise<Uint8Array> {
    const bytes = await super.load(h, offset, length);
    if (this.damage && h.type === 'data' && h.name === this.damage.pack && offset === this.damage.offset) bytes[bytes.length >> 1] ^= 1;
    return bytes;
  }
}

it('long reads open blobs in worker threads, with the same bytes and the same refusals as the main thread', async () => {
  const dir = await tempDir();
  const backend = new DamagingBackend();
  const repo = await Repository.init(backend, 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  try {
    // 40 MiB of incompressible blobs: past the point where the workers start.
    const blobs = Array.from({ length: 40 }, (_, i) => pseudoRandom(1024 * 1024, i + 1));
    const ids: string[] = [];
    for (const b of blobs) ids.push(await repo.saveBlob('data', b));
    await repo.flush();

    for (let i = 0; i < ids.length; i++) assert.ok(Buffer.from(await repo.loadBlob(ids[i])).equals(blobs[i]), `blob ${i} reads back`);
    assert.ok(repo['cryptoPool'], 'the workers were started');

    const last = (await repo.lookupBlob(Buffer.from(ids[39], 'hex')))!;
    backend.damage = { pack: last.pack, offset: last.offset };
    await assert.rejects(repo.loadBlob(ids[39]), (err: unknown) => {
      assert.ok(err instanceof CorruptObjectError, String(err));
      assert.equal(err.object, `data/${last.pack}`);
      assert.match(err.detail, new RegExp(`blob ${ids[39]} in pack ${last.pack} fails authentication`));
      return true;
    });
    // The pool goes on serving after a refusal.
    backend.damage = undefined;
    assert.ok(Buffer.from(await repo.loadBlob(ids[39])).equals(blobs[39]));
  } finally {
    await repo.close();
  }
});

it('trees are read in pages of their pack, and a tree across a page boundary still reads back whole', async () => {
  const dir = await tempDir();
  const reads: { offset: number; length?: number }[] = [];
  const backend = new (class extends MemoryBackend {
    override async load(h: Handle, offset = 0, length?: number): Promise<Uint8Array> {
      if (h.type === 'data') reads.push({ offset, length });
      return super.load(h, offset, length);
    }
  })();
  const repo = await Repository.init(backend, 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  try {
    // 12 trees of about 240 KiB stored (random hex compresses by half): about four per page.
    const trees = Array.from({ length: 12 }, (_, i) => ({
      nodes: [{ name: `l${i}`, type: 'symlink' as const, mode: 0o777, uid: 0, gid: 0, mtime: '', atime: '', ctime: '', size: 0, inode: i, device: 1, links: 1, linkTarget: Buffer.from(pseudoRandom(240 * 1024, i + 1)).toString('hex') }],
    }));
    const ids: string[] = [];
    for (const t of trees) ids.push(await repo.saveTree(t));
    await repo.flush();
    const entries = await Promise.all(ids.map((id) => repo.lookupBlob(Buffer.from(id, 'hex'))));
    const page = 1024 * 1024;
    const crossing = entries.filter((e) => Math.floor(e!.offset / page) !== Math.floor((e!.offset + e!.length - 1) / page)).length;
    assert.ok(crossing > 0, 'some tree crosses a page boundary');

    reads.length = 0;
    for (let i = 0; i < ids.length; i++) assert.equal((await repo.loadTree(ids[i])).nodes[0].linkTarget, trees[i].nodes[0].linkTarget, `tree ${i} reads back`);
    const pages = Math.ceil((entries.at(-1)!.offset + entries.at(-1)!.length) / page);
    assert.equal(reads.length, pages + crossing, 'one read per page, and one per tree that crosses a boundary');
    assert.ok(reads.every((r) => r.length !== undefined && r.length <= page), 'no read is larger than a page');
  } finally {
    await repo.close();
  }
});
