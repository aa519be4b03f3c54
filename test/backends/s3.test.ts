import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { parseS3Url, S3Backend } from '../../backends/s3.js';
import { openBackend } from '../../backends/open.js';
import { RetryBackend } from '../../backends/retry.js';
import { backendConformance, listAll, nameOf } from './conformance.js';
import { testS3, uniqueBucket } from './ceph.js';
import { FaultProxy } from './fault-proxy.js';

describe('parseS3Url', () => {
  it('parses AWS locations', () => {
    assert.deepEqual(parseS3Url('s3://my-bucket'), { bucket: 'my-bucket', prefix: '', pathStyle: false });
    assert.deepEqual(parseS3Url('s3://my-bucket/a/b/'), { bucket: 'my-bucket', prefix: 'a/b', pathStyle: false });
  });

  it('parses custom endpoints, which imply path-style', () => {
    assert.deepEqual(parseS3Url('s3:https://s3.example.org/bkt/repo'), { endpoint: 'https://s3.example.org', bucket: 'bkt', prefix: 'repo', pathStyle: true });
    assert.deepEqual(parseS3Url('s3:http://127.0.0.1:7480/bkt'), { endpoint: 'http://127.0.0.1:7480', bucket: 'bkt', prefix: '', pathStyle: true });
    assert.deepEqual(parseS3Url('s3:http://[::1]:9000/bkt/x'), { endpoint: 'http://[::1]:9000', bucket: 'bkt', prefix: 'x', pathStyle: true });
  });

  it('rejects bad locations with a message naming the problem', () => {
    assert.throws(() => parseS3Url('s3://ab/x'), /bucket name "ab"/);
    assert.throws(() => parseS3Url('s3://Upper/x'), /bucket name "Upper"/);
    assert.throws(() => parseS3Url('s3://bucket/a//b'), /prefix/);
    assert.throws(() => parseS3Url('s3://bucket/../b'), /prefix/);
    assert.throws(() => parseS3Url('s3:ftp://host/bucket'), /expected s3:\/\/bucket/);
    assert.throws(() => parseS3Url('s3:https://key:secret@host/bucket'), /credentials/);
    assert.throws(() => parseS3Url('s3:https://host'), /bucket name ""/);
  });

  it('openBackend applies --s3-endpoint and an explicit path-style choice', async () => {
    const b = await openBackend('s3://bucket/repo', { s3: { endpoint: 'http://127.0.0.1:1' } });
    assert.ok(b instanceof RetryBackend);
    assert.equal(b.location(), 's3:http://127.0.0.1:1/bucket/repo');
    await assert.rejects(() => openBackend('s3:http://a/bucket', { s3: { endpoint: 'http://b' } }), /given twice/);
  });
});

backendConformance('s3 (Ceph RGW)', async () => {
  const s3 = await testS3();
  return new S3Backend({ endpoint: s3.endpoint, bucket: uniqueBucket('conf'), prefix: 'repo/one', pathStyle: true }, { connections: 16 });
});

describe('S3 backend on Ceph', () => {
  it('uses the documented key layout under the prefix, and prefixes do not see each other', async () => {
    const s3 = await testS3();
    const bucket = uniqueBucket('layout');
    const a = new S3Backend({ endpoint: s3.endpoint, bucket, prefix: 'a', pathStyle: true });
    const b = new S3Backend({ endpoint: s3.endpoint, bucket, prefix: 'b/c', pathStyle: true });
    try {
      await a.create();
      await b.create();
      const data = new TextEncoder().encode('pack');
      const id = nameOf(data);
      for (const type of ['data', 'index', 'snapshots', 'keys', 'locks'] as const) await a.save({ type, name: id }, data);
      await a.save({ type: 'config', name: '' }, data);
      await b.save({ type: 'index', name: id }, data);

      const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true });
      const keys = ((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key).sort();
      client.destroy();
      assert.deepEqual(keys, ['a/config', `a/data/${id.slice(0, 2)}/${id}`, `a/index/${id}`, `a/keys/${id}`, `a/locks/${id}`, `a/snapshots/${id}`, `b/c/index/${id}`]);
      assert.equal(await b.isRepository(), false);
      assert.deepEqual(await listAll(b, 'data'), []);
      assert.deepEqual((await listAll(b, 'index')).map((o) => o.name), [id]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('the server refuses an upload damaged on the way, for named-by-content objects and for locks', async () => {
    const s3 = await testS3();
    const bucket = uniqueBucket('damage');
    // Uploads of objects (a key below the bucket) are damaged; creating the bucket is not.
    const isUpload = (req: { method?: string; url?: string }) => req.method === 'PUT' && new URL(req.url ?? '/', 'http://x').pathname.split('/').filter(Boolean).length > 1;
    const proxy = new FaultProxy({ target: s3.endpoint, choose: (req) => ({ kind: isUpload(req) ? 'corrupt' : 'pass' }) });
    const b = new S3Backend({ endpoint: await proxy.start(), bucket, prefix: '', pathStyle: true });
    const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true });
    try {
      await b.create();
      const data = new TextEncoder().encode('bytes that must arrive as they were sent');
      const id = nameOf(data);
      await assert.rejects(b.save({ type: 'data', name: id }, data));
      await assert.rejects(b.save({ type: 'locks', name: id }, data));
      const puts = proxy.requests.filter((r) => r.fault === 'corrupt');
      assert.equal(puts.length, 2, `both uploads went through the proxy damaged: ${JSON.stringify(proxy.requests)}`);
      const keys = ((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key);
      assert.deepEqual(keys, [], 'nothing damaged was stored');

      // Damage on the way is worth a retry: the second attempt goes through intact.
      let damaged = 0;
      const once = new FaultProxy({ target: s3.endpoint, choose: (req) => ({ kind: isUpload(req) && damaged++ === 0 ? 'corrupt' : 'pass' }) });
      const retrying = new RetryBackend(new S3Backend({ endpoint: await once.start(), bucket, prefix: '', pathStyle: true }), { baseDelayMs: 1, maxDelayMs: 5 });
      try {
        await retrying.save({ type: 'data', name: id }, data);
        assert.deepEqual(Buffer.from(await retrying.load({ type: 'data', name: id })), Buffer.from(data));
        assert.equal(once.requests.filter((r) => r.fault === 'corrupt').length, 1);
      } finally {
        await retrying.close();
        await once.stop();
      }
    } finally {
      client.destroy();
      await b.close();
      await proxy.stop();
    }
  });

  it('gives only data objects the configured storage class', async () => {
    const s3 = await testS3();
    const bucket = uniqueBucket('class');
    // start-ceph.sh defines the storage class COLD.
    const b = new S3Backend({ endpoint: s3.endpoint, bucket, prefix: '', pathStyle: true }, { storageClass: 'COLD' });
    const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true });
    try {
      await b.create();
      const data = new TextEncoder().encode('bytes');
      const id = nameOf(data);
      await b.save({ type: 'data', name: id }, data);
      await b.save({ type: 'index', name: id }, data);
      await b.save({ type: 'locks', name: id }, data);
      const classOf = async (Key: string) => (await client.send(new HeadObjectCommand({ Bucket: bucket, Key }))).StorageClass ?? 'STANDARD';
      assert.equal(await classOf(`data/${id.slice(0, 2)}/${id}`), 'COLD');
      assert.equal(await classOf(`index/${id}`), 'STANDARD');
      assert.equal(await classOf(`locks/${id}`), 'STANDARD');
    } finally {
      client.destroy();
      await b.close();
    }
  });
});
