import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLOCK, tarHeader, TarEntry } from '../../repo/tar-format.js';

const base: TarEntry = { path: Buffer.from('f'), type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtimeNs: 1_700_000_000n * 1_000_000_000n };

/** The pax records of a header that has them: key -> value. */
function paxRecords(h: Buffer): Map<string, Buffer> {
  assert.equal(String.fromCharCode(h[156]), 'x', 'a pax header comes first');
  const size = parseInt(h.subarray(124, 135).toString('latin1'), 8);
  const data = h.subarray(BLOCK, BLOCK + size);
  const out = new Map<string, Buffer>();
  for (let at = 0; at < data.length; ) {
    const space = data.indexOf(0x20, at);
    const len = Number(data.subarray(at, space).toString());
    const record = data.subarray(at, at + len);
    assert.equal(record[record.length - 1], 0x0a, `record at ${at} ends where its length says`);
    const eq = record.indexOf(0x3d);
    out.set(record.subarray(space - at + 1, eq).toString(), record.subarray(eq + 1, record.length - 1));
    at += len;
  }
  return out;
}

test('pax records count their own length right, across the digit boundaries', () => {
  for (let n = 0; n < 1100; n++) {
    const value = Buffer.alloc(n, 0x76);
    assert.deepEqual(paxRecords(tarHeader({ ...base, xattrs: [{ name: 'user.x', value }] })).get('SCHILY.xattr.user.x'), value, `a value of ${n} bytes`);
  }
});

test('fields too large for ustar go to pax records; the ustar checksum holds', () => {
  const h = tarHeader({ ...base, size: 9 * 1024 ** 3, uid: 3_000_000, gid: 5, user: 'u'.repeat(40), mtimeNs: 1_700_000_000_123_456_789n, atimeNs: 1_700_000_001_000_000_000n });
  const r = paxRecords(h);
  assert.equal(r.get('size')?.toString(), String(9 * 1024 ** 3));
  assert.equal(r.get('uid')?.toString(), '3000000');
  assert.equal(r.has('gid'), false);
  assert.equal(r.get('uname')?.toString(), 'u'.repeat(40));
  assert.equal(r.get('mtime')?.toString(), '1700000000.123456789');
  assert.equal(r.get('atime')?.toString(), '1700000001');
  const ustar = h.subarray(h.length - BLOCK);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : ustar[i];
  assert.equal(parseInt(ustar.subarray(148, 154).toString('latin1'), 8), sum);
  assert.equal(ustar.subarray(124, 136).toString('latin1'), '00000000000\u0000', 'size left to the pax record');
});

test('a plain entry is one ustar block, and a name that is not UTF-8 is marked binary when pax carries it', () => {
  assert.equal(tarHeader(base).length, BLOCK);
  const raw = Buffer.concat([Buffer.from('d/'.repeat(60)), Buffer.from([0xe9, 0xff])]);
  const r = paxRecords(tarHeader({ ...base, path: raw }));
  assert.equal(r.get('hdrcharset')?.toString(), 'BINARY');
  assert.deepEqual(r.get('path'), raw);
});
