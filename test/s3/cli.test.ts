import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DeleteObjectCommand, HeadBucketCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { testS3 } from '../backends/ceph.js';
import { cairn, cairnStdout, diffDigests, treeDigest } from '../helpers.js';
import { makeFixtureTree } from '../e2e/fixture-tree.js';
import { deleteBucket, listKeys, PASSWORD_ENV, s3Client, s3Repo, summaryOf } from './s3-repo.js';

const env = PASSWORD_ENV;

describe('cairn on an S3 repository (Ceph)', () => {
  before(async () => {
    await testS3();
  });

  it('init creates the bucket; backup, snapshots --json, restore byte for byte and check --read-data', async () => {
    const r = await s3Repo('e2e');
    const client = s3Client(r.endpoint);
    try {
      await assert.rejects(client.send(new HeadBucketCommand({ Bucket: r.bucket })), 'the bucket does not exist before init');
      const init = await cairn([...r.g, 'init'], env);
      assert.equal(init.code, 0, init.stderr);
      assert.match(init.stdout, new RegExp(`created cairn repository [0-9a-f]{10} at ${r.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      assert.doesNotMatch(init.stderr, /Warning/, 'no AWS SDK warning on stderr');
      await client.send(new HeadBucketCommand({ Bucket: r.bucket }));

      const src = path.join(r.dir, 'src');
      await fs.mkdir(src);
      await makeFixtureTree(src);
      const b = await cairn([...r.g, 'backup', '--json', src], env);
      assert.equal(b.code, 0, b.stderr);
      const summary = summaryOf(b.stdout);
      assert.equal(summary.errors, 0);
      assert.equal(summary.retries, 0, 'no retries against a healthy server');
      assert.ok((summary.data_added as number) > 4 * 1024 * 1024, `added ${summary.data_added}`);

      const keys = await listKeys(client, r.bucket);
      assert.ok(keys.every((k) => k.startsWith(`${r.prefix}/`)), `every key under the prefix: ${keys.filter((k) => !k.startsWith(r.prefix)).join(', ')}`);
      for (const folder of ['data', 'index', 'snapshots', 'keys']) assert.ok(keys.some((k) => k.startsWith(`${r.prefix}/${folder}/`)), `something in ${folder}/`);

      const snaps = await cairn([...r.g, 'snapshots', '--json'], env);
      assert.equal(snaps.code, 0, snaps.stderr);
      const list = JSON.parse(snaps.stdout) as Array<{ id: string; paths: string[]; kind: string }>;
      assert.equal(list.length, 1);
      assert.equal(list[0].id, summary.snapshot_id);
      assert.deepEqual(list[0].paths, [src]);

      const target = path.join(r.dir, 'out');
      const rs = await cairn([...r.g, 'restore', 'latest', '--target', target, '--verify', '--json'], env);
      assert.equal(rs.code, 0, rs.stderr);
      const rsum = summaryOf(rs.stdout);
      assert.equal(rsum.errors, 0);
      assert.equal(rsum.retries, 0);
      const full = { times: true, owners: process.getuid?.() === 0, xattrs: true };
      assert.deepEqual(diffDigests(await treeDigest(src, full), await treeDigest(path.join(target, src), full)), []);

      const check = await cairn([...r.g, 'check', '--read-data'], env);
      assert.equal(check.code, 0, `check --read-data: ${check.stdout}${check.stderr}`);
    } finally {
      client.destroy();
      await deleteBucket(r.endpoint, r.bucket);
    }
  });

  it('a local repository copied offsite: init --from-repo and copy onto S3, restore from there; repair index on S3', async () => {
    const r = await s3Repo('offsite');
    const client = s3Client(r.endpoint);
    try {
      const local = ['--repo', path.join(r.dir, 'local'), '--cache-dir', path.join(r.dir, 'local-cache')];
      const src = path.join(r.dir, 'src');
      await fs.mkdir(src);
      await makeFixtureTree(src);
      assert.equal((await cairn([...local, 'init'], env)).code, 0);
      const first = summaryOf((await cairn([...local, 'backup', '--json', src], env)).stdout).snapshot_id;

      const from = { ...env, CAIRN_FROM_REPOSITORY: path.join(r.dir, 'local'), CAIRN_FROM_PASSWORD: env.CAIRN_PASSWORD };
      const init = await cairn([...r.g, 'init', '--from-repo', path.join(r.dir, 'local')], from);
      assert.equal(init.code, 0, init.stderr);
      const copy = await cairn([...r.g, 'copy', '--json'], from);
      assert.equal(copy.code, 0, copy.stderr);
      assert.equal(summaryOf(copy.stdout).snapshots_copied, 1);
      const again = summaryOf((await cairn([...r.g, 'copy', '--json'], from)).stdout);
      assert.equal(again.snapshots_copied, 0);
      assert.equal(again.snapshots_skipped, 1);

      const snaps = JSON.parse((await cairn([...r.g, 'snapshots', '--json'], env)).stdout) as { original?: string }[];
      assert.deepEqual(snaps.map((s) => s.original), [first]);
      const target = path.join(r.dir, 'out');
      const rs = await cairn([...r.g, 'restore', 'latest', '--target', target], env);
      assert.equal(rs.code, 0, rs.stderr);
      assert.deepEqual(diffDigests(await treeDigest(src), await treeDigest(path.join(target, src))), []);

      // An index object lost on the store: repair index rebuilds it from the packs' headers there.
      const index = (await listKeys(client, r.bucket, `${r.prefix}/index/`))[0];
      await client.send(new DeleteObjectCommand({ Bucket: r.bucket, Key: index }));
      const fresh = [...r.g.slice(0, 2), '--cache-dir', path.join(r.dir, 'fresh-cache')];
      assert.notEqual((await cairn([...fresh, 'check'], env)).code, 0);
      const repair = await cairn([...fresh, 'repair', 'index', '--json'], env);
      assert.equal(repair.code, 0, repair.stderr);
      assert.ok((summaryOf(repair.stdout).packs_from_header as number) > 0);
      const check = await cairn([...fresh, 'check', '--read-data'], env);
      assert.equal(check.code, 0, `check --read-data: ${check.stdout}${check.stderr}`);
    } finally {
      client.destroy();
      await deleteBucket(r.endpoint, r.bucket);
    }
  });

  it('an S3 repository as the source: copy into a plain local repository, and dump a directory as tar, both byte for byte', async () => {
    const r = await s3Repo('source');
    try {
      const src = path.join(r.dir, 'src');
      await fs.mkdir(src);
      await makeFixtureTree(src);
      assert.equal((await cairn([...r.g, 'init'], env)).code, 0);
      assert.equal((await cairn([...r.g, 'backup', src], env)).code, 0);

      // Plain init: another blob-id key, so every tree is written again with local ids.
      const local = ['--repo', path.join(r.dir, 'local'), '--cache-dir', path.join(r.dir, 'local-cache')];
      assert.equal((await cairn([...local, 'init'], env)).code, 0);
      const from = { ...env, CAIRN_FROM_REPOSITORY: r.url, CAIRN_FROM_PASSWORD: env.CAIRN_PASSWORD };
      const copy = await cairn([...local, 'copy', '--json'], from);
      assert.equal(copy.code, 0, copy.stderr);
      assert.equal(summaryOf(copy.stdout).snapshots_copied, 1);
      const target = path.join(r.dir, 'out');
      assert.equal((await cairn([...local, 'restore', 'latest', '--target', target], env)).code, 0);
      assert.deepEqual(diffDigests(await treeDigest(src), await treeDigest(path.join(target, src))), []);

      const tar = await cairnStdout([...r.g, 'dump', 'latest', path.join(src, 'docs')], env);
      const untarred = path.join(r.dir, 'untarred');
      await fs.mkdir(untarred);
      execFileSync('tar', ['-x', '-C', untarred], { input: tar });
      assert.deepEqual(diffDigests(await treeDigest(path.join(src, 'docs')), await treeDigest(path.join(untarred, 'docs'))), []);
    } finally {
      await deleteBucket(r.endpoint, r.bucket);
    }
  });

  it('--s3-storage-class puts data packs in that class and keeps metadata in STANDARD', async () => {
    const r = await s3Repo('class');
    const client = s3Client(r.endpoint);
    try {
      const g = [...r.g, '--s3-storage-class', 'COLD'];
      assert.equal((await cairn([...g, 'init'], env)).code, 0);
      const src = path.join(r.dir, 'src');
      await fs.mkdir(src);
      await fs.writeFile(path.join(src, 'a.txt'), 'some content\n'.repeat(1000));
      const b = await cairn([...g, 'backup', src], env);
      assert.equal(b.code, 0, b.stderr);
      // Listing snapshots must not need the cold data.
      assert.equal((await cairn([...g, 'snapshots'], env)).code, 0);

      const classes = new Map<string, string>();
      for (const key of await listKeys(client, r.bucket)) {
        const head = await client.send(new HeadObjectCommand({ Bucket: r.bucket, Key: key }));
        classes.set(key, head.StorageClass ?? 'STANDARD');
      }
      const data = [...classes].filter(([k]) => k.startsWith(`${r.prefix}/data/`));
      const meta = [...classes].filter(([k]) => !k.startsWith(`${r.prefix}/data/`));
      assert.ok(data.length >= 2, `data packs (file data and trees): ${data.length}`);
      assert.ok(meta.length >= 4, `config, key, index, snapshot: ${meta.length}`);
      assert.deepEqual(data.filter(([, c]) => c !== 'COLD'), [], 'every pack is COLD');
      assert.deepEqual(meta.filter(([, c]) => c !== 'STANDARD'), [], 'all metadata is STANDARD');
    } finally {
      client.destroy();
      await deleteBucket(r.endpoint, r.bucket);
    }
  });

  it('credentials from a shared credentials file, chosen by AWS_PROFILE', async () => {
    const r = await s3Repo('profile');
    const { accessKeyId, secretAccessKey } = await testS3();
    try {
      const file = path.join(r.dir, 'aws-credentials');
      await fs.writeFile(file, `[other]\naws_access_key_id = AKIDNOSUCHKEY0000000\naws_secret_access_key = x\n\n[cairn-test]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}\n`);
      const fromFile = { ...env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SHARED_CREDENTIALS_FILE: file, AWS_CONFIG_FILE: path.join(r.dir, 'no-config') };
      const init = await cairn([...r.g, 'init'], { ...fromFile, AWS_PROFILE: 'cairn-test' });
      assert.equal(init.code, 0, init.stderr);
      const listed = await cairn([...r.g, 'snapshots', '--json'], { ...fromFile, AWS_PROFILE: 'cairn-test' });
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(JSON.parse(listed.stdout), []);
      // The other profile's key is refused: the profile, not chance, picked the key.
      const other = await cairn([...r.g, 'snapshots'], { ...fromFile, AWS_PROFILE: 'other' });
      assert.equal(other.code, 1, other.stderr);
      assert.match(other.stderr, /S3 refused access/);
    } finally {
      await deleteBucket(r.endpoint, r.bucket);
    }
  });

  it('wrong credentials stop at once with exit code 1 and a message naming the bucket', async () => {
    const r = await s3Repo('creds');
    try {
      assert.equal((await cairn([...r.g, 'init'], env)).code, 0);
      const src = path.join(r.dir, 'src');
      await fs.mkdir(src);
      await fs.writeFile(path.join(src, 'f'), 'x');
      for (const [what, creds] of [
        ['unknown key', { AWS_ACCESS_KEY_ID: 'AKIDNOSUCHKEY0000000', AWS_SECRET_ACCESS_KEY: 'whatever' }],
        ['wrong secret', { AWS_SECRET_ACCESS_KEY: 'not-the-secret' }],
      ] as const) {
        for (const cmd of [['snapshots'], ['backup', src], ['restore', 'latest', '--target', path.join(r.dir, 'out')]]) {
          const started = Date.now();
          const res = await cairn([...r.g, ...cmd], { ...env, ...creds });
          const took = Date.now() - started;
          assert.equal(res.code, 1, `${what}, ${cmd[0]}: ${res.stderr}`);
          assert.match(res.stderr, new RegExp(`S3 refused access .*bucket "${r.bucket}".*access key and secret`), `${what}, ${cmd[0]}`);
          assert.doesNotMatch(res.stderr, /retrying/, 'not retried');
          assert.ok(took < 10_000, `${what}, ${cmd[0]} took ${took} ms`);
        }
      }
    } finally {
      await deleteBucket(r.endpoint, r.bucket);
    }
  });

  it('a missing bucket is "no repository" (exit code 10) naming the bucket, for every command but init', async () => {
    const r = await s3Repo('missing');
    const src = path.join(r.dir, 'src');
    await fs.mkdir(src);
    await fs.writeFile(path.join(src, 'f'), 'x');
    for (const cmd of [['snapshots'], ['snapshots', '--json'], ['backup', src], ['restore', 'latest', '--target', path.join(r.dir, 'out')]]) {
      const started = Date.now();
      const res = await cairn([...r.g, ...cmd], env);
      const took = Date.now() - started;
      assert.equal(res.code, 10, `${cmd.join(' ')}: ${res.stderr}`);
      const message = cmd.includes('--json') ? (JSON.parse(res.stdout.trim()) as { error: string }).error : res.stderr;
      assert.match(message, new RegExp(`S3 bucket "${r.bucket}" does not exist at ${r.endpoint}.*run init`), cmd.join(' '));
      assert.ok(took < 10_000, `${cmd.join(' ')} took ${took} ms`);
    }
    const client = s3Client(r.endpoint);
    try {
      await assert.rejects(client.send(new HeadBucketCommand({ Bucket: r.bucket })), 'no command but init creates the bucket');
    } finally {
      client.destroy();
    }
  });

  it('a bucket without a repository in it is "no repository" too', async () => {
    const r = await s3Repo('empty');
    const client = s3Client(r.endpoint);
    try {
      const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
      await client.send(new CreateBucketCommand({ Bucket: r.bucket }));
      const res = await cairn([...r.g, 'snapshots'], env);
      assert.equal(res.code, 10, res.stderr);
      assert.match(res.stderr, new RegExp(`no repository at ${r.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    } finally {
      client.destroy();
      await deleteBucket(r.endpoint, r.bucket);
    }
  });
});
