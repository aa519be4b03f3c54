import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, promises as fs, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MemoryBackend } from '../../backends/memory.js';
import { backup } from '../../repo/archiver.js';
import { fromHex } from '../../repo/hex.js';
import { Repository } from '../../repo/repository.js';
import { restore, type RestoreProgress } from '../../repo/restorer.js';
import { findNode, walkTree } from '../../repo/tree-walk.js';
import { diffDigests, pseudoRandom, tempDir, treeDigest } from '../helpers.js';
import { CountingBackend } from './counting-backend.js';

async function setup() {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(path.join(src, 'sub'), { recursive: true });
  for (let i = 0; i < 12; i++) await fs.writeFile(path.join(src, i % 2 ? 'sub' : '', `f${i}.bin`), pseudoRandom(40_000 + i * 9_000, i + 1));
  await fs.writeFile(path.join(src, 'twice-a'), Buffer.concat([pseudoRandom(70_000, 99), pseudoRandom(70_000, 99)]));
  await fs.writeFile(path.join(src, 'empty'), '');
  await fs.writeFile(path.join(src, 'holes'), Buffer.alloc(300_000));
  const backend = new CountingBackend();
  // Small chunks and packs: many blobs per pack, several packs.
  const repo = await Repository.init(backend, 'pw', {
    cacheDir: path.join(dir, 'cache'),
    kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 },
    chunker: { min: 4096, avg: 16384, max: 65536 },
    packSize: 200_000,
  });
  const { snapshot } = await backup(repo, { paths: [src], parent: null });
  return { dir, src, backend, repo, tree: snapshot.tree };
}

/** The packs holding file content, from the index. */
async function dataPacks(repo: Repository, tree: string): Promise<Set<string>> {
  const packs = new Set<string>();
  for await (const e of walkTree(repo, tree)) {
    for (const id of e.node.content ?? []) packs.add((await repo.lookupBlob(fromHex(id)))!.pack);
  }
  return packs;
}

it('restore reads each pack of file content once, whatever the number of blobs in it', async () => {
  const { dir, src, backend, repo, tree } = await setup();
  try {
    const packs = await dataPacks(repo, tree);
    assert.ok(packs.size >= 3, `several data packs: ${packs.size}`);
    backend.reads = [];
    const target = path.join(dir, 'out');
    const p = await restore(repo, tree, { target, connections: 3 });
    assert.equal(p.errors, 0);
    assert.deepEqual(diffDigests(await treeDigest(src), await treeDigest(path.join(target, src))), []);
    const contentReads = backend.reads.filter((r) => packs.has(r.name)).map((r) => r.name);
    assert.deepEqual(contentReads.sort(), [...packs].sort(), 'one read per content pack');
    // Restoring again over what is there: a changed file and a symlink in place of a
    // file (O_TRUNC would have followed it and overwritten its target).
    const outside = path.join(dir, 'outside');
    await fs.writeFile(outside, 'must stay');
    await fs.writeFile(path.join(target, src, 'f0.bin'), 'changed');
    await fs.rm(path.join(target, src, 'sub/f1.bin'));
    await fs.symlink(outside, path.join(target, src, 'sub/f1.bin'));
    assert.equal((await restore(repo, tree, { target })).errors, 0);
    assert.deepEqual(diffDigests(await treeDigest(src), await treeDigest(path.join(target, src))), []);
    assert.equal(await fs.readFile(outside, 'utf8'), 'must stay');
    const holes = await fs.stat(path.join(target, src, 'holes'));
    assert.equal(holes.size, 300_000);
    assert.ok(holes.blocks * 512 < 64 * 1024, 'a file of zeros comes back sparse');
  } finally {
    await repo.close();
  }
});

it('a damaged pack fails only the files that use it; the rest is restored', async () => {
  const { dir, backend, repo, tree } = await setup();
  try {
    const files: Array<{ rel: string; packs: string[] }> = [];
    for await (const e of walkTree(repo, tree)) {
      if (e.node.type !== 'file') continue;
      const packs = await Promise.all((e.node.content ?? []).map(async (id) => (await repo.lookupBlob(fromHex(id)))!.pack));
      files.push({ rel: e.path.toString(), packs });
    }
    const victim = files.find((f) => f.packs.length > 0)!.packs[0];
    backend.corrupt = victim;
    const errors: string[] = [];
    const target = path.join(dir, 'out');
    const p = await restore(repo, tree, { target, onFileError: (f) => errors.push(f) });
    const hit = files.filter((f) => f.packs.includes(victim)).map((f) => path.join(target, f.rel));
    assert.deepEqual(errors.sort(), hit.sort());
    assert.equal(p.errors, hit.length);
    for (const f of hit) await assert.rejects(fs.lstat(f), { code: 'ENOENT' }, `${f}: no half-written file is left`);
    for (const f of files.filter((f) => !f.packs.includes(victim))) {
      const want = await fs.readFile(path.join(f.rel));
      assert.ok((await fs.readFile(path.join(target, f.rel))).equals(want), `${f.rel} restored`);
    }
  } finally {
    await repo.close();
  }
});

/**
 * Holds the first load of tree `id` until the restore reports a restored file, or 5 s
 * pass; pass `onProgress` to the restore. `released()` says which came first.
 */
function holdTreeUntilAFileIsDone(repo: Repository, id: string) {
  let firstFile!: () => void;
  const fileDone = new Promise<void>((r) => (firstFile = r));
  let released: 'file' | 'timeout' | undefined;
  let held = false;
  const loadTree = repo.loadTree.bind(repo);
  repo.loadTree = async (tree) => {
    if (tree === id && !held) {
      held = true;
      released = await Promise.race([fileDone.then(() => 'file' as const), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000))]);
    }
    return loadTree(tree);
  };
  return { onProgress: (p: RestoreProgress) => p.files > 0 && firstFile(), released: () => released };
}

for (const cheapReads of [false, true]) it(`restore writes files while it still walks the snapshot, with links and times across batches${cheapReads ? ' (small batches, as for a local store)' : ''}`, async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  // More files than one batch holds, in many directories, so the walk outlasts a batch.
  for (let d = 0; d < 50; d++) {
    mkdirSync(path.join(src, `d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++) writeFileSync(path.join(src, `d${d}`, `f${f}`), `content of d${d}/f${f}\n`);
  }
  // A hard link whose first name is in the first batch and second in the last.
  await fs.link(path.join(src, 'd0/f0'), path.join(src, 'd49/link-to-d0-f0'));
  await fs.symlink('../d0/f1', path.join(src, 'd49/sym'));
  await fs.utimes(path.join(src, 'd1'), 1_000_000, 1_000_000);
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  try {
    const { snapshot } = await backup(repo, { paths: [src], parent: null });
    // Whichever walk first reaches the last directory waits there until a file is done (or
    // 5 s pass): a restore that walked the whole snapshot before writing would wait the 5 s,
    // and so would one that counted its totals first (progress is reported, so it counts).
    const hold = holdTreeUntilAFileIsDone(repo, (await findNode(repo, snapshot.tree, `${src}/d49`)).subtree!);
    const target = path.join(dir, 'out');
    const p = await restore(repo, snapshot.tree, { target, onProgress: hold.onProgress, cheapReads });
    assert.equal(hold.released(), 'file', 'files were restored before the walk reached the last directory');
    assert.equal(p.errors, 0);
    assert.equal(p.totalFiles, 5001);
    assert.equal(p.files, 5001);
    assert.deepEqual(diffDigests(await treeDigest(src, { times: true }), await treeDigest(path.join(target, src), { times: true })), []);
    const a = await fs.stat(path.join(target, src, 'd0/f0'));
    const b = await fs.stat(path.join(target, src, 'd49/link-to-d0-f0'));
    assert.equal(a.ino, b.ino, 'the hard link is restored as a link');
  } finally {
    await repo.close();
  }
});

it('restore hands the workers a small first batch instead of waiting to gather a full one', async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  // Fewer entries than a full batch, more than a first one.
  mkdirSync(path.join(src, 'a'), { recursive: true });
  mkdirSync(path.join(src, 'b'));
  for (let f = 0; f < 400; f++) writeFileSync(path.join(src, 'a', `f${f}`), `content of a/f${f}\n`);
  writeFileSync(path.join(src, 'b', 'last'), 'last\n');
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  try {
    const { snapshot } = await backup(repo, { paths: [src], parent: null });
    // The walk reaches b after all of a: loading b waits until a file is done (or 5 s
    // pass), which only a batch handed over before the walk ends can bring about.
    const hold = holdTreeUntilAFileIsDone(repo, (await findNode(repo, snapshot.tree, `${src}/b`)).subtree!);
    const target = path.join(dir, 'out');
    const p = await restore(repo, snapshot.tree, { target, onProgress: hold.onProgress });
    assert.equal(hold.released(), 'file', 'files were restored before the walk had gathered a full batch');
    assert.equal(p.files, 401);
    assert.deepEqual(diffDigests(await treeDigest(src), await treeDigest(path.join(target, src))), []);
  } finally {
    await repo.close();
  }
});

it('restored content has its blocks allocated as it is written, not left to delayed allocation', { skip: process.platform !== 'linux' ? 'ext4 only' : false }, async () => {
  const { dir, src, repo, tree } = await setup();
  // Not os.tmpdir(), which may be a tmpfs: the test needs ext4, as / is here and in CI.
  const target = await fs.mkdtemp('/var/tmp/cairn-prealloc-');
  try {
    assert.equal((await restore(repo, tree, { target })).errors, 0);
    assert.deepEqual(diffDigests(await treeDigest(src), await treeDigest(path.join(target, src))), []);
    // Until writeback (seconds away), filefrag shows allocated-but-unwritten extents for
    // preallocated bytes and "delalloc" for bytes whose blocks ext4 has yet to choose.
    const extents = execFileSync('filefrag', ['-v', path.join(target, src, 'f10.bin')], { encoding: 'utf8' });
    assert.doesNotMatch(extents, /delalloc/, extents);
    const holes = await fs.stat(path.join(target, src, 'holes'));
    assert.ok(holes.blocks * 512 < 64 * 1024, 'zeros are still left as holes, not preallocated');
  } finally {
    await repo.close();
    await fs.rm(target, { recursive: true, force: true });
    await fs.rm(dir, { recursive: true, force: true });
  }
});

it('restored files and directories get their exact owner and mode whatever the umask or a set-group-id target', { skip: process.getuid?.() !== 0 ? 'chown needs root' : false }, async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  const modes: Array<[string, number]> = [['plain', 0o644], ['private', 0o600], ['setuid', 0o4755], ['group-write', 0o664], ['read-only', 0o444]];
  await fs.mkdir(path.join(src, 'shared'), { recursive: true });
  for (const [name, mode] of modes) {
    await fs.writeFile(path.join(src, name), `content of ${name}`);
    await fs.chmod(path.join(src, name), mode);
  }
  await fs.writeFile(path.join(src, 'shared', 'theirs'), 'another owner');
  await fs.chown(path.join(src, 'shared', 'theirs'), 1234, 5678);
  await fs.chmod(path.join(src, 'shared', 'theirs'), 0o640);
  await fs.chmod(path.join(src, 'shared'), 0o2775);
  await fs.chown(path.join(src, 'shared'), 0, 5678);
  const repo = await Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(dir, 'cache'), kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } });
  const { snapshot } = await backup(repo, { paths: [src], parent: null });
  const expected = await treeDigest(src, { owners: true, times: true });
  try {
    // New files and directories in a set-group-id target take its group; the umask takes
    // bits off the modes they are created with.
    for (const [name, targetMode, umask] of [['sgid', 0o2777, 0o022], ['umask', 0o755, 0o077]] as const) {
      const target = path.join(dir, name);
      await fs.mkdir(target);
      await fs.chown(target, 0, 4321);
      await fs.chmod(target, targetMode);
      const before = process.umask(umask);
      try {
        assert.equal((await restore(repo, snapshot.tree, { target })).errors, 0);
      } finally {
        process.umask(before);
      }
      assert.deepEqual(diffDigests(expected, await treeDigest(path.join(target, src), { owners: true, times: true })), [], name);
    }
  } finally {
    await repo.close();
  }
});
