import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cairn, pseudoRandom, tempDir } from '../helpers.js';
import { makeFixtureTree } from '../e2e/fixture-tree.js';
import { makeDiskImage, PARTITION_1 } from './disk-image.js';
import { requireTool, startCairn } from './long-running.js';

const env = { CAIRN_PASSWORD: 'correct horse' };

async function repoWith(dir: string) {
  const g = ['--repo', path.join(dir, 'repo'), '--cache-dir', path.join(dir, 'cache')];
  assert.equal((await cairn([...g, 'init'], env)).code, 0);
  return g;
}

function run(cmd: string, args: string[], extraEnv: Record<string, string> = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...extraEnv }, maxBuffer: 64 << 20 });
}

const sums = (root: string) => execFileSync('sh', ['-c', 'find . -type f -print0 | sort -z | xargs -0 sha256sum'], { cwd: root, encoding: 'utf8' });

test('WebDAV: rclone lists and copies a snapshot directory; curl sees PROPFIND, ranges, read-only answers and auth', async () => {
  requireTool('rclone', 'rclone');
  requireTool('curl', 'curl');
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await makeFixtureTree(src);
  const g = await repoWith(dir);
  assert.equal((await cairn([...g, 'backup', src], env)).code, 0);

  const s = await startCairn([...g, 'serve', 'webdav', '--listen', '127.0.0.1:0'], env, /serving WebDAV on http:\/\/127\.0\.0\.1:\d+/);
  try {
    const url = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(s.output())![1];
    const rcloneEnv = { RCLONE_CONFIG_CAIRN_TYPE: 'webdav', RCLONE_CONFIG_CAIRN_URL: url, RCLONE_CONFIG: '/dev/null' };
    const inside = `cairn:ids/latest${src}`;

    const lsf = run('rclone', ['lsf', inside], rcloneEnv);
    assert.equal(lsf.status, 0, lsf.stderr);
    // Links are followed (link -> docs/deep/small.txt); dangling links, the fifo and devices have no WebDAV form.
    const names = lsf.stdout.split('\n').filter(Boolean).sort();
    for (const n of ['docs/', 'dup-a.bin', 'empty', 'hardlink', 'link', 'private.txt', 'sparse.img']) assert.ok(names.includes(n), `${n} in ${names}`);
    for (const n of ['dangling', 'fifo', 'null-dev']) assert.ok(!names.includes(n), `${n} is listed`);

    const out = path.join(dir, 'copied');
    const copy = run('rclone', ['copy', `${inside}/docs`, out], rcloneEnv);
    assert.equal(copy.status, 0, copy.stderr);
    assert.equal(sums(out), sums(path.join(src, 'docs')));

    const href = `${url}/ids/latest${src}/docs/deep/er/random.bin`;
    const random = pseudoRandom(3 * 1024 * 1024 + 17, 7);
    const ranged = run('curl', ['-sS', '-r', '1000000-1000099', '-o', '-', '-w', '\n%{http_code}', href]);
    const status = ranged.stdout.slice(ranged.stdout.lastIndexOf('\n') + 1);
    assert.equal(status, '206');
    const body = execFileSync('curl', ['-sS', '-r', '1000000-1000099', href]);
    assert.deepEqual(body, random.subarray(1000000, 1000100));
    const tail = execFileSync('curl', ['-sS', '-r', '-17', href]);
    assert.deepEqual(tail, random.subarray(random.length - 17));

    const propfind = run('curl', ['-sS', '-X', 'PROPFIND', '-H', 'Depth: 1', `${url}/ids/latest${src}/docs/deep/`]);
    assert.match(propfind.stdout, /<D:multistatus/);
    assert.match(propfind.stdout, /<D:href>[^<]*\/docs\/deep\/small\.txt<\/D:href>.*<D:getcontentlength>6<\/D:getcontentlength>/s);
    assert.match(propfind.stdout, /<D:href>[^<]*\/docs\/deep\/er\/<\/D:href>.*<D:collection\/>/s);
    const status0 = (method: string, extra: string[], target: string) => run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', method, ...extra, target]).stdout;
    assert.equal(status0('PROPFIND', ['-H', 'Depth: 0'], `${url}/`), '207');
    assert.equal(status0('PROPFIND', ['-H', 'Depth: infinity'], `${url}/`), '403');
    assert.equal(status0('OPTIONS', [], `${url}/`), '200');
    for (const m of ['PUT', 'DELETE', 'MKCOL', 'MOVE', 'PROPPATCH', 'LOCK']) assert.equal(status0(m, [], href), '405', m);
    assert.equal(status0('GET', [], `${url}/ids/nothing-here`), '404');
    assert.equal(status0('GET', ['-r', '99999999-'], href), '416');
  } finally {
    assert.equal(await s.stop(), 0, s.output());
  }

  const authed = await startCairn([...g, 'serve', 'webdav', '--listen', '127.0.0.1:0', '--user', 'ann', '--password-env', 'DAV_PW'], { ...env, DAV_PW: 's3cret' }, /serving WebDAV/);
  try {
    const url = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(authed.output())![1];
    const code = (extra: string[]) => run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PROPFIND', '-H', 'Depth: 0', ...extra, `${url}/`]).stdout;
    assert.equal(code([]), '401');
    assert.equal(code(['-u', 'ann:wrong']), '401');
    assert.equal(code(['-u', 'ann:s3cret']), '207');
  } finally {
    await authed.stop();
  }
});

test('NBD: qemu-img sees the image snapshot, and one partition, byte for byte; writes are refused', async () => {
  requireTool('qemu-img', 'qemu-utils');
  requireTool('qemu-io', 'qemu-utils');
  const dir = await tempDir();
  const img = path.join(dir, 'disk.img');
  await makeDiskImage(img);
  const g = await repoWith(dir);
  const b = await cairn([...g, 'backup', '--image', img], env);
  assert.equal(b.code, 0, b.stderr);

  const s = await startCairn([...g, 'serve', 'nbd', 'latest', '--listen', '127.0.0.1:0'], env, /nbd:\/\/127\.0\.0\.1:\d+/);
  try {
    const url = /(nbd:\/\/127\.0\.0\.1:\d+)/.exec(s.output())![1];
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', url], { encoding: 'utf8' }));
    assert.equal(info['virtual-size'], (await fs.stat(img)).size);
    const cmp = run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', url, img]);
    assert.equal(cmp.status, 0, cmp.stdout + cmp.stderr);
    assert.match(cmp.stdout, /Images are identical/);
    const write = run('qemu-io', ['-f', 'raw', '-c', 'write -P 0xab 0 4096', url]);
    assert.ok(write.status !== 0 || /not permitted|read-only|denied/i.test(write.stdout + write.stderr), `a write went through: ${write.stdout}${write.stderr}`);
    assert.equal(run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', url, img]).status, 0, 'unchanged after the write attempt');
  } finally {
    assert.equal(await s.stop(), 0, s.output());
  }

  const part = path.join(dir, 'p1.img');
  await fs.writeFile(part, (await fs.readFile(img)).subarray(PARTITION_1.start, PARTITION_1.start + PARTITION_1.size));
  const p = await startCairn([...g, 'serve', 'nbd', 'latest', '--partition', '1', '--listen', '127.0.0.1:0'], env, /nbd:\/\/127\.0\.0\.1:\d+/);
  try {
    const url = /(nbd:\/\/127\.0\.0\.1:\d+)/.exec(p.output())![1];
    const cmp = run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', url, part]);
    assert.equal(cmp.status, 0, cmp.stdout + cmp.stderr);
  } finally {
    await p.stop();
  }
  const none = await cairn([...g, 'serve', 'nbd', 'latest', '--partition', '7', '--listen', '127.0.0.1:0'], env);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /no partition 7; it has 1/);
});
