import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { MemoryBackend } from '../../backends/memory.js';
import { objectName } from '../../repo/hex.js';
import { encodeIndex } from '../../repo/index-format.js';
import { Repository } from '../../repo/repository.js';
import { sealFile } from '../../repo/sealed-file.js';
import { tempDir } from '../helpers.js';

test('the index cache ignores index files that a present index file supersedes', async () => {
  process.env.CAIRN_TEST_WEAK_KDF = '1';
  const dir = await tempDir();
  const backend = new MemoryBackend();
  const repo = await Repository.init(backend, 'pw', { cacheDir: path.join(dir, 'cache') });
  try {
    const kept = await repo.saveBlob('data', Buffer.from('kept'));
    const dropped = await repo.saveBlob('data', Buffer.from('dropped'));
    await repo.flush();
    const names: string[] = [];
    for await (const f of backend.list('index')) names.push(f.name);
    assert.equal(names.length, 1);
    const old = await repo.loadIndexFile(names[0]);
    assert.ok(await repo.lookupBlob(Buffer.from(dropped, 'hex')));

    // What an interrupted prune leaves: a new index listing only `kept`, the old one still present.
    const packs = old.packs.map((p) => ({ ...p, blobs: p.blobs.filter((b) => Buffer.from(b.id).toString('hex') === kept) }));
    const stored = sealFile(repo.key.encrypt, encodeIndex({ supersedes: names, packs }));
    await backend.save({ type: 'index', name: await objectName(stored) }, stored);
    await repo.syncIndex();
    assert.ok(await repo.lookupBlob(Buffer.from(kept, 'hex')));
    assert.equal(await repo.lookupBlob(Buffer.from(dropped, 'hex')), undefined, 'entries of the superseded file are gone');
    const known = await repo.index.knownIndexFiles();
    assert.deepEqual(known.get(names[0]), { supersedes: [], skipped: true });

    // A later sync with nothing new keeps the cache as it is (no rebuild loop).
    await repo.syncIndex();
    assert.deepEqual(await repo.index.knownIndexFiles(), known);
  } finally {
    await repo.close();
  }
});
