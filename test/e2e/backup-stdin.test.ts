import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cairn, cairnStdout, pseudoRandom, sha256, tempDir } from '../helpers.js';

const env = { CAIRN_PASSWORD: 'correct horse' };

async function setup() {
  const dir = await tempDir();
  const g = ['--repo', path.join(dir, 'repo'), '--cache-dir', path.join(dir, 'cache')];
  const init = await cairn([...g, 'init'], env);
  assert.equal(init.code, 0, init.stderr);
  return { dir, g };
}

/** About 20 MB like a database dump: SQL text, and a random binary column. */
function dumpLike(): Buffer {
  const rows: string[] = [];
  for (let i = 0; rows.length < 140_000; i++) rows.push(`INSERT INTO orders VALUES (${i}, 'customer ${(i * 7919) % 10007}', ${(i * 31) % 977}.${i % 100});\n`);
  return Buffer.concat([Buffer.from(rows.join('')), pseudoRandom(12 * 1024 * 1024 + 5, 42)]);
}

function summaryOf(stdout: string) {
  return stdout.trim().split('\n').map((l) => JSON.parse(l)).find((m) => m.message_type === 'summary');
}

async function snapshots(g: string[]) {
  const r = await cairn([...g, 'snapshots', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('backup --stdin stores standard input as one file, which ls, dump and restore give back, and dedups', async () => {
  const { dir, g } = await setup();
  const data = dumpLike();
  assert.ok(data.length > 20_000_000);
  const b = await cairn([...g, 'backup', '--stdin', '--stdin-filename', 'db.sql', '--json'], env, { input: data });
  assert.equal(b.code, 0, b.stderr);
  const s = summaryOf(b.stdout);
  assert.equal(s.files_new, 1);
  assert.equal(s.total_files_processed, 1);
  assert.equal(s.total_bytes_processed, data.length);
  assert.ok(s.data_added_raw >= data.length, `${s.data_added_raw} bytes added`);

  const [snap] = await snapshots(g);
  assert.deepEqual(snap.paths, ['/db.sql']);
  assert.equal(snap.kind, 'files');
  const ls = await cairn([...g, 'ls', 'latest', '--json'], env);
  assert.equal(ls.code, 0, ls.stderr);
  const nodes = ls.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.message_type === 'node');
  assert.equal(nodes.length, 1);
  assert.equal(nodes[0].path, '/db.sql');
  assert.equal(nodes[0].type, 'file');
  assert.equal(nodes[0].size, data.length);
  assert.equal(nodes[0].mode, 0o644);
  assert.equal(nodes[0].uid, process.getuid?.());
  assert.equal(sha256(await cairnStdout([...g, 'dump', 'latest', '/db.sql'], env)), sha256(data));
  const out = path.join(dir, 'out');
  const r = await cairn([...g, 'restore', 'latest', '--target', out], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sha256(await fs.readFile(path.join(out, 'db.sql'))), sha256(data));

  // The same dump again, from another host and with a tag and a time: nothing but a tree is new.
  const again = await cairn([...g, 'backup', '--stdin', '--stdin-filename', 'db.sql', '--json', '--tag', 'nightly', '--host', 'db1', '--time', '2026-01-02 03:04:05'], env, { input: data });
  assert.equal(again.code, 0, again.stderr);
  const s2 = summaryOf(again.stdout);
  assert.ok(s2.data_added_raw < 16 * 1024, again.stdout);
  const second = (await snapshots(g)).find((x: { id: string }) => x.id === s2.snapshot_id);
  assert.deepEqual([second.tags, second.host, new Date(second.time).getTime()], [['nightly'], 'db1', new Date(2026, 0, 2, 3, 4, 5).getTime()]);
});

test('backup --stdin with nothing on standard input stores an empty file named stdin', async () => {
  const { g } = await setup();
  const b = await cairn([...g, 'backup', '--stdin'], env, { input: '' });
  assert.equal(b.code, 0, b.stderr);
  const ls = await cairn([...g, 'ls', 'latest', '--json'], env);
  const nodes = ls.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.message_type === 'node');
  assert.deepEqual(nodes.map((n) => [n.path, n.type, n.size]), [['/stdin', 'file', 0]]);
  assert.equal((await cairnStdout([...g, 'dump', 'latest', '/stdin'], env)).length, 0);
});

test('backup --stdin-from-command stores what the command writes, and saves no snapshot when it fails', async () => {
  const { dir, g } = await setup();
  const data = pseudoRandom(9 * 1024 * 1024 + 11, 7);
  const file = path.join(dir, 'data.bin');
  await fs.writeFile(file, data);

  const ok = await cairn([...g, 'backup', '--stdin-filename', 'dumps/db.bin', '--stdin-from-command', '--', 'cat', file], env);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual((await snapshots(g)).map((s: { paths: string[] }) => s.paths), [['/dumps/db.bin']]);
  assert.equal(sha256(await cairnStdout([...g, 'dump', 'latest', '/dumps/db.bin'], env)), sha256(data));

  // The data is written in full before the failure shows, as a dump that fails at its end would.
  const failed = await cairn([...g, 'backup', '--stdin-from-command', '--', 'sh', '-c', 'cat "$0"; exit 3', file], env);
  assert.notEqual(failed.code, 0);
  assert.match(failed.stderr, /exited with status 3/);
  assert.doesNotMatch(failed.stdout, /snapshot [0-9a-f]{8} saved/);
  const killed = await cairn([...g, 'backup', '--stdin-from-command', '--', 'sh', '-c', 'cat "$0"; kill -9 $$', file], env);
  assert.notEqual(killed.code, 0);
  assert.match(killed.stderr, /killed by SIGKILL/);
  const missing = await cairn([...g, 'backup', '--stdin-from-command', '--', path.join(dir, 'no-such-command')], env);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /cannot run .*no-such-command/);
  assert.equal((await snapshots(g)).length, 1);
});

test('backup --stdin and --stdin-from-command refuse paths and file flags, with a usage error', async () => {
  const { dir, g } = await setup();
  const cases: [string[], RegExp][] = [
    [['--stdin', dir], /--stdin .*takes no paths/],
    [['--stdin', '--exclude', '*.tmp'], /--exclude cannot be used with --stdin/],
    [['--stdin-from-command', '--files-from', path.join(dir, 'list'), '--', 'true'], /--files-from cannot be used with --stdin-from-command/],
    [['--stdin-from-command'], /--stdin-from-command needs a command/],
    [['--stdin-filename', 'db.sql', dir], /--stdin-filename names the file of --stdin/],
  ];
  for (const [args, message] of cases) {
    const r = await cairn([...g, 'backup', ...args], env, { input: 'data' });
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const noPassword = await cairn([...g, 'backup', '--stdin'], {}, { input: 'data' });
  assert.equal(noPassword.code, 1);
  assert.match(noPassword.stderr, /password cannot come from there/);
  assert.deepEqual(await snapshots(g), []);
});
