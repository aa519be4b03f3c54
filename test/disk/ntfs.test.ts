import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, linkSync, symlinkSync, openSync, writeSync, closeSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeNtfs } from '../../disk/ntfs/index.js';
import { assertSortedMerged, bufferSource, fileSource, insideRanges, randomBytes, readViaExtents, requireTool, run, sha256, walk } from './helpers.js';
import { makeNtfsImage, withNtfs3g, writeHoleyFile } from './ntfs-image.js';

function compressibleText(lines: number): Uint8Array {
  let s = '';
  for (let i = 0; i < lines; i++) s += `line ${i} of a compressible text file, repeated words words words\n`;
  return new Uint8Array(Buffer.from(s));
}

test('NTFS: an ntfs-3g-written image reads back exactly', { timeout: 120_000 }, async () => {
  requireTool('mkntfs', 'ntfs-3g');
  requireTool('ntfs-3g', 'ntfs-3g');
  requireTool('setfattr', 'attr');
  const dir = mkdtempSync(join(tmpdir(), 'cairn-ntfs-'));
  try {
    const img = join(dir, 'img');
    const mnt = join(dir, 'mnt');
    makeNtfsImage(img, 48 * 1024 * 1024);
    const files = new Map<string, Uint8Array>();
    let seed = 1;
    await withNtfs3g(img, mnt, () => {
      const put = (p: string, data: Uint8Array) => {
        mkdirSync(join(mnt, p, '..'), { recursive: true });
        writeFileSync(join(mnt, p), data);
        files.set(p, data);
      };
      put('empty', new Uint8Array(0));
      put('tiny resident.txt', randomBytes(seed++, 300));
      put('Résumé ünïcode.txt', randomBytes(seed++, 700));
      put('big.bin', randomBytes(seed++, 3 * 1024 * 1024 + 123));
      put('nested/deeper/deepest/file.dat', randomBytes(seed++, 5000));
      for (let i = 0; i < 130; i++) put(`root file ${i}.txt`, randomBytes(seed++, i * 13));
      for (let i = 0; i < 300; i++) put(`many/entry ${i}`, randomBytes(seed++, i % 50));
      linkSync(join(mnt, 'big.bin'), join(mnt, 'nested', 'hard link to big'));
      files.set('nested/hard link to big', files.get('big.bin')!);
      symlinkSync('nested/deeper/deepest/file.dat', join(mnt, 'a symlink'));

      const sparse = new Uint8Array(10 * 1024 * 1024);
      sparse.set(Buffer.from('data in the middle of a sparse file'), 5_000_000);
      const fd = openSync(join(mnt, 'sparse.bin'), 'w');
      truncateSync(join(mnt, 'sparse.bin'), sparse.length);
      writeSync(fd, sparse.subarray(5_000_000, 5_000_035), 0, 35, 5_000_000);
      closeSync(fd);
      files.set('sparse.bin', sparse);

      files.set('holey.bin', writeHoleyFile(join(mnt, 'holey.bin'), 800));

      mkdirSync(join(mnt, 'compressed'));
      run('setfattr', ['-n', 'system.ntfs_attrib_be', '-v', '0x00000800', join(mnt, 'compressed')]);
      const mixed = new Uint8Array(400_000);
      mixed.set(compressibleText(3000).subarray(0, 200_000));
      mixed.set(randomBytes(seed++, 100_000), 200_000);
      put('compressed/text.txt', compressibleText(5000));
      put('compressed/mixed.bin', mixed);
    });

    const warnings: string[] = [];
    const src = fileSource(img);
    try {
      const fs = await probeNtfs(src, { onWarning: (m) => warnings.push(m) });
      assert.ok(fs, 'probe recognizes the image');
      assert.equal(fs.type, 'ntfs');
      const tree = await walk(fs);
      const used = await fs.usedRanges();
      assertSortedMerged(used);
      const rootNames = (await fs.list(fs.root())).map((n) => Buffer.from(n.name).toString());
      assert.ok(!rootNames.some((n) => n.startsWith('$')), 'system files are hidden');
      assert.ok(rootNames.length > 130, 'the root index spans index blocks');
      assert.equal([...tree.values()].filter((w) => w.node.type === 'file').length, files.size);

      for (const [path, data] of files) {
        const w = tree.get(`/${path}`);
        assert.ok(w, `missing ${path}`);
        assert.equal(w.node.type, 'file', path);
        assert.equal(w.node.size, data.length, `size of ${path}`);
        assert.equal(sha256(await fs.readFile(w.node, 0, data.length + 5)), sha256(data), `content of ${path}`);
        if (data.length > 100_000) {
          const part = await fs.readFile(w.node, 65_000, 70_001);
          assert.equal(sha256(part), sha256(data.subarray(65_000, 135_001)), `partial read of ${path}`);
        }
        const extents = await fs.extents(w.node);
        if (path.startsWith('compressed/')) {
          assert.equal(extents, null, 'compressed files have no plain mapping');
          continue;
        }
        if (extents === null) {
          assert.ok(data.length < 1024, `${path}: only small files are resident`);
          continue;
        }
        assert.equal(sha256(await readViaExtents(src, data.length, extents)), sha256(data), `extents of ${path}`);
        for (const x of extents) assert.ok(insideRanges(used, x), `${path}: extent outside used ranges`);
      }
      assert.ok((await fs.extents(tree.get('/big.bin')!.node))!.length >= 1);
      const sparseExtents = (await fs.extents(tree.get('/sparse.bin')!.node))!;
      assert.ok(sparseExtents.reduce((n, x) => n + x.length, 0) < 1024 * 1024, 'the sparse file maps only its data');
      assert.ok((await fs.extents(tree.get('/holey.bin')!.node))!.length >= 800, 'the attribute-list file keeps all its runs');

      const big = tree.get('/big.bin')!.node;
      const link = tree.get('/nested/hard link to big')!.node;
      assert.equal(big.id, link.id, 'hard links share the MFT record');
      assert.equal(big.nlink, 2);
      const sym = tree.get('/a symlink')!.node;
      assert.equal(sym.type, 'symlink');
      assert.equal(Buffer.from(await fs.readlink(sym)).toString(), 'nested/deeper/deepest/file.dat');
      assert.ok(tree.get('/nested/deeper')!.node.mtimeNs > BigInt(Date.now() - 600_000) * 1_000_000n, 'times are FILETIME converted to Unix ns');
      assert.deepEqual(warnings, []);
    } finally {
      src.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('NTFS: a non-NTFS boot sector is not recognized, a broken one is a DiskFormatError', async () => {
  assert.equal(await probeNtfs(bufferSource(new Uint8Array(4096))), null);
  const boot = new Uint8Array(4096);
  boot.set(Buffer.from('NTFS    '), 3);
  boot[11] = 0; boot[12] = 2; boot[13] = 8;
  await assert.rejects(probeNtfs(bufferSource(boot)), { name: 'DiskFormatError' });
});
