/**
 * Every parser of untrusted repository bytes, fed mutated and random inputs with a fixed
 * seed: each input must parse or fail with an ordinary Error, quickly, never crash the
 * process, hang, or allocate without bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pseudoRandom } from '../helpers.js';
import fc from 'fast-check';
import { decodePackHeader, encodePackHeader } from '../../repo/pack-format.js';
import { decodeIndex, encodeIndex } from '../../repo/index-format.js';
import { parseTree, serializeTree } from '../../repo/tree.js';
import { validateSnapshot } from '../../repo/snapshot.js';
import { parseKeyFile } from '../../repo/key-file.js';
import { validateConfig, newConfig } from '../../repo/config.js';
import { validateKdfParams } from '../../crypto/kdf.js';
import { openFile, sealFile } from '../../repo/sealed-file.js';

const RUNS = 10_000;
const SEED = 20261121;
/** Generous, so a loaded CI machine does not fail it; a hang or a quadratic blow-up still would. */
const PER_INPUT_MS = 2000;

/** Mutations of a valid sample: byte flips, truncation, extension, splices. */
function mutated(sample: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.array(fc.tuple(fc.nat(sample.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((flips) => {
      const b = Uint8Array.from(sample);
      for (const [at, v] of flips) b[at] = v;
      return b;
    }),
    fc.nat(sample.length).map((n) => sample.slice(0, n)),
    fc.uint8Array({ maxLength: 64 }).map((tail) => Uint8Array.from([...sample, ...tail])),
    fc.uint8Array({ maxLength: 512 }),
  );
}

function survive(name: string, sample: Uint8Array, parse: (b: Uint8Array) => unknown) {
  test(`fuzz: ${name} (${RUNS} inputs)`, () => {
    parse(sample); // the valid sample parses
    fc.assert(
      fc.property(mutated(sample), (input) => {
        const t0 = performance.now();
        try {
          parse(input);
        } catch (err) {
          assert.ok(err instanceof Error, `threw a non-Error: ${String(err)}`);
          // RangeError and TypeError mean the parser trusted a field it should have checked.
          assert.ok(!(err instanceof RangeError) && !(err instanceof TypeError), `${(err as Error).name}: ${(err as Error).message}`);
        }
        assert.ok(performance.now() - t0 < PER_INPUT_MS, 'took too long');
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
}

// Samples are built from seeded bytes, so a failure reproduces exactly.
let seed = 1;
const randomBytes = (n: number) => pseudoRandom(n, seed++);
const id = () => Uint8Array.from(randomBytes(32));
const entries = Array.from({ length: 4 }, (_, i) => ({ type: (i % 2 ? 'tree' : 'data') as 'tree' | 'data', id: id(), offset: i * 100, length: 100, rawLength: 300, compressed: i === 0 }));

survive('pack header', encodePackHeader(entries), (b) => decodePackHeader(b, 400));
survive('index file', encodeIndex({ supersedes: [randomBytes(32).toString('hex')], packs: [{ id: randomBytes(32).toString('hex'), size: 400, blobs: entries }] }), decodeIndex);

const t = '2020-01-01T00:00:00.000000000Z';
const tree = serializeTree({
  nodes: [
    { name: 'a', type: 'file', mode: 420, uid: 0, gid: 0, mtime: t, atime: t, ctime: t, size: 3, inode: 1, device: 1, links: 1, content: [randomBytes(32).toString('hex')] },
    { name: 'd', type: 'dir', mode: 493, uid: 0, gid: 0, mtime: t, atime: t, ctime: t, size: 0, inode: 2, device: 1, links: 1, subtree: randomBytes(32).toString('hex') },
  ],
});
survive('tree', tree, parseTree);

const snapshot = Buffer.from(JSON.stringify({ version: 1, time: new Date(0).toISOString(), host: 'h', user: 'u', paths: ['/x'], tags: [], kind: 'files', tree: randomBytes(32).toString('hex') }));
survive('snapshot', snapshot, (b) => validateSnapshot(JSON.parse(Buffer.from(b).toString('utf8'))));

const keyFile = Buffer.from(JSON.stringify({ version: 1, created: t, host: 'h', user: 'u', kdf: { name: 'argon2id', memoryKiB: 65536, iterations: 3, parallelism: 1, salt: randomBytes(16).toString('base64') }, data: randomBytes(104).toString('base64') }));
survive('key file', keyFile, (b) => validateKdfParams(parseKeyFile(b, 'keys/x').kdf));

const config = Buffer.from(JSON.stringify(newConfig(randomBytes(32).toString('hex'))));
survive('config', config, (b) => validateConfig(JSON.parse(Buffer.from(b).toString('utf8'))));

const key = Uint8Array.from(randomBytes(32));
survive('sealed file envelope', sealFile(key, Buffer.from('{"some":"json payload that compresses compresses compresses"}')), (b) => openFile(key, b, 'index/x'));
