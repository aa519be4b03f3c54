import { it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FaultProxy } from '../backends/fault-proxy.js';
import { tallyRequests, RequestTally } from '../backends/s3-requests.js';
import { cairn } from '../helpers.js';
import { testS3 } from '../backends/ceph.js';
import { deleteBucket, listKeys, PASSWORD_ENV, s3Client, s3Repo } from './s3-repo.js';
import { writeRandomFile, writeRandomTree } from './tree-data.js';

const env = PASSWORD_ENV;
const sum = (t: RequestTally, prefix: string) => Object.entries(t).filter(([k]) => k.startsWith(prefix)).reduce((n, [, v]) => n + v, 0);

it('S3 requests per backup: one PUT per pack plus a constant few, no LIST of data/, and ranged pack reads on restore', { timeout: 180_000 }, async () => {
  const server = await testS3();
  const proxy = new FaultProxy({ target: server.endpoint });
  const url = await proxy.start();
  const r = await s3Repo('requests', url);
  const client = s3Client(server.endpoint);
  const packKeys = async () => new Set(await listKeys(client, r.bucket, `${r.prefix}/data/`));
  const run = async (args: string[]) => {
    proxy.requests.length = 0;
    const res = await cairn([...r.g, ...args], env);
    assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
    return tallyRequests(proxy.requests, r.bucket, r.prefix);
  };
  try {
    const src = path.join(r.dir, 'src');
    await writeRandomTree(src, 48 << 20, 'requests');
    const init = await run(['init', '--pack-size', '4M']);
    assert.deepEqual([init['PUT bucket'], init['PUT config'], init['PUT keys'], sum(init, 'PUT')], [1, 1, 1, 3], `init: ${JSON.stringify(init)}`);

    const first = await run(['backup', src]);
    const packsAfterFirst = await packKeys();
    assert.ok(packsAfterFirst.size >= 6, `several packs: ${packsAfterFirst.size}`);
    assert.equal(first['PUT data'], packsAfterFirst.size, `one PUT per pack: ${JSON.stringify(first)}`);
    assert.equal(first['PUT index'], 1);
    assert.equal(first['PUT snapshots'], 1);
    assert.equal(first['LIST data'] ?? 0, 0, 'no listing of data/');
    assert.equal(first['GET data'] ?? 0, 0, 'a first backup reads no packs');

    const second = await run(['backup', src]);
    assert.equal(second['LIST data'] ?? 0, 0, `no listing of data/ with a warm cache: ${JSON.stringify(second)}`);
    assert.equal(second['GET index'] ?? 0, 0, 'the warm cache already knows every index file');
    assert.ok((second['PUT data'] ?? 0) <= 1, 'at most a tree pack when nothing changed');
    assert.ok((second['GET data'] ?? 0) <= 2, `parent trees come from one read per page of a tree pack: ${second['GET data']}`);
    assert.ok(sum(second, 'PUT') - (second['PUT locks'] ?? 0) <= 3, `a tree pack, an index and a snapshot at most: ${JSON.stringify(second)}`);
    assert.ok((second['PUT locks'] ?? 0) <= 2, 'a lock, perhaps refreshed once');
    assert.ok(sum(second, '') <= 24, `a constant few requests in all (no per-file or per-blob requests): ${JSON.stringify(second)}`);

    await writeRandomFile(path.join(src, 'large/l0.bin'), 6 << 20, 'changed');
    const before = await packKeys();
    const third = await run(['backup', src]);
    const added = [...(await packKeys())].filter((k) => !before.has(k));
    assert.equal(third['PUT data'], added.length, `one PUT per new pack: ${JSON.stringify(third)}`);
    assert.ok(added.length >= 2 && added.length <= 4, `new packs for 6 MiB of new data and the trees: ${added.length}`);
    assert.equal(third['LIST data'] ?? 0, 0);
    // Two snapshots to read for the parent: the one read before comes from the local cache.
    assert.equal(third['GET snapshots'], 1, `only the snapshot not read before: ${JSON.stringify(third)}`);

    const restore = await run(['restore', 'latest', '--target', path.join(r.dir, 'out')]);
    assert.equal(restore['GET snapshots'], 1, `three snapshots, two of them cached: ${JSON.stringify(restore)}`);
    const packs = (await packKeys()).size;
    // The restorer reads packs in ranges of at most 4 MiB: with 4 MiB packs, one or two per pack.
    assert.ok((restore['GET data'] ?? 0) <= 2 * packs, `reads per pack, not per blob: ${restore['GET data']} reads, ${packs} packs`);
    const restored = await fs.stat(path.join(r.dir, 'out', src, 'large/l0.bin'));
    assert.equal(restored.size, 6 << 20);
  } finally {
    client.destroy();
    await proxy.stop();
    await deleteBucket(server.endpoint, r.bucket);
  }
});
