import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BlobEntry } from '../../repo/blob.js';
import { decodePackHeader, encodePackHeader } from '../../repo/pack-format.js';
import { decodeIndex, encodeIndex } from '../../repo/index-format.js';
import { parseTree, serializeTree, TreeNode } from '../../repo/tree.js';
import { nsToRfc3339, rfc3339ToNs } from '../../repo/time-format.js';
import { compileExcludes } from '../../repo/exclude.js';

const entry = (i: number): BlobEntry => ({ type: i % 2 ? 'tree' : 'data', id: Uint8Array.from(randomBytes(32)), offset: i * 1000, length: 1000, rawLength: 5000 + i, compressed: i % 2 === 0 });

test('pack headers round-trip and reject entries outside the pack', () => {
  const entries = Array.from({ length: 10 }, (_, i) => entry(i));
  const bytes = encodePackHeader(entries);
  assert.deepEqual(decodePackHeader(bytes, 10_000), entries);
  assert.throws(() => decodePackHeader(bytes, 9_999), /outside the pack/);
  assert.throws(() => decodePackHeader(bytes.subarray(0, bytes.length - 1), 10_000), /does not match/);
  const bad = Uint8Array.from(bytes);
  bad[5] = 7;
  assert.throws(() => decodePackHeader(bad, 10_000), /unknown blob type/);
});

test('index files round-trip, with superseded ids, and reject truncation', () => {
  const idx = {
    supersedes: [randomBytes(32).toString('hex')],
    packs: [
      { id: randomBytes(32).toString('hex'), size: 20_000, blobs: [entry(0), entry(1)] },
      { id: randomBytes(32).toString('hex'), size: 2 ** 33, blobs: [entry(2)] },
    ],
  };
  const bytes = encodeIndex(idx);
  assert.deepEqual(decodeIndex(bytes), idx);
  for (const cut of [3, 10, bytes.length - 1]) assert.throws(() => decodeIndex(bytes.subarray(0, cut)));
});

const node = (name: string, extra: Partial<TreeNode> = {}): TreeNode => ({
  name, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: '2020-01-01T00:00:00.000000000Z', atime: '2020-01-01T00:00:00.000000000Z',
  ctime: '2020-01-01T00:00:00.000000000Z', size: 0, inode: 1, device: 1, links: 1, content: [], ...extra,
});

test('trees serialize canonically: order of nodes and fields does not matter', () => {
  const a = serializeTree({ nodes: [node('b'), node('a')] });
  const reordered = node('b');
  const shuffled = Object.fromEntries(Object.entries(reordered).reverse()) as unknown as TreeNode;
  const b = serializeTree({ nodes: [node('a'), shuffled] });
  assert.deepEqual(a, b);
  assert.deepEqual(parseTree(a).nodes.map((n) => n.name), ['a', 'b']);
  // By raw bytes, not UTF-16: U+FF01 is EF BC 81, U+1F600 is F0 9F 98 80 (but D83D DE00
  // in UTF-16, which sorts before FF01); a name that is not UTF-8 (byte FF) comes last.
  const raw = node('\ufffd', { nameRaw: Buffer.from([0xff]).toString('base64') });
  const mixed = serializeTree({ nodes: [raw, node('\u{1F600}'), node('\uFF01'), node('z')] });
  assert.deepEqual(parseTree(mixed).nodes.map((n) => n.nameRaw ?? n.name), ['z', '\uFF01', '\u{1F600}', raw.nameRaw]);
});

test('trees with unsafe names or bad ids are rejected', () => {
  for (const name of ['..', '.', '', 'a/b']) assert.throws(() => parseTree(serializeTree({ nodes: [node(name)] })), /unsafe name/);
  assert.throws(() => parseTree(serializeTree({ nodes: [node('d', { type: 'dir', content: undefined, subtree: 'xyz' })] })), /no subtree/);
  assert.throws(() => parseTree(serializeTree({ nodes: [node('f', { content: ['nothex'] })] })), /bad content/);
});

test('timestamps keep nanoseconds exactly', () => {
  for (const ns of [0n, 1n, 1_700_000_000_123_456_789n, -1_500_000_000n]) assert.equal(rfc3339ToNs(nsToRfc3339(ns)), ns);
  assert.equal(nsToRfc3339(1_700_000_000_000_000_001n), '2023-11-14T22:13:20.000000001Z');
});

test('exclude patterns follow restic: basename globs, anchored paths, directories exclude their contents', () => {
  const ex = compileExcludes(['*.log', '/srv/cache', 'node_modules', 'build/**/*.o']);
  assert.ok(ex('/home/a/x.log'));
  assert.ok(!ex('/home/a/x.logs'));
  assert.ok(ex('/srv/cache'));
  assert.ok(ex('/srv/cache/deep/file'));
  assert.ok(!ex('/other/srv/cache'));
  assert.ok(ex('/p/node_modules/x/y.js'));
  assert.ok(ex('/p/build/a/b/c.o'));
  assert.ok(!ex('/p/build/a/b/c.c'));
});
