/**
 * Four hosts back up into one repository at once, while a `forget --prune` and a `check`
 * run: every command finishes (waiting on locks where it must), and every snapshot left
 * restores byte-identical.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cairn, diffDigests, EntryDigest, pseudoRandom, tempDir, treeDigest } from '../helpers.js';

const env = { CAIRN_PASSWORD: 'load' };
const HOSTS = ['alpha', 'bravo', 'charlie', 'delta'];

async function writeHostSource(src: string, host: number, generation: number) {
  await fs.mkdir(src, { recursive: true });
  for (let i = 0; i < 12; i++) {
    // Every host shares some files with the others, so their backups deduplicate against each other.
    const shared = i < 4;
    const seed = shared ? 1 + i + generation * 100 : 1000 * (host + 1) + i + generation * 100;
    await fs.writeFile(path.join(src, `f${i}.bin`), pseudoRandom(96 * 1024 + i * 7919, seed));
  }
}

test('four concurrent backups with forget --prune and check: all finish, every snapshot restores', async (tc) => {
  const dir = await tempDir('cairn-load-');
  const repo = path.join(dir, 'repo');
  const g = ['--repo', repo, '--cache-dir', path.join(dir, 'cache')];
  const run = (args: string[]) => cairn([...g, ...args], env, { timeoutMs: 120_000 });
  assert.equal((await run(['init', '--pack-size', '128K'])).code, 0);

  const expected = new Map<string, { src: string; digest: Map<string, EntryDigest> }>();
  const backup = async (h: number, extra: string[] = []) => {
    const src = path.join(dir, HOSTS[h]);
    const digest = await treeDigest(src);
    const r = await run(['backup', '--json', '--host', HOSTS[h], '--retry-lock', '2m', ...extra, src]);
    assert.equal(r.code, 0, `backup of ${HOSTS[h]}: ${r.stderr}`);
    const id = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((m) => m.message_type === 'summary').snapshot_id as string;
    expected.set(id, { src, digest });
    return id;
  };
  for (let h = 0; h < HOSTS.length; h++) {
    await writeHostSource(path.join(dir, HOSTS[h]), h, 0);
    await backup(h);
  }
  const seeded = new Set(expected.keys());
  for (let h = 0; h < HOSTS.length; h++) await writeHostSource(path.join(dir, HOSTS[h]), h, 1);

  const t0 = Date.now();
  const [prune, check, ...backups] = await Promise.all([
    // A moment later, so that it meets running backups rather than an idle repository.
    new Promise((r) => setTimeout(r, 300)).then(() => run(['forget', '--keep-last', '1', '--prune', '--max-unused', '0%', '--retry-lock', '2m'])),
    run(['check', '--retry-lock', '2m']),
    ...HOSTS.map((_, h) => backup(h)),
  ]);
  tc.diagnostic(`concurrent phase: ${Date.now() - t0} ms`);
  assert.equal(prune.code, 0, `forget --prune: ${prune.stderr}`);
  assert.equal(check.code, 0, `check: ${check.stderr}\n${check.stdout}`);
  assert.equal(new Set(backups).size, HOSTS.length);

  const left = JSON.parse((await run(['snapshots', '--json'])).stdout) as { id: string; host: string }[];
  // Every new snapshot is there. A host's old one is gone if forget ran after that host's
  // backup saved, and kept (as the last one then) if forget took its lock first.
  for (const id of backups) assert.ok(left.some((s) => s.id === id), `new snapshot ${id} kept: ${JSON.stringify(left)}`);
  for (const h of HOSTS) assert.ok([1, 2].includes(left.filter((s) => s.host === h).length), `${h}: ${JSON.stringify(left)}`);
  for (const s of left) assert.ok(expected.has(s.id), `snapshot ${s.id} is one the test made`);
  // The next forget --prune leaves only the new snapshots.
  assert.equal((await run(['forget', '--keep-last', '1', '--prune', '--max-unused', '0%'])).code, 0);
  const final = JSON.parse((await run(['snapshots', '--json'])).stdout) as { id: string }[];
  assert.deepEqual(final.map((s) => s.id).sort(), [...backups].sort());
  assert.ok(![...seeded].some((id) => final.some((s) => s.id === id)));

  const c = await run(['check', '--read-data', '--json']);
  assert.equal(c.code, 0, c.stdout);
  await Promise.all(
    final.map(async ({ id }) => {
      const want = expected.get(id)!;
      const target = path.join(dir, `restore-${id.slice(0, 8)}`);
      const r = await run(['restore', id, '--target', target]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(diffDigests(want.digest, await treeDigest(path.join(target, want.src))), []);
    }),
  );
});
