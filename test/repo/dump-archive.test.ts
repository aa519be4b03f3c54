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
  const FILES = 600;
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  for (let i = 0; i < FILES; i++) await fs.writeFile(path.join(src, `f${String(i).padStart(3, '0')}`), pseudoRandom(16_000 + i * 37, i));
  const backend = new CountingBackend();
  // Packs hold more than a backup has in flight (up to 128 small files), as real 16 MiB
  // packs do: the files in flight are stored in the order they finish, so tiny packs
  // would scatter neighbours over several of them.
  const repo = await Repository.init(backend, 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 }, packSize: 4 * 1024 * 1024 });
  try {
    const { snapshot } = await backup(repo, { paths: [src], parent: null });
    const node = await findNode(repo, snapshot.tree, src);
    // The layout sets the floor: files finish out of order near a pack's end, more so on a
    // busy machine, and each switch of pack between neighbouring blobs needs its own read.
    const files = (await repo.loadTree(node.subtree!)).nodes;
    const ids = files.flatMap((f) => f.content ?? []);
    const packsInOrder = (await repo.lookupBlobs(ids.map((id) => Buffer.from(id, 'hex')))).map((e) => e!.pack);
    const runs = packsInOrder.filter((p, i) => i === 0 || p !== packsInOrder[i - 1]).length;
    backend.reads = [];
    const parts: Uint8Array[] = [];
    const stats = await dumpArchive(repo, node, Buffer.from('src'), 'tar', async (b) => void parts.push(new Uint8Array(b)));
    assert.equal(stats.entries, FILES + 1);
    assert.equal(ids.length, FILES, 'one blob per file');
    const packs = new Set(backend.reads.map((r) => r.name)).size;
    assert.ok(packs >= 3, 'the files span several packs');
    // A read per run of neighbouring blobs in one pack, give or take the trees' and breaks
    // at the edge of what dump has looked ahead at (17 reads for 6 runs when measured);
    // blob by blob would be 600 reads.
    assert.ok(backend.reads.length <= runs + 30, `${backend.reads.length} pack reads for ${FILES} files in ${runs} runs over ${packs} packs`);
    assert.ok(runs < FILES / 2, `the backup stored neighbours together: ${runs} runs for ${FILES} files`);
    const out = path.join(dir, 'out');
    await fs.mkdir(out);
    execFileSync('tar', ['-x', '-C', out], { input: Buffer.concat(parts) });
    for (const name of ['f000', 'f123', 'f599']) assert.equal(sha256(await fs.readFile(path.join(out, 'src', name))), sha256(await fs.readFile(path.join(src, name))));
  } finally {
    await repo.close();
  }
});
