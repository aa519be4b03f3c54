import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cairn, cairnStdout, diffDigests, sha256, tempDir, treeDigest } from '../helpers.js';
import { getAttribute, setAttribute } from 'fs-xattr';
import { DISTINCTIVE_NAME, makeFixtureTree } from './fixture-tree.js';

const env = { CAIRN_PASSWORD: 'correct horse' };

async function setup() {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await makeFixtureTree(src);
  const repo = path.join(dir, 'repo');
  const g = ['--repo', repo, '--cache-dir', path.join(dir, 'cache')];
  const init = await cairn([...g, 'init'], env);
  assert.equal(init.code, 0, init.stderr);
  return { dir, src, repo, g };
}

test('backup then restore gives back every file, byte for byte, with metadata', async () => {
  const { dir, src, g } = await setup();
  const b = await cairn([...g, 'backup', src], env);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /snapshot [0-9a-f]{8} saved/);

  const target = path.join(dir, 'out');
  const r = await cairn([...g, 'restore', 'latest', '--target', target, '--verify'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /verified \d+ files/);
  const restored = path.join(target, src);
  // Directory times count too: they are restored after their contents were written.
  const full = { times: true, owners: process.getuid?.() === 0, xattrs: true };
  const want = await treeDigest(src, full);
  assert.match([...want.values()].map((d) => d.desc).join('\n'), /xattr:user.cairn.note=000102ff/);
  const got = await treeDigest(restored, full);
  assert.deepEqual(diffDigests(want, got), []);

  // Hard links come back as links, sparse files as sparse files.
  const a = await fs.stat(path.join(restored, 'hardlink'));
  const s = await fs.stat(path.join(restored, 'docs/deep/small.txt'));
  assert.equal(a.ino, s.ino);
  const sparse = await fs.stat(path.join(restored, 'sparse.img'));
  assert.equal(sparse.size, 40 * 1024 * 1024);
  assert.ok(sparse.blocks * 512 < 1024 * 1024, `sparse file takes ${sparse.blocks * 512} bytes on disk`);

  // Restoring again over the first restore replaces what is there: the FIFO, symlinks,
  // hard links and files come back the same.
  const again = await cairn([...g, 'restore', 'latest', '--target', target], env);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(diffDigests(want, await treeDigest(restored, full)), []);
});

test('a second backup reuses unchanged files from the parent and adds almost nothing', async () => {
  const { src, g } = await setup();
  assert.equal((await cairn([...g, 'backup', src], env)).code, 0);
  const second = await cairn([...g, 'backup', '--json', src], env);
  assert.equal(second.code, 0, second.stderr);
  const summary = second.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((m) => m.message_type === 'summary');
  assert.ok(summary, 'a summary line');
  assert.equal(summary.files_new, 0);
  assert.equal(summary.files_changed, 0);
  assert.ok(summary.files_unmodified >= 8, `unchanged ${summary.files_unmodified}`);
  assert.ok(summary.data_added < 4096, `added ${summary.data_added}`);

  await fs.appendFile(path.join(src, 'docs/deep/small.txt'), 'more\n');
  const third = await cairn([...g, 'backup', '--json', src], env);
  const s3 = third.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((m) => m.message_type === 'summary');
  // small.txt and its hard link share the changed inode.
  assert.equal(s3.files_changed, 2);
});

test("a directory's xattrs come from the parent while its ctime holds, and are read again when it changes", async () => {
  const { dir, src, g } = await setup();
  const docsXattr = async (n: number) => {
    const target = path.join(dir, `out${n}`);
    const r = await cairn([...g, 'restore', 'latest', '--target', target], env);
    assert.equal(r.code, 0, r.stderr);
    return (await getAttribute(path.join(target, src, 'docs'), 'user.cairn.dir')).toString();
  };
  assert.equal((await cairn([...g, 'backup', src], env)).code, 0);
  assert.equal((await cairn([...g, 'backup', src], env)).code, 0);
  assert.equal(await docsXattr(2), 'directory attribute');
  await setAttribute(path.join(src, 'docs'), 'user.cairn.dir', 'changed since the parent');
  assert.equal((await cairn([...g, 'backup', src], env)).code, 0);
  assert.equal(await docsXattr(3), 'changed since the parent');
});

test('a backup leaves the access times of the files it reads as they were', async () => {
  const { src, g } = await setup();
  // A large file streams through a chunk worker; small ones go through a read worker.
  await fs.writeFile(path.join(src, 'large.bin'), Buffer.alloc(5 * 1024 * 1024, 1));
  const files = ['large.bin', 'docs/deep/small.txt', 'private.txt', 'control.txt'].map((f) => path.join(src, f));
  await fs.writeFile(files[3], 'read without O_NOATIME\n');
  // An access time before the last change is one that a plain read moves (relatime).
  const before = new Map<string, bigint>();
  for (const f of files) {
    const st = await fs.stat(f, { bigint: true });
    await fs.utimes(f, Number(st.mtimeMs) / 1000 - 86_400, Number(st.mtimeMs) / 1000);
    before.set(f, (await fs.stat(f, { bigint: true })).atimeNs);
  }
  await fs.readFile(files[3]);
  assert.notEqual((await fs.stat(files[3], { bigint: true })).atimeNs, before.get(files[3]), 'this file system moves access times on read');

  const b = await cairn([...g, 'backup', src], env);
  assert.equal(b.code, 0, b.stderr);
  for (const f of files.slice(0, 3)) assert.equal((await fs.stat(f, { bigint: true })).atimeNs, before.get(f), f);
});

test('--files-from and --files-from-raw name what to back up', async () => {
  const { dir, src, g } = await setup();
  const list = path.join(dir, 'list.txt');
  await fs.writeFile(list, `# what to keep\n${path.join(src, 'docs/deep')}\n\n`);
  const raw = path.join(dir, 'list.raw');
  await fs.writeFile(raw, `${path.join(src, 'private.txt')}\0`);
  const b = await cairn([...g, 'backup', '--files-from', list, '--files-from-raw', raw, path.join(src, 'empty')], env);
  assert.equal(b.code, 0, b.stderr);
  const snaps = JSON.parse((await cairn([...g, 'snapshots', '--json'], env)).stdout);
  assert.deepEqual([...snaps[0].paths].sort(), [path.join(src, 'docs/deep'), path.join(src, 'empty'), path.join(src, 'private.txt')].sort());
  const ls = await cairn([...g, 'ls', 'latest'], env);
  assert.match(ls.stdout, /docs\/deep\/small\.txt/);
  assert.doesNotMatch(ls.stdout, /dup-a\.bin/);

  // "-" reads the list from stdin, also written as a separate word.
  const piped = await cairn([...g, 'backup', '--json', '--files-from', '-'], env, { input: `${path.join(src, 'docs/deep')}\n` });
  assert.equal(piped.code, 0, piped.stderr);
  const id = piped.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((m) => m.message_type === 'summary').snapshot_id;
  const all = JSON.parse((await cairn([...g, 'snapshots', '--json'], env)).stdout) as { id: string; paths: string[] }[];
  assert.deepEqual(all.find((s) => s.id === id)?.paths, [path.join(src, 'docs/deep')]);

  await fs.writeFile(list, '# nothing\n');
  const empty = await cairn([...g, 'backup', '--files-from', list], env);
  assert.notEqual(empty.code, 0);
  assert.match(empty.stderr, /name no paths/);
});

test('backup --dry-run says what a backup would add and writes nothing', async () => {
  const { src, repo, g } = await setup();
  const summaryOf = (r: { stdout: string }) => r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((m) => m.message_type === 'summary');
  const objects = async () => {
    const out: string[] = [];
    for (const kind of ['data', 'index', 'snapshots']) {
      for (const e of await fs.readdir(path.join(repo, kind), { recursive: true, withFileTypes: true })) if (e.isFile()) out.push(`${kind}/${e.name}`);
    }
    return out;
  };
  // The first read of each directory moves its access time (relatime), which the trees
  // record, so the dry run to compare with the real backup is the second.
  const text = await cairn([...g, 'backup', '-n', src], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /Would add to the repository: .*\ndry run: nothing was written/s);
  const d = summaryOf(await cairn([...g, 'backup', '--dry-run', '--json', src], env));
  assert.equal(d.dry_run, true);
  assert.equal(d.snapshot_id, null);
  assert.ok(d.data_added > 0);
  assert.deepEqual(await objects(), []);

  // The real backup adds what the dry run said, and a dry run after it only a few trees:
  // trees also hold the times of directories, and of those above the source, which the
  // test's own runs move.
  const real = summaryOf(await cairn([...g, 'backup', '--json', src], env));
  assert.ok(Math.abs(real.data_added - d.data_added) <= 64, `${real.data_added} against ${d.data_added}`);
  const stored = await objects();
  const again = summaryOf(await cairn([...g, 'backup', '--dry-run', '--json', src], env));
  assert.ok(again.data_added < 2048, `${again.data_added} bytes`);
  assert.equal(again.files_unmodified, real.files_new);
  const piped = summaryOf(await cairn([...g, 'backup', '--stdin', '--dry-run', '--json'], env, { input: 'a dump that is not kept' }));
  assert.ok(piped.data_added > 0);
  assert.deepEqual(await objects(), stored);
});

test('backup --skip-if-unchanged saves no snapshot when nothing changed since the parent', async () => {
  const { g } = await setup();
  // Trees also record the directories above the source; /tmp changes all the time while
  // other tests run, /var/tmp does not.
  const src = await fs.mkdtemp('/var/tmp/cairn-skip-');
  try {
    await fs.mkdir(path.join(src, 'd'));
    await fs.writeFile(path.join(src, 'd', 'f'), 'first');
    const summaryOf = (r: { stdout: string }) => r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((m) => m.message_type === 'summary');
    const count = async () => (JSON.parse((await cairn([...g, 'snapshots', '--json'], env)).stdout) as unknown[]).length;
    // The first backup's readdir moves the directories' access times, which the second records.
    await cairn([...g, 'backup', src], env);
    const parent = summaryOf(await cairn([...g, 'backup', '--json', src], env)).snapshot_id;
    const skipped = await cairn([...g, 'backup', '--skip-if-unchanged', src], env);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.match(skipped.stdout, new RegExp(`nothing changed since snapshot ${parent.slice(0, 8)}: no snapshot saved`));
    const again = summaryOf(await cairn([...g, 'backup', '--skip-if-unchanged', '--json', src], env));
    assert.equal(again.snapshot_id, null);
    assert.equal(again.unchanged_since, parent);
    assert.equal(await count(), 2);
    await fs.writeFile(path.join(src, 'd', 'f'), 'second');
    const changed = summaryOf(await cairn([...g, 'backup', '--skip-if-unchanged', '--json', src], env));
    assert.match(changed.snapshot_id, /^[0-9a-f]{64}$/);
    assert.equal(await count(), 3);
    const image = await cairn([...g, 'backup', '--skip-if-unchanged', '--image', path.join(src, 'd', 'f')], env);
    assert.equal(image.code, 1);
    assert.match(image.stderr, /--skip-if-unchanged is for file backups/);
  } finally {
    await fs.rm(src, { recursive: true, force: true });
  }
});

test('snapshots, ls and dump, in text and --json', async () => {
  const { src, g } = await setup();
  await cairn([...g, 'backup', '--tag', 'daily', src], env);
  const snaps = await cairn([...g, 'snapshots', '--json'], env);
  const list = JSON.parse(snaps.stdout);
  assert.equal(list.length, 1);
  assert.deepEqual(list[0].tags, ['daily']);
  assert.equal(list[0].kind, 'files');
  const id: string = list[0].id;

  const text = await cairn([...g, 'snapshots'], env);
  assert.match(text.stdout, new RegExp(id.slice(0, 8)));

  // --latest 1 of two snapshots of the same paths shows the second only.
  await cairn([...g, 'backup', src], env);
  const latest = JSON.parse((await cairn([...g, 'snapshots', '--latest', '1', '--json'], env)).stdout);
  assert.equal(latest.length, 1);
  assert.notEqual(latest[0].id, id);
  const badLatest = await cairn([...g, 'snapshots', '--latest', '0'], env);
  assert.match(badLatest.stderr, /--latest takes a count of 1 or more/);

  const ls = await cairn([...g, 'ls', id.slice(0, 6), path.join(src, 'docs'), '--json'], env);
  assert.equal(ls.code, 0, ls.stderr);
  const nodes = ls.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.message_type === 'node');
  assert.ok(nodes.some((n) => n.path === path.join(src, 'docs/deep/er/random.bin') && n.size === 3 * 1024 * 1024 + 17));

  const file = path.join(src, 'docs/deep/er/random.bin');
  const dump = await cairnStdout([...g, 'dump', 'latest', file], env);
  assert.equal(sha256(dump), sha256(await fs.readFile(file)));

  const bad = await cairn([...g, 'ls', 'ab'], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /at least 4 hex/);

  // A missing path: the hint lists the deepest directory that is there, not a missing one.
  const missing = await cairn([...g, 'dump', 'latest', path.join(src, 'docs/nowhere/file')], env);
  assert.notEqual(missing.code, 0);
  assert.ok(missing.stderr.includes(`cairn ls SNAPSHOT ${path.join(src, 'docs')}\``), missing.stderr);
});

test('restore of a sub path with --include and --exclude', async () => {
  const { dir, src, g } = await setup();
  await cairn([...g, 'backup', src], env);
  const target = path.join(dir, 'sub');
  const r = await cairn([...g, 'restore', `latest:${src}/docs`, '--target', target, '--exclude', '*.bin'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.ok((await fs.stat(path.join(target, 'deep/small.txt'))).isFile());
  await assert.rejects(fs.stat(path.join(target, 'deep/er/random.bin')));

  const only = path.join(dir, 'only');
  const r2 = await cairn([...g, 'restore', 'latest', '--target', only, '--include', 'small.txt'], env);
  assert.equal(r2.code, 0, r2.stderr);
  assert.ok((await fs.stat(path.join(only, src, 'docs/deep/small.txt'))).isFile());
  await assert.rejects(fs.stat(path.join(only, src, 'empty')));

  // The --i forms ignore case; the exact forms do not.
  const anyCase = path.join(dir, 'any-case');
  const r3 = await cairn([...g, 'restore', `latest:${src}/docs`, '--target', anyCase, '--iinclude', `/DEEP/SMALL.TXT`, '--iinclude', '*.BIN', '--iexclude', 'ER'], env);
  assert.equal(r3.code, 0, r3.stderr);
  assert.ok((await fs.stat(path.join(anyCase, 'deep/small.txt'))).isFile());
  await assert.rejects(fs.stat(path.join(anyCase, 'deep/er/random.bin')), 'excluded with its directory, in any case');
  await assert.rejects(fs.stat(path.join(anyCase, `${DISTINCTIVE_NAME}.txt`)), 'not included');
  const exact = path.join(dir, 'exact');
  assert.equal((await cairn([...g, 'restore', `latest:${src}/docs`, '--target', exact, '--include', '/DEEP/SMALL.TXT'], env)).code, 0);
  await assert.rejects(fs.stat(path.join(exact, 'deep/small.txt')), '--include matches case');
});

test('excludes, exclude files and CACHEDIR.TAG', async () => {
  const { dir, src, g } = await setup();
  await fs.mkdir(path.join(src, 'cache'));
  await fs.writeFile(path.join(src, 'cache/CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n');
  await fs.writeFile(path.join(src, 'cache/big'), 'cached');
  await fs.writeFile(path.join(dir, 'excludes'), '# comment\nempty\n');
  const b = await cairn([...g, 'backup', src, '--exclude', '*.bin', '--exclude-file', path.join(dir, 'excludes'), '--exclude-caches'], env);
  assert.equal(b.code, 0, b.stderr);
  const ls = await cairn([...g, 'ls', 'latest'], env);
  assert.doesNotMatch(ls.stdout, /\.bin$/m);
  assert.doesNotMatch(ls.stdout, /\/empty$/m);
  assert.match(ls.stdout, /cache\/CACHEDIR\.TAG$/m);
  assert.doesNotMatch(ls.stdout, /cache\/big$/m);
});

test('--iexclude and --iexclude-file match without regard to case; --exclude keeps to it', async () => {
  const { dir, src, g } = await setup();
  for (const name of ['Movie.ISO', 'movie.iso', 'Notes.TXT', 'keep.Iso2']) await fs.writeFile(path.join(src, name), name);
  await fs.writeFile(path.join(dir, 'iexcludes'), '*.txt\n');
  const b = await cairn([...g, 'backup', src, '--iexclude', '*.iso', '--iexclude-file', path.join(dir, 'iexcludes'), '--exclude', '*.ISO2'], env);
  assert.equal(b.code, 0, b.stderr);
  const ls = (await cairn([...g, 'ls', 'latest'], env)).stdout;
  assert.doesNotMatch(ls, /ovie\.iso$/im);
  assert.doesNotMatch(ls, /Notes\.TXT$/m);
  assert.match(ls, /keep\.Iso2$/m, '--exclude still minds case');
  assert.match(ls, /docs\/deep\/er\/random\.bin$/m);
  assert.doesNotMatch(ls, /small\.txt$/m, 'the pattern from --iexclude-file applies too');
});

test('--exclude-larger-than leaves out larger files, but not a file named as a path', async () => {
  const { src, g } = await setup();
  await fs.writeFile(path.join(src, 'docs/two-mib.bin'), Buffer.alloc(2 * 1024 * 1024, 2));
  const b = await cairn([...g, 'backup', path.join(src, 'docs'), path.join(src, 'sparse.img'), '--exclude-larger-than', '2M'], env);
  assert.equal(b.code, 0, b.stderr);
  const ls = (await cairn([...g, 'ls', 'latest'], env)).stdout;
  // 2 MiB is not larger than 2M; random.bin (3 MiB) is; sparse.img (40 MiB) was named.
  assert.match(ls, /\/two-mib\.bin$/m);
  assert.match(ls, /\/small\.txt$/m);
  assert.doesNotMatch(ls, /\/random\.bin$/m);
  assert.match(ls, /\/sparse\.img$/m);
  const bad = await cairn([...g, 'backup', src, '--exclude-larger-than', 'huge'], env);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--exclude-larger-than takes a size like 16M/);
});

test('a file that cannot be read is reported and skipped, and the run exits 3', async () => {
  const { src, g } = await setup();
  // /proc/self/mem opens but fails to read at offset 0 with EIO, even for root.
  const b = await cairn([...g, 'backup', src, '/proc/self/mem'], env);
  assert.equal(b.code, 3, b.stderr);
  assert.match(b.stderr, /cannot read \/proc\/self\/mem/);
  assert.match(b.stdout, /snapshot [0-9a-f]{8} saved/);
});

test('a backup of / holds the top-level entries, and restores them', { skip: process.getuid?.() !== 0 ? 'needs root to create a directory in /' : false }, async () => {
  const { dir, g } = await setup();
  const mine = `/cairn-test-root-${path.basename(dir)}`;
  await fs.mkdir(mine);
  try {
    await fs.writeFile(path.join(mine, 'file'), 'under the root\n');
    // Everything else in / is excluded, so the backup stays small.
    const others = (await fs.readdir('/')).filter((n) => `/${n}` !== mine);
    await fs.writeFile(path.join(dir, 'excludes'), others.map((n) => `/${n}\n`).join(''));
    const b = await cairn([...g, 'backup', '/', '--exclude-file', path.join(dir, 'excludes')], env);
    assert.equal(b.code, 0, b.stderr);
    const ls = await cairn([...g, 'ls', 'latest'], env);
    assert.deepEqual(ls.stdout.trim().split('\n'), [mine, `${mine}/file`]);
    const out = path.join(dir, 'out');
    const r = await cairn([...g, 'restore', 'latest', '--target', out], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await fs.readFile(path.join(out, mine, 'file'), 'utf8'), 'under the root\n');
  } finally {
    await fs.rm(mine, { recursive: true, force: true });
  }
});
