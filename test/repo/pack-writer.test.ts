import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { MemoryBackend } from '../../backends/memory.js';
import { open } from '../../crypto/aead.js';
import { decodePackHeader } from '../../repo/pack-format.js';
import { PackWriter, type FinishedPack } from '../../repo/pack-writer.js';

/** Reads what it is given only after a while, as an upload over a network would. */
class SlowBackend extends MemoryBackend {
  override async save(h: Parameters<MemoryBackend['save']>[0], data: Uint8Array): Promise<void> {
    await new Promise((r) => setTimeout(r, 3));
    return super.save(h, data);
  }
}

it('packs written through reused buffers hold exactly their blobs, with uploads in flight', async () => {
  const backend = new SlowBackend();
  const key = new Uint8Array(randomBytes(32));
  const packs: FinishedPack[] = [];
  const writer = new PackWriter('data', 64 * 1024, key, (name, bytes) => backend.save({ type: 'data', name }, bytes), (p) => packs.push(p), 3);
  const blobs = new Map<string, Uint8Array>();
  for (let i = 0; i < 300; i++) {
    // Mostly small, some larger than a whole pack (a pack of its own, a buffer regrown).
    const stored = new Uint8Array(randomBytes(i % 50 === 7 ? 100_000 : 1 + ((i * 7919) % 9000)));
    const id = new Uint8Array(randomBytes(32));
    blobs.set(Buffer.from(id).toString('hex'), stored);
    await writer.add({ id, stored, rawLength: stored.length, compressed: false });
  }
  await writer.flush();
  let seen = 0;
  for (const p of packs) {
    const bytes = await backend.load({ type: 'data', name: p.id });
    assert.equal(p.id, createHash('sha256').update(bytes).digest('hex'), 'a pack is named by the SHA-256 of its bytes');
    const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 4, true);
    const header = decodePackHeader(open(key, bytes.subarray(bytes.length - 4 - headerLength, bytes.length - 4)), bytes.length);
    assert.deepEqual(header, p.blobs, `pack ${p.id}: its header lists its blobs`);
    for (const e of p.blobs) {
      const want = blobs.get(Buffer.from(e.id).toString('hex'))!;
      assert.ok(Buffer.from(bytes.subarray(e.offset, e.offset + e.length)).equals(want), `pack ${p.id}: blob at ${e.offset}`);
      seen++;
    }
  }
  assert.equal(seen, 300);
  assert.ok(packs.length > 10, `several packs: ${packs.length}`);
});
