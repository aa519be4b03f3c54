/**
 * A storage holder who rewrites objects must not get a tampered file restored silently:
 * each attack is detected, the error names the object, and nothing wrong is written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cairn, pseudoRandom, repoWithBackup, sha256, tempDir } from '../helpers.js';

const env = { CAIRN_PASSWORD: 'pw' };

async function packPath(repo: string, id: string) {
  return path.join(repo, 'data', id.slice(0, 2), id);
}

async function listObjects(repo: string, type: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(path.join(repo, type), { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(e.name);
  }
  return out;
}

async function setup(files: Record<string, Buffer>, dirs: string[] = []) {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  for (const d of dirs) await fs.mkdir(path.join(src, d), { recursive: true });
  await fs.mkdir(src, { recursive: true });
  for (const [name, data] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(src, name)), { recursive: true });
    await fs.writeFile(path.join(src, name), data);
  }
  const { repo, g } = await repoWithBackup(dir, src, env, '4k');
  return { dir, src, repo, g };
}

async function packHeader(g: string[], id: string): Promise<{ type: string; id: string; offset: number; length: number; rawLength: number }[]> {
  const r = await cairn([...g, 'cat', 'pack', id], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Every file under a directory with its SHA-256. */
async function digests(root: string): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for (const e of await fs.readdir(root, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) {
      const p = path.join(e.parentPath, e.name);
      m.set(path.relative(root, p), sha256(await fs.readFile(p)));
    }
  }
  return m;
}

test('blobs swapped between packs are refused by id, and the files are not written', async () => {
  const a = pseudoRandom(300 * 1024, 11);
  const b = pseudoRandom(300 * 1024, 12);
  const { dir, src, repo, g } = await setup({ 'a.bin': a, 'b.bin': b, 'c.txt': Buffer.from('untouched\n') });
  // Random data does not compress: both blobs have the same stored length, so each still
  // decrypts at the other's place. Only the keyed id can tell them apart.
  const big: { pack: string; offset: number; length: number }[] = [];
  for (const pack of await listObjects(repo, 'data')) {
    for (const e of await packHeader(g, pack)) if (e.type === 'data' && e.length > 200 * 1024) big.push({ pack, ...e });
  }
  assert.equal(big.length, 2);
  assert.equal(big[0].length, big[1].length);
  const read = async (e: (typeof big)[0]) => (await fs.readFile(await packPath(repo, e.pack))).subarray(e.offset, e.offset + e.length);
  const [b0, b1] = [Buffer.from(await read(big[0])), Buffer.from(await read(big[1]))];
  for (const [e, bytes] of [[big[0], b1], [big[1], b0]] as const) {
    const fh = await fs.open(await packPath(repo, e.pack), 'r+');
    await fh.write(bytes, 0, bytes.length, e.offset);
    await fh.close();
  }

  const target = path.join(dir, 'out');
  const r = await cairn([...g, 'restore', 'latest', '--target', target], env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /a\.bin: data\/[0-9a-f]{64} is damaged: blob [0-9a-f]{64} in pack [0-9a-f]{64} does not match its id/);
  assert.match(r.stderr, /b\.bin: data\/[0-9a-f]{64} is damaged/);
  const got = await digests(path.join(target, src));
  assert.deepEqual([...got.keys()], ['c.txt'], 'only the untouched file is restored');
});

test('a tree blob replaced by another valid tree blob is refused', async () => {
  // Many directories of the same shape give tree blobs of equal stored and raw length, so
  // the donor decrypts and decompresses cleanly at the victim's place: only the id check is left.
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 40; i++) files[`d${String(i).padStart(2, '0')}/f.txt`] = Buffer.from(`file ${String(i).padStart(2, '0')}\n`);
  const { dir, repo, g } = await setup(files);
  const trees: { pack: string; offset: number; length: number; rawLength: number; id: string }[] = [];
  for (const pack of await listObjects(repo, 'data')) {
    for (const e of await packHeader(g, pack)) if (e.type === 'tree') trees.push({ pack, ...e });
  }
  const byLength = new Map<string, typeof trees>();
  for (const t of trees) {
    const k = `${t.length}/${t.rawLength}`;
    byLength.set(k, [...(byLength.get(k) ?? []), t]);
  }
  const pair = [...byLength.values()].find((ts) => ts.length >= 2);
  assert.ok(pair, 'two tree blobs of the same stored and raw length');
  const [victim, donor] = pair;
  const donorBytes = (await fs.readFile(await packPath(repo, donor.pack))).subarray(donor.offset, donor.offset + donor.length);
  const victimFile = await packPath(repo, victim.pack);
  const fh = await fs.open(victimFile, 'r+');
  await fh.write(donorBytes, 0, donorBytes.length, victim.offset);
  await fh.close();

  const r = await cairn([...g, 'restore', 'latest', '--target', path.join(dir, 'out')], env);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`blob ${victim.id} in pack ${victim.pack} does not match its id`));
});

test('a truncated snapshot is refused and named', async () => {
  const { dir, repo, g } = await setup({ 'x.txt': Buffer.from('x') });
  const [snap] = await listObjects(repo, 'snapshots');
  const file = path.join(repo, 'snapshots', snap);
  const bytes = await fs.readFile(file);
  await fs.writeFile(file, bytes.subarray(0, bytes.length - 1));
  const r = await cairn([...g, 'restore', snap, '--target', path.join(dir, 'out')], env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`snapshots/${snap} is damaged: authentication failed`));
  await assert.rejects(fs.stat(path.join(dir, 'out', 'x.txt')));
});

test("a key file whose KDF parameters were edited does not open, and is named", async () => {
  const { repo, g } = await setup({ 'x.txt': Buffer.from('x') });
  const [key] = await listObjects(repo, 'keys');
  const file = path.join(repo, 'keys', key);
  const kf = JSON.parse(await fs.readFile(file, 'utf8'));
  kf.kdf.iterations += 1;
  await fs.writeFile(file, JSON.stringify(kf));
  const r = await cairn([...g, 'snapshots'], env);
  assert.equal(r.code, 12);
  assert.match(r.stderr, new RegExp(`keys/${key.slice(0, 12)}.*modified`));

  kf.kdf.memoryKiB = 2 ** 40;
  await fs.writeFile(file, JSON.stringify(kf));
  const r2 = await cairn([...g, 'snapshots'], env);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, new RegExp(`keys/${key} is damaged: no usable key file .*memory`));
});
