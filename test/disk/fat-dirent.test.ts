import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDirectory, shortNameChecksum } from '../../disk/fat/dirent.js';

function shortEntry(name11: string, attr: number, ntFlags = 0): Uint8Array {
  const e = new Uint8Array(32);
  e.set(Buffer.from(name11, 'latin1'));
  e[11] = attr;
  e[12] = ntFlags;
  e[26] = 5;
  e[28] = 9;
  return e;
}

function lfnEntries(name: string, checksum: number): Uint8Array[] {
  const units = [...Buffer.from(name, 'utf16le')].length / 2;
  const padded: number[] = [];
  for (let i = 0; i < units; i++) padded.push(name.charCodeAt(i));
  if (padded.length % 13) padded.push(0);
  while (padded.length % 13) padded.push(0xffff);
  const count = padded.length / 13;
  const out: Uint8Array[] = [];
  const offsets = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
  for (let seq = count; seq >= 1; seq--) {
    const e = new Uint8Array(32);
    e[0] = seq | (seq === count ? 0x40 : 0);
    e[11] = 0x0f;
    e[13] = checksum;
    offsets.forEach((o, k) => {
      const u = padded[(seq - 1) * 13 + k];
      e[o] = u & 0xff;
      e[o + 1] = u >> 8;
    });
    out.push(e);
  }
  return out;
}

const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat([...parts, new Uint8Array(32)]));

test('FAT dirent: NT lowercase flags, labels, deleted and dot entries', () => {
  const warnings: string[] = [];
  const deleted = shortEntry('XDELETEDTXT', 0x20);
  deleted[0] = 0xe5;
  const entries = parseDirectory(
    concat([
      shortEntry('.          ', 0x10),
      shortEntry('..         ', 0x10),
      shortEntry('MYLABEL    ', 0x08),
      deleted,
      shortEntry('README  TXT', 0x20, 0x08),
      shortEntry('README  MD ', 0x20, 0x10),
      shortEntry('BOTH    C  ', 0x20, 0x18),
      shortEntry('NOEXT      ', 0x10),
    ]),
    (m) => warnings.push(m),
  );
  assert.deepEqual(entries.map((e) => e.name), ['readme.TXT', 'README.md', 'both.c', 'NOEXT']);
  assert.equal(entries[0].firstCluster, 5);
  assert.equal(entries[0].size, 9);
  assert.deepEqual(warnings, []);
});

test('FAT dirent: long names, and the short name when the checksum is wrong', () => {
  const short = shortEntry('RSUM~1  TXT', 0x20);
  const good = shortNameChecksum(short);
  const warnings: string[] = [];
  const name = 'Résumé ünïcode with a long name.txt';
  const ok = parseDirectory(concat([...lfnEntries(name, good), short]), (m) => warnings.push(m));
  assert.deepEqual(ok.map((e) => e.name), [name]);
  const bad = parseDirectory(concat([...lfnEntries(name, (good + 1) & 0xff), short]), (m) => warnings.push(m));
  assert.deepEqual(bad.map((e) => e.name), ['RSUM~1.TXT']);
  assert.equal(warnings.length, 1);
  const missingPiece = lfnEntries(name, good);
  missingPiece.splice(1, 1);
  assert.deepEqual(parseDirectory(concat([...missingPiece, short]), () => {}).map((e) => e.name), ['RSUM~1.TXT']);
});
