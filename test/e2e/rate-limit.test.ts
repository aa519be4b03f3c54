import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cairn, tempDir } from '../helpers.js';

const env = { CAIRN_PASSWORD: 'pw' };

test('--limit-upload 512 paces a backup of 2 MiB to at least ~3 s, and the backup is complete', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await fs.writeFile(path.join(src, 'random.bin'), randomBytes(2 * 1024 * 1024));
  const g = ['-r', path.join(dir, 'repo'), '--cache-dir', path.join(dir, 'cache')];
  const init = await cairn([...g, 'init'], env);
  assert.equal(init.code, 0, init.stderr);

  const t0 = performance.now();
  const b = await cairn(['--limit-upload', '512', ...g, 'backup', src], env);
  const ms = performance.now() - t0;
  assert.equal(b.code, 0, b.stderr);
  t.diagnostic(`limited backup: ${ms.toFixed(0)} ms`);
  // At least 2 MiB of incompressible packs at 512 KiB/s, less one 64 KiB burst: 3.9 s.
  assert.ok(ms >= 3_000, `backup took ${ms.toFixed(0)} ms`);

  const check = await cairn(['--limit-download', '100000', ...g, 'check', '--read-data'], env);
  assert.equal(check.code, 0, check.stderr);
});

// '-5' goes as --flag=-5: on its own it would be read as a flag.
for (const args of [['--limit-upload', '0'], ['--limit-upload', 'abc'], ['--limit-download=-5'], ['--limit-download', '1.5']]) {
  const [flag, value] = args.length === 2 ? args : args[0].split('=');
  test(`${args.join(' ')} is a usage error`, async () => {
    const dir = await tempDir();
    const r = await cairn([...args, '-r', path.join(dir, 'repo'), 'init'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^error: ${flag} takes a whole number of KiB/s, at least 1 .*not "${value.replace('.', '\\.')}"\\n$`));
    await assert.rejects(fs.access(path.join(dir, 'repo', 'config')), 'nothing was created');
  });
}
