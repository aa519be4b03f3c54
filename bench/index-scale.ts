/**
 * Index scale: a repository whose index lists 10 million blobs. Writes synthetic index
 * files through the real index format, lets the LevelDB cache ingest them, then measures
 * lookups per second, the time to open the repository with its index already cached,
 * and the peak RSS of each phase (each phase runs in its own process).
 *
 * Run: npm run build && node dist/bench/index-scale.js [DIR] [BLOBS]
 *   DIR    work directory (default /var/tmp/cairn-index-scale; wiped first)
 *   BLOBS  total index entries (default 10,000,000), written as index files of 10,000
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalBackend } from '../backends/local.js';
import { BlobEntry } from '../repo/blob.js';
import { objectName, toHex } from '../repo/hex.js';
import { encodeIndex, IndexedPack } from '../repo/index-format.js';
import { Repository } from '../repo/repository.js';
import { sealFile } from '../repo/sealed-file.js';

const PASSWORD = 'index-scale-bench';
const PER_FILE = 10_000;
const PER_PACK = 100;
const MiB = 1024 * 1024;

/** The id of synthetic blob i: recomputable, so the lookup phase needs no list of 10M ids. */
function blobId(i: number): Uint8Array {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64LE(BigInt(i));
  return createHash('sha256').update(b).digest();
}

function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/**
 * LevelDB maps its table files into memory, and pages it touched count in RSS although
 * they are page cache the kernel can drop. The anonymous part is what the process owns;
 * Linux keeps no peak of it, so it is sampled.
 */
let anonPeakKiB = 0;
function sampleAnon() {
  const m = /RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'));
  if (m) anonPeakKiB = Math.max(anonPeakKiB, Number(m[1]));
}

function report(phase: string, values: Record<string, string | number>) {
  sampleAnon();
  console.log(JSON.stringify({ phase, ...values, peakRssMiB: Math.round(peakRssMiB()), peakAnonRssMiB: Math.round(anonPeakKiB / 1024) }));
}

async function fill(dir: string, blobs: number) {
  const t0 = performance.now();
  const repo = await Repository.init(new LocalBackend(path.join(dir, 'repo')), PASSWORD, { cacheDir: path.join(dir, 'cache') });
  const files = Math.ceil(blobs / PER_FILE);
  for (let f = 0; f < files; f++) {
    const packs: IndexedPack[] = [];
    for (let first = f * PER_FILE; first < Math.min(blobs, (f + 1) * PER_FILE); first += PER_PACK) {
      const entries: BlobEntry[] = [];
      let offset = 0;
      for (let i = first; i < Math.min(blobs, first + PER_PACK); i++) {
        const length = 1000 + (i % 50_000);
        entries.push({ type: i % 100 === 0 ? 'tree' : 'data', id: blobId(i), offset, length, rawLength: length * 2, compressed: true });
        offset += length;
      }
      packs.push({ id: toHex(randomBytes(32)), size: offset + 1000, blobs: entries });
    }
    const stored = sealFile(repo.key.encrypt, encodeIndex({ supersedes: [], packs }));
    await repo.backend.save({ type: 'index', name: await objectName(stored) }, stored);
    if (f % 10 === 0) sampleAnon();
  }
  const written = performance.now();
  await repo.close();
  report('write index files', { indexFiles: files, blobs, seconds: +((written - t0) / 1000).toFixed(1) });
}

/** The first open, in a process of its own as a user's would be, reads every index file into the (empty) LevelDB cache. */
async function ingest(dir: string, blobs: number) {
  const t1 = performance.now();
  const sampler = setInterval(sampleAnon, 100);
  const again = await Repository.open(new LocalBackend(path.join(dir, 'repo')), PASSWORD, { cacheDir: path.join(dir, 'cache') });
  const ingested = performance.now();
  clearInterval(sampler);
  await again.close();
  report('ingest into the cache (first open)', { seconds: +((ingested - t1) / 1000).toFixed(1), blobsPerSecond: Math.round(blobs / ((ingested - t1) / 1000)) });
}

async function measure(dir: string, blobs: number) {
  const backend = new LocalBackend(path.join(dir, 'repo'));
  const t0 = performance.now();
  const repo = await Repository.open(backend, PASSWORD, { cacheDir: path.join(dir, 'cache') });
  const opened = performance.now();
  // The same again without the KDF, to show what the index part of opening costs.
  const s0 = performance.now();
  await repo.syncIndex();
  const synced = performance.now();
  report('open with the index cached', { seconds: +((opened - t0) / 1000).toFixed(2), syncIndexSeconds: +((synced - s0) / 1000).toFixed(2) });

  for (const batch of [1, 32, 256]) {
    for (const kind of ['hits', 'misses'] as const) {
      let found = 0;
      let done = 0;
      const start = performance.now();
      // About two seconds per measurement.
      while (performance.now() - start < 2000) {
        const ids = Array.from({ length: batch }, () => (kind === 'hits' ? blobId(Math.floor(Math.random() * blobs)) : randomBytes(32)));
        const got = await repo.index.lookupMany(ids);
        found += got.filter(Boolean).length;
        done += batch;
        if (done % 4096 < batch) sampleAnon();
      }
      const seconds = (performance.now() - start) / 1000;
      const expect = kind === 'hits' ? done : 0;
      if (found !== expect) throw new Error(`${kind}: found ${found} of ${done} ids, expected ${expect}`);
      report(`lookupMany ${kind}, batch ${batch}`, { lookupsPerSecond: Math.round(done / seconds) });
    }
  }
  await repo.close();
}

const self = fileURLToPath(import.meta.url);
const [phase, dirArg, blobsArg] = process.argv.slice(2);
if (phase === 'fill') await fill(dirArg, Number(blobsArg));
else if (phase === 'ingest') await ingest(dirArg, Number(blobsArg));
else if (phase === 'measure') await measure(dirArg, Number(blobsArg));
else {
  const dir = path.resolve(process.argv[2] ?? '/var/tmp/cairn-index-scale');
  const blobs = Number(process.argv[3] ?? 10_000_000);
  if (!Number.isSafeInteger(blobs) || blobs < PER_FILE) throw new Error(`BLOBS must be an integer of at least ${PER_FILE}`);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  console.log(`index scale: ${blobs} blobs in ${Math.ceil(blobs / PER_FILE)} index files under ${dir}; each phase in its own process`);
  for (const p of ['fill', 'ingest', 'measure']) {
    const r = spawnSync(process.execPath, [self, p, dir, String(blobs)], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  const du = spawnSync('du', ['-sb', path.join(dir, 'repo', 'index'), path.join(dir, 'cache')], { encoding: 'utf8' });
  for (const line of du.stdout.trim().split('\n')) {
    const [bytes, p] = line.split('\t');
    console.log(`${path.relative(dir, p)}: ${Math.round(Number(bytes) / MiB)} MiB`);
  }
}
