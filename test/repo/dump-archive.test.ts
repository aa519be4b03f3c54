import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { backup } from '../../repo/archiver.js';
import { dumpArchive } from '../../repo/dump-archive.js';
import { Repository } from '../../repo/repository.js';
import { findNode } from '../../repo/tree-walk.js';
import { pseudoRandom, sha256, tempDir } from '../helpers.js';
import { CountingBackend } from './counting-backend.js';

test('dump reads the blobs of neighbouring files together, a pack range at a time', async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  for (let i = 0; i < 200; i++) await fs.writeFile(path.join(src, `f${String(i).padStart(3, '0')}`), pseudoRandom(2_000 + i * 37, i));
  const backend = new CountingBackend();
  const repo = await Repository.init(backend, 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 }, packSize: 150_000 });
  try {
    const { snapshot } = await backup(repo, { paths: [src], parent: null });
    const node = await findNode(repo, snapshot.tree, src);
    backend.reads = [];
    const parts: Uint8Array[] = [];
    const stats = await dumpArchive(repo, node, Buffer.from('src'), 'tar', async (b) => void parts.push(new Uint8Array(b)));
    assert.equal(stats.entries, 201);
    // A read per run of neighbouring blobs in one pack, trees included. The chunk workers
    // store files in the order they finish, so a file now and then lies in a later pack
    // than the next name's and breaks a run: 16-23 reads in trials, 200 blob by blob.
    const packs = new Set(backend.reads.map((r) => r.name)).size;
    assert.ok(packs >= 3, 'the files span several packs');
    assert.ok(backend.reads.length <= 50, `${backend.reads.length} pack reads (trees included) for 200 files in ${packs} packs`);
    const out = path.join(dir, 'out');
    await fs.mkdir(out);
    execFileSync('tar', ['-x', '-C', out], { input: Buffer.concat(parts) });
    for (const name of ['f000', 'f123', 'f199']) assert.equal(sha256(await fs.readFile(path.join(out, 'src', name))), sha256(await fs.readFile(path.join(src, name))));
  } finally {
    await repo.close();
  }
});
