import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { CAIRN_BIN, cairn, diffDigests, pseudoRandom, tempDir, treeDigest } from '../helpers.js';

const env = { CAIRN_PASSWORD: 'pw', CAIRN_TEST_WEAK_KDF: '1' };
const TRIALS = 20;

/** Starts a backup and kills it with SIGKILL after `ms`; resolves when it is gone. */
function backupKilledAfter(args: string[], ms: number): Promise<{ killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CAIRN_BIN, ...args], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (_code, signal) => {
      clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL' });
    });
  });
}

async function temporaryFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) found.push(...(await temporaryFiles(p)));
    else if (e.name.endsWith('.tmp')) found.push(p);
  }
  return found;
}

test(`kill -9 at ${TRIALS} moments of a backup leaves a repository where the next backup works and earlier snapshots restore`, async () => {
  const dir = await tempDir();
  const first = path.join(dir, 'first');
  const second = path.join(dir, 'second');
  await fs.mkdir(first);
  await fs.mkdir(second);
  for (let i = 0; i < 6; i++) await fs.writeFile(path.join(first, `f${i}`), pseudoRandom(700 * 1024, i + 1));
  for (let i = 0; i < 40; i++) await fs.writeFile(path.join(second, `g${i}`), pseudoRandom(300 * 1024, 100 + i));
  const repo = path.join(dir, 'repo');
  const g = ['--repo', repo, '--cache-dir', path.join(dir, 'cache')];
  assert.equal((await cairn([...g, 'init', '--pack-size', '64k'], env)).code, 0);
  assert.equal((await cairn([...g, 'backup', first], env)).code, 0);
  const want = await treeDigest(first);

  // How long an uninterrupted backup of the second tree takes, to spread the kills over it.
  const t0 = Date.now();
  const probe = await cairn([...g, 'backup', '--host', 'probe', second], env);
  assert.equal(probe.code, 0, probe.stderr);
  const duration = Date.now() - t0;

  let killed = 0;
  for (let i = 0; i < TRIALS; i++) {
    await fs.appendFile(path.join(second, `g${i}`), `change ${i}`);
    const at = Math.round((duration * (i + 0.5)) / TRIALS);
    if ((await backupKilledAfter([...g, 'backup', '--host', 'crash', second], at)).killed) killed++;
  }
  assert.ok(killed >= TRIALS / 2, `only ${killed} of ${TRIALS} backups were killed before they finished`);

  const next = await cairn([...g, 'backup', second], env);
  assert.equal(next.code, 0, next.stderr);

  // Kills between writing a pack and linking it into place leave its temporary file;
  // prune removes those and nothing else (the restores below run after it).
  const leftovers = await temporaryFiles(repo);
  const pruned = await cairn([...g, 'prune'], env);
  assert.equal(pruned.code, 0, pruned.stderr);
  if (leftovers.length > 0) assert.match(pruned.stdout, new RegExp(`remove ${leftovers.length} temporary files`));
  assert.deepEqual(await temporaryFiles(repo), []);
  const list = JSON.parse((await cairn([...g, 'snapshots', '--json'], env)).stdout) as { id: string; paths: string[] }[];
  const earlier = list.find((s) => s.paths[0] === first)!;
  const target = path.join(dir, 'restore');
  const r = await cairn([...g, 'restore', earlier.id, '--target', target, '--verify'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(diffDigests(want, await treeDigest(path.join(target, first))), []);

  const latest = path.join(dir, 'restore-latest');
  const r2 = await cairn([...g, 'restore', 'latest', '--target', latest], env);
  assert.equal(r2.code, 0, r2.stderr);
  assert.deepEqual(diffDigests(await treeDigest(second), await treeDigest(path.join(latest, second))), []);
});

/** Starts `cairn ARGS`, sends `signal` once a pack is being written in `repo`, and resolves with how it ended. */
function interruptedWhileWriting(args: string[], repo: string, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string; sent: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CAIRN_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    let sent = false;
    const poll = setInterval(async () => {
      const names = await fs.readdir(path.join(repo, 'data')).catch(() => [] as string[]);
      if (!sent && names.some((n) => n.endsWith('.tmp'))) {
        sent = true;
        child.kill(signal);
      }
    }, 5);
    child.on('close', (code) => {
      clearInterval(poll);
      resolve({ code, stderr, sent });
    });
  });
}

test('Ctrl-C or SIGTERM during a backup releases the lock, removes the unfinished pack and exits 130 or 143', async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  for (let i = 0; i < 48; i++) await fs.writeFile(path.join(src, `f${i}`), pseudoRandom(1024 * 1024, 500 + i));
  const repo = path.join(dir, 'repo');
  const g = ['--repo', repo, '--cache-dir', path.join(dir, 'cache')];
  assert.equal((await cairn([...g, 'init'], env)).code, 0);

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    const r = await interruptedWhileWriting([...g, 'backup', src], repo, signal);
    assert.ok(r.sent, `${signal}: the backup wrote a pack before it ended`);
    assert.equal(r.code, code, r.stderr);
    assert.match(r.stderr, /^interrupted: releasing the lock/m);
    assert.doesNotMatch(r.stderr, /warning|error/, 'no warning per file and no error after the interruption');
    assert.deepEqual(await fs.readdir(path.join(repo, 'locks')), [], `${signal}: the lock is released`);
    assert.deepEqual(await temporaryFiles(repo), [], `${signal}: no temporary file is left`);
  }
  const check = await cairn([...g, 'check'], env);
  assert.equal(check.code, 0, check.stderr);
  const next = await cairn([...g, 'backup', src], env);
  assert.equal(next.code, 0, next.stderr);
  const target = path.join(dir, 'restore');
  const r = await cairn([...g, 'restore', 'latest', '--target', target], env);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(diffDigests(await treeDigest(src), await treeDigest(path.join(target, src))), []);
});
