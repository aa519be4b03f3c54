import { it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { FaultProxy } from '../backends/fault-proxy.js';
import { cairn, diffDigests, treeDigest } from '../helpers.js';
import { deleteBucket, jsonLines, PASSWORD_ENV, s3Repo, summaryOf } from './s3-repo.js';
import { writeRandomTree } from './tree-data.js';
import { testS3 } from '../backends/ceph.js';

const env = PASSWORD_ENV;
const TREE_BYTES = 210 * 1024 * 1024;

it('backup and restore of 210 MiB through a faulty link (5xx, SlowDown, resets, 2 s delays) are complete and byte-identical, with retries counted', { timeout: 300_000 }, async (t) => {
  const server = await testS3();
  // 10% of requests fail with 500/503 (a third of them SlowDown), 2% lose their
  // connection mid-response, 5% wait up to 2 s.
  const proxy = new FaultProxy({ target: server.endpoint, seed: 7, rates: { error: 0.1, slowDown: 0.35, reset: 0.02, delay: 0.05, maxDelayMs: 2000 } });
  const proxyUrl = await proxy.start();
  const r = await s3Repo('faults', proxyUrl);
  try {
    const src = path.join(r.dir, 'src');
    const made = await writeRandomTree(src, TREE_BYTES, 'faults');
    const g = [...r.g, '--connections', '8'];

    // 4 MiB packs: more uploads, so the backup meets faults as surely as the restore.
    const init = await cairn([...g, 'init', '--pack-size', '4M'], env);
    assert.equal(init.code, 0, init.stderr);

    const b = await cairn([...g, 'backup', '--json', src], env, { timeoutMs: 200_000 });
    assert.equal(b.code, 0, b.stderr);
    const bsum = summaryOf(b.stdout);
    assert.equal(bsum.errors, 0);
    assert.equal(bsum.total_files_processed, made.files);
    assert.equal(bsum.total_bytes_processed, made.bytes);
    const bRetryLines = jsonLines(b.stdout).filter((m) => m.message_type === 'retry');
    assert.ok((bsum.retries as number) > 0, `backup retried: ${JSON.stringify(bsum)}`);
    assert.equal(bRetryLines.length, bsum.retries, 'one retry line per counted retry');
    assert.ok(bRetryLines.every((m) => typeof m.reason === 'string' && typeof m.op === 'string'), 'retry lines name op and reason');

    const target = path.join(r.dir, 'out');
    const rs = await cairn([...g, 'restore', 'latest', '--target', target, '--json'], env, { timeoutMs: 200_000 });
    assert.equal(rs.code, 0, rs.stderr);
    const rsum = summaryOf(rs.stdout);
    assert.equal(rsum.errors, 0);
    assert.equal(rsum.bytes_restored, made.bytes);
    assert.ok((rsum.retries as number) > 0, `restore retried: ${JSON.stringify(rsum)}`);
    assert.deepEqual(diffDigests(await treeDigest(src), await treeDigest(path.join(target, src))), []);

    const reasons = { ...(bsum.retry_reasons as Record<string, number>) };
    for (const [k, v] of Object.entries(rsum.retry_reasons as Record<string, number>)) reasons[k] = (reasons[k] ?? 0) + v;
    t.diagnostic(`proxy ${JSON.stringify(proxy.counts)}; backup retries ${bsum.retries}, restore retries ${rsum.retries}; reasons ${JSON.stringify(reasons)}`);
    assert.ok(proxy.counts.errors > 0 && proxy.counts.resets > 0 && proxy.counts.delays > 0, `every kind of fault injected: ${JSON.stringify(proxy.counts)}`);
    assert.ok((reasons.SlowDown ?? 0) > 0, `SlowDown retried: ${JSON.stringify(reasons)}`);
  } finally {
    await proxy.stop();
    await deleteBucket(r.endpoint, r.bucket);
  }
});
