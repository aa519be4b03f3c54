/**
 * Counts the S3 requests cairn makes per command, by kind and repository folder, through
 * a counting proxy (the test fault proxy with faults off) in front of a local Ceph:
 * init, a first backup of a ~1 GiB tree, an unchanged backup with a warm cache, a backup
 * after 2% of the files changed, an unchanged backup with an empty cache, and a restore.
 *
 * Run: npm run build && node dist/bench/s3-requests.js [MiB]      (default 1024)
 * The S3 server is the one test/ceph/start-ceph.sh starts (or CAIRN_TEST_S3_ENDPOINT with
 * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY). The tree is generated once (incompressible,
 * deterministic) under $BENCH_DATA (default /var/tmp/cairn-bench-data)/s3-requests-<MiB>.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FaultProxy } from '../test/backends/fault-proxy.js';
import { tallyRequests, RequestTally } from '../test/backends/s3-requests.js';
import { cairn, tempDir } from '../test/helpers.js';
import { deleteBucket, listKeys, s3Client, s3Repo } from '../test/s3/s3-repo.js';
import { writeRandomFile, writeRandomTree } from '../test/s3/tree-data.js';
import { testS3 } from '../test/backends/ceph.js';

const MiB = 1 << 20;
const mib = Number(process.argv[2] ?? 1024);
if (!Number.isInteger(mib) || mib < 16) throw new Error(`give the tree size in MiB (at least 16), not ${process.argv[2]}`);

const data = path.join(process.env.BENCH_DATA ?? '/var/tmp/cairn-bench-data', `s3-requests-${mib}`);
const src = path.join(data, 'tree');
const env = { CAIRN_PASSWORD: 'bench-password-not-secret' };

async function ensureTree(): Promise<void> {
  if (await fs.stat(path.join(data, 'complete')).then(() => true, () => false)) return;
  console.error(`generating ${mib} MiB in ${src} (once)`);
  await fs.rm(data, { recursive: true, force: true });
  await writeRandomTree(src, mib * MiB, 'requests');
  await fs.writeFile(path.join(data, 'complete'), '');
}

/** Rewrites every 50th file (about 2% of files and bytes) with new content of the same size. */
async function changeTwoPercent(root: string): Promise<number> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else files.push(p);
    }
  };
  await walk(root);
  files.sort();
  let bytes = 0;
  for (let i = 49; i < files.length; i += 50) {
    const { size } = await fs.stat(files[i]);
    await writeRandomFile(files[i], size, `changed:${files[i]}`);
    bytes += size;
  }
  return bytes;
}

async function main(): Promise<void> {
  const server = await testS3();
  await ensureTree();
  const work = await tempDir('cairn-s3-requests-');
  const tree = path.join(work, 'tree');
  await fs.cp(src, tree, { recursive: true });

  const proxy = new FaultProxy({ target: server.endpoint });
  const url = await proxy.start();
  const r = await s3Repo('requests', url);
  const client = s3Client(server.endpoint);
  const phases: Array<{ name: string; tally: RequestTally; seconds: number; newPacks: number }> = [];
  const dataKeys = async () => (await listKeys(client, r.bucket, `${r.prefix}/data/`).catch(() => [])).length;

  const run = async (name: string, args: string[], cacheDir = path.join(work, 'cache')) => {
    proxy.requests.length = 0;
    const before = await dataKeys();
    const started = Date.now();
    const res = await cairn(['--repo', r.url, '--cache-dir', cacheDir, '--quiet', ...args], env, { timeoutMs: 3_600_000 });
    if (res.code !== 0) throw new Error(`${name} failed (${res.code}): ${res.stderr}`);
    phases.push({ name, tally: tallyRequests(proxy.requests, r.bucket, r.prefix), seconds: (Date.now() - started) / 1000, newPacks: (await dataKeys()) - before });
    console.error(`${name}: ${proxy.requests.length} requests in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  };

  try {
    await run('init', ['init']);
    await run('first backup', ['backup', tree]);
    await run('unchanged, warm cache', ['backup', tree]);
    const changed = await changeTwoPercent(tree);
    console.error(`changed ${(changed / MiB).toFixed(1)} MiB`);
    await run('2% changed', ['backup', tree]);
    await run('unchanged, empty cache', ['backup', tree], path.join(work, 'cache-empty'));
    await run('restore', ['restore', 'latest', '--target', path.join(work, 'restored')]);
    print(phases);
  } finally {
    client.destroy();
    await proxy.stop();
    await deleteBucket(server.endpoint, r.bucket);
    await fs.rm(work, { recursive: true, force: true });
  }
}

function print(phases: Array<{ name: string; tally: RequestTally; seconds: number; newPacks: number }>): void {
  const order = ['PUT', 'GET', 'HEAD', 'LIST', 'DELETE', 'POST'];
  const rows = [...new Set(phases.flatMap((p) => Object.keys(p.tally)))].sort((a, b) => {
    const [ma, fa] = a.split(' ');
    const [mb, fb] = b.split(' ');
    return order.indexOf(ma) - order.indexOf(mb) || fa.localeCompare(fb);
  });
  console.log(`S3 requests per command, ${mib} MiB tree of incompressible files\n`);
  console.log(`| request | ${phases.map((p) => p.name).join(' | ')} |`);
  console.log(`|---|${phases.map(() => '---:').join('|')}|`);
  for (const row of rows) console.log(`| ${row} | ${phases.map((p) => p.tally[row] ?? 0).join(' | ')} |`);
  console.log(`| **all** | ${phases.map((p) => Object.values(p.tally).reduce((a, b) => a + b, 0)).join(' | ')} |`);
  console.log(`| new pack objects | ${phases.map((p) => p.newPacks).join(' | ')} |`);
  console.log(`| seconds | ${phases.map((p) => p.seconds.toFixed(1)).join(' | ')} |`);
}

await main();
