import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBackend } from '../../backends/local.js';
import { MemoryBackend } from '../../backends/memory.js';
import { acquireLock, isStale, listLocks, LockInfo, STALE_MS } from '../../repo/lock.js';
import { Repository } from '../../repo/repository.js';
import { sealJson } from '../../repo/sealed-file.js';
import { CAIRN_BIN } from '../helpers.js';
import { checkReport, env, makeRepo, restoreAll, writeSource } from './lifecycle-helpers.js';

const memoryRepo = () => ({ backend: new MemoryBackend(), key: { encrypt: randomBytes(32) } });

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

test('shared locks coexist; exclusive conflicts with any live lock and names who holds it', async () => {
  const repo = memoryRepo();
  const a = await acquireLock(repo, { exclusive: false });
  const b = await acquireLock(repo, { exclusive: false });
  await assert.rejects(acquireLock(repo, { exclusive: true }), (err: Error) => {
    assert.equal(err.name, 'LockConflictError');
    assert.match(err.message, new RegExp(`a shared lock held by PID ${process.pid} on host ${os.hostname()}`));
    assert.match(err.message, /cairn unlock --remove-all/);
    return true;
  });
  await a.release();
  await b.release();
  const x = await acquireLock(repo, { exclusive: true });
  await assert.rejects(acquireLock(repo, { exclusive: false }), /an exclusive lock held by PID/);
  // Waiting works: the lock is released while the second caller retries.
  setTimeout(() => void x.release(), 300);
  const started = Date.now();
  const y = await acquireLock(repo, { exclusive: false, retryMs: 10_000 });
  assert.ok(Date.now() - started >= 250);
  await y.release();
  assert.deepEqual(await listLocks(repo), []);
});

test('a lock is stale when its process is gone on this host, or 30 minutes after its last refresh', async () => {
  const now = Date.now();
  const info = (over: Partial<LockInfo>): LockInfo => ({ time: new Date(now).toISOString(), refreshed: new Date(now).toISOString(), host: os.hostname(), pid: process.pid, user: 'u', exclusive: true, ...over });
  assert.equal(isStale(info({})), false);
  assert.equal(isStale(info({ pid: deadPid() })), true);
  assert.equal(isStale(info({ host: 'elsewhere', pid: deadPid() })), false, 'on another host the pid says nothing');
  assert.equal(isStale(info({ host: 'elsewhere', refreshed: new Date(now - STALE_MS - 1000).toISOString() })), true);

  const repo = memoryRepo();
  await repo.backend.save({ type: 'locks', name: 'dead' }, sealJson(repo.key.encrypt, info({ pid: deadPid() })));
  const l = await acquireLock(repo, { exclusive: true });
  await l.release();
});

test('backup waits for or fails on an exclusive lock; unlock removes stale locks, --remove-all every lock', async () => {
  const t = await makeRepo();
  await writeSource(t.src, 0, 5);
  const lib = await Repository.open(new LocalBackend(t.repo), env.CAIRN_PASSWORD, { cacheDir: path.join(t.dir, 'lib-cache') });
  try {
    const held = await acquireLock(lib, { exclusive: true });
    const fail = await t.run(['backup', t.src]);
    assert.equal(fail.code, 11, fail.stderr);
    assert.match(fail.stderr, new RegExp(`cannot take a shared lock: the repository is locked by an exclusive lock held by PID ${process.pid}`));

    // With --retry-lock the backup waits until the lock goes away: released once it says it waits.
    const waited = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CAIRN_BIN, ...t.g, 'backup', '--retry-lock', '60s', t.src], { env: { ...process.env, CAIRN_TEST_WEAK_KDF: '1', ...env } });
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/waiting for an exclusive lock/.test(stderr)) void held.release();
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    assert.equal(waited.code, 0, waited.stderr);

    const stale: LockInfo = { time: new Date().toISOString(), refreshed: new Date().toISOString(), host: os.hostname(), pid: deadPid(), user: 'u', exclusive: true };
    await lib.backend.save({ type: 'locks', name: 'a'.repeat(64) }, sealJson(lib.key.encrypt, stale));
    const live = await acquireLock(lib, { exclusive: false });
    assert.equal((await t.ok(['unlock'])).stdout.trim(), 'removed 1 lock');
    assert.deepEqual((await fs.readdir(path.join(t.repo, 'locks'))), [live.id]);
    assert.equal((await t.ok(['unlock', '--remove-all'])).stdout.trim(), 'removed 1 lock');
    assert.deepEqual(await fs.readdir(path.join(t.repo, 'locks')), []);
  } finally {
    await lib.close();
  }
});

test('a backup that waits for a lock reads the index only once it holds the lock', async () => {
  const t = await makeRepo();
  await writeSource(t.src, 0, 5);
  const lib = await Repository.open(new LocalBackend(t.repo), env.CAIRN_PASSWORD, { cacheDir: path.join(t.dir, 'lib-cache') });
  let held: Awaited<ReturnType<typeof acquireLock>> | undefined = await acquireLock(lib, { exclusive: true });
  const release = async () => {
    const h = held;
    held = undefined;
    await h?.release();
  };
  try {
    // What a prune holding the lock may leave for a moment: index files it is about to
    // delete. One that cannot be read stands for one that is gone by the time it is read.
    const doomed = path.join(t.repo, 'index', 'f'.repeat(64));
    await fs.writeFile(doomed, randomBytes(100));
    const waited = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CAIRN_BIN, ...t.g, 'backup', '--retry-lock', '60s', t.src], { env: { ...process.env, CAIRN_TEST_WEAK_KDF: '1', ...env } });
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/waiting for an exclusive lock/.test(stderr)) void fs.rm(doomed).then(release);
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    assert.equal(waited.code, 0, waited.stderr);
  } finally {
    await release();
    await lib.close();
  }
});

test('two backups from two processes, each while a prune runs: every snapshot restores byte for byte', async () => {
  const t = await makeRepo('16K');
  const other = path.join(t.dir, 'other');
  for (let gen = 0; gen < 3; gen++) {
    await writeSource(t.src, gen, 40);
    await t.backup(`2024-02-0${gen + 1} 09:00:00`);
  }
  for (let round = 0; round < 2; round++) {
    await t.ok(['forget', '--keep-last', '2']);
    // Both sources share most files with older snapshots, so the backups deduplicate against
    // blobs that the prune may be deleting or repacking.
    await writeSource(t.src, 10 + round, 40);
    await writeSource(other, 20 + round, 40);
    const [pruned, a, b] = await Promise.all([
      t.run(['prune', '--max-unused', '0%', '--retry-lock', '60s']),
      t.backup(`2024-03-0${round + 1} 09:00:00`, ['--retry-lock', '60s']),
      t.backup(`2024-03-0${round + 1} 09:30:00`, ['--retry-lock', '60s'], other),
    ]);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.ok(a && b);
  }
  const c = await checkReport(t, ['--read-data']);
  assert.equal(c.code, 0, JSON.stringify(c.problems));
  assert.deepEqual(c.problems.filter((p) => p.severity === 'error'), []);
  await restoreAll(t, 'after concurrent backups and prunes');
  // And once more after a final prune, which may now remove what the others kept.
  await t.ok(['prune', '--max-unused', '0%']);
  assert.deepEqual((await checkReport(t, ['--read-data'])).problems, []);
  await restoreAll(t, 'after the final prune');
});
