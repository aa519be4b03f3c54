import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { CAIRN_BIN, cairn, tempDir } from '../helpers.js';

test('--help lists the commands', async () => {
  const r = await cairn(['--help']);
  assert.equal(r.code, 0);
  for (const c of ['init', 'backup', 'snapshots', 'ls', 'restore', 'dump', 'cat']) assert.match(r.stdout, new RegExp(`cairn ${c}`));
});

test('--version prints the version of cairn, from any working directory', async () => {
  const { version } = JSON.parse(await fs.readFile(new URL('../../../package.json', import.meta.url), 'utf8'));
  // Elsewhere than in cairn's own tree, where a package.json search from the working directory finds nothing.
  const out = execFileSync(process.execPath, [CAIRN_BIN, '--version'], { cwd: await tempDir(), encoding: 'utf8' });
  assert.equal(out.trim(), version);
});

test('without --repo, the first backup creates the default repository under the data directory', async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await fs.writeFile(path.join(src, 'a.txt'), 'hello\n');
  const env: Record<string, string> = { CAIRN_PASSWORD: 'pw', XDG_DATA_HOME: path.join(dir, 'data'), XDG_CACHE_HOME: path.join(dir, 'cache') };
  delete process.env.CAIRN_REPOSITORY;
  const b = await cairn(['backup', src], env);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /creating the default repository/);
  await fs.access(path.join(dir, 'data/cairn/repository/config'));
  const s = await cairn(['snapshots', '--json'], env);
  assert.equal(JSON.parse(s.stdout).length, 1);
  const again = await cairn(['backup', src], env);
  assert.doesNotMatch(again.stderr, /creating/);
});

test('CAIRN_REPOSITORY and --password-file are honoured; --password-command too', async () => {
  const dir = await tempDir();
  const repo = path.join(dir, 'repo');
  await fs.writeFile(path.join(dir, 'pw'), 'from-file\n');
  const init = await cairn(['--password-file', path.join(dir, 'pw'), '--cache-dir', dir, 'init'], { CAIRN_REPOSITORY: repo });
  assert.equal(init.code, 0, init.stderr);
  const viaCommand = await cairn(['--password-command', 'echo from-file', '--cache-dir', dir, 'snapshots'], { CAIRN_REPOSITORY: repo });
  assert.equal(viaCommand.code, 0, viaCommand.stderr);
  const wrong = await cairn(['--password-command', 'echo nope', '--cache-dir', dir, 'snapshots'], { CAIRN_REPOSITORY: repo });
  assert.equal(wrong.code, 12);
});

test('CAIRN_PASSWORD_FILE, CAIRN_PASSWORD_COMMAND and CAIRN_CACHE_DIR stand in for their flags, which win', async () => {
  const dir = await tempDir();
  const repo = path.join(dir, 'repo');
  const cache = path.join(dir, 'env-cache');
  const pw = path.join(dir, 'pw');
  await fs.writeFile(pw, 'from-env-file\n');
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await fs.writeFile(path.join(src, 'f'), 'x');
  const base = { CAIRN_REPOSITORY: repo, CAIRN_CACHE_DIR: cache };
  assert.equal((await cairn(['init'], { ...base, CAIRN_PASSWORD_FILE: pw })).code, 0);
  const b = await cairn(['backup', src], { ...base, CAIRN_PASSWORD_COMMAND: 'echo from-env-file' });
  assert.equal(b.code, 0, b.stderr);
  assert.ok((await fs.readdir(cache)).length > 0, 'the index cache is under CAIRN_CACHE_DIR');
  // A flag beats a variable of another kind; a wrong password from a variable is still wrong.
  const flag = await cairn(['--password-command', 'echo nope', 'snapshots'], { ...base, CAIRN_PASSWORD_FILE: pw });
  assert.equal(flag.code, 12);
  assert.equal((await cairn(['snapshots'], { ...base, CAIRN_PASSWORD_COMMAND: 'echo nope' })).code, 12);
  const missing = await cairn(['snapshots'], { ...base, CAIRN_PASSWORD_FILE: path.join(dir, 'absent') });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read CAIRN_PASSWORD_FILE .*absent/);
  // backup --stdin needs a password from somewhere but stdin; a variable will do.
  const piped = await cairn(['backup', '--stdin'], { ...base, CAIRN_PASSWORD_FILE: pw }, { input: 'data' });
  assert.equal(piped.code, 0, piped.stderr);
});

test('an unknown command or a missing argument says what to do', async () => {
  const r = await cairn(['bakup']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Did you mean backup|Unknown argument/);
  const d = await tempDir();
  const noPaths = await cairn(['--repo', path.join(d, 'r'), 'backup'], { CAIRN_PASSWORD: 'x' });
  assert.equal(noPaths.code, 1);
  assert.match(noPaths.stderr, /name at least one file or directory/);
});

test('a reader that stops early (cairn ls | head) ends cairn quietly, with exit 0', async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  // Far more listing than a pipe buffers (64 KiB), so cairn is still writing when the reader goes.
  for (let i = 0; i < 2000; i++) await fs.writeFile(path.join(src, `${'long-file-name-'.repeat(6)}${i}`), '');
  const env = { CAIRN_PASSWORD: 'pw' };
  const g = ['--repo', path.join(dir, 'repo'), '--cache-dir', path.join(dir, 'cache')];
  assert.equal((await cairn([...g, 'init'], env)).code, 0);
  assert.equal((await cairn([...g, 'backup', src], env)).code, 0);
  const child = spawn(process.execPath, [CAIRN_BIN, ...g, 'ls', 'latest'], { env: { ...process.env, CAIRN_TEST_WEAK_KDF: '1', ...env } });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});
