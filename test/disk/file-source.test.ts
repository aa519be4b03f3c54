import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { probeExt } from '../../disk/ext.js';
import { openFileSource, probeSizeByReading } from '../../disk/file-source.js';
import { sliceSource } from '../../disk/slice.js';
import { memorySource, run, tempDir } from './tools.js';

const tmp = tempDir('cairn-src-');
after(() => tmp.cleanup());

describe('openFileSource', () => {
  it('reads a regular file, short at the end and empty past it', async () => {
    const img = join(tmp.path, 'plain.bin');
    run('sh', ['-c', `printf 'abcdefghij' > ${img}`], 'coreutils');
    const src = await openFileSource(img);
    try {
      assert.equal(src.size, 10);
      assert.equal(Buffer.from(await src.read(2, 3)).toString(), 'cde');
      assert.equal(Buffer.from(await src.read(8, 100)).toString(), 'ij');
      assert.equal((await src.read(50, 10)).length, 0);
    } finally {
      await src.close();
    }
  });

  it('tells where a sparse file holds data, and a dense copy of it holds data everywhere', async () => {
    const sparse = join(tmp.path, 'sparse.bin');
    const fh = await open(sparse, 'w');
    await fh.truncate(40 << 20);
    await fh.write(Buffer.alloc(8192, 1), 0, 8192, 12 << 20);
    await fh.write(Buffer.from('tail'), 0, 4, (40 << 20) - 4);
    await fh.close();
    const src = await openFileSource(sparse);
    try {
      const data = src.dataIn!(0, src.size);
      assert.ok(data, 'this file system answers SEEK_DATA (needs koffi on Linux)');
      assert.ok(data.some((r) => r.offset <= 12 << 20 && r.offset + r.length >= (12 << 20) + 8192), JSON.stringify(data));
      assert.ok(data.some((r) => r.offset + r.length === 40 << 20), 'data at the very end');
      assert.ok(data.reduce((n, r) => n + r.length, 0) < 4 << 20, `mostly holes: ${JSON.stringify(data)}`);
      assert.deepEqual(src.dataIn!(20 << 20, 4 << 20), [], 'a range inside a hole');
      assert.deepEqual(src.dataIn!((12 << 20) + 4096, 100), [{ offset: (12 << 20) + 4096, length: 100 }], 'clipped to the range asked');
    } finally {
      await src.close();
    }
    const dense = join(tmp.path, 'dense.bin');
    run('cp', ['--sparse=never', sparse, dense], 'coreutils');
    const copy = await openFileSource(dense);
    try {
      assert.deepEqual(copy.dataIn!(0, copy.size), [{ offset: 0, length: 40 << 20 }]);
    } finally {
      await copy.close();
    }
  });

  it('rejects a directory', async () => {
    await assert.rejects(openFileSource(tmp.path), /neither a regular file nor a block device/);
  });

  it('takes the size of a loop block device from the device', async (t) => {
    const img = join(tmp.path, 'loop.img');
    run('truncate', ['-s', '9M', img], 'coreutils');
    run('mkfs.ext4', ['-q', '-F', img], 'e2fsprogs');
    const attach = spawnSync('losetup', ['-f', '--show', img], { encoding: 'utf8' });
    if (attach.error) throw new Error('losetup is missing: install the Debian package "mount"');
    if (attach.status !== 0) {
      t.skip(`losetup cannot attach a loop device here (${attach.stderr.trim()}); not root or no loop support`);
      return;
    }
    const dev = attach.stdout.trim();
    try {
      const src = await openFileSource(dev);
      try {
        assert.equal(src.size, 9 << 20);
        const fs = await probeExt(src);
        assert.ok(fs, 'ext4 on the loop device');
      } finally {
        await src.close();
      }
      const fh = await open(dev, 'r');
      try {
        assert.equal(await probeSizeByReading(fh), 9 << 20, 'the fallback without sysfs finds the same size');
      } finally {
        await fh.close();
      }
    } finally {
      run('losetup', ['-d', dev], 'mount');
    }
  });
});

describe('sliceSource', () => {
  const base = memorySource(Uint8Array.from({ length: 100 }, (_, i) => i));

  it('reads inside its window only', async () => {
    const s = sliceSource(base, 10, 20);
    assert.equal(s.size, 20);
    assert.deepEqual([...(await s.read(0, 3))], [10, 11, 12]);
    assert.deepEqual([...(await s.read(18, 10))], [28, 29]);
    assert.equal((await s.read(20, 5)).length, 0);
  });

  it('clips a window that runs past the source', async () => {
    assert.equal(sliceSource(base, 90, 50).size, 10);
    assert.equal(sliceSource(base, 200, 50).size, 0);
  });

  it('rejects negative or fractional arguments', async () => {
    assert.throws(() => sliceSource(base, -1, 5), /invalid slice/);
    await assert.rejects(sliceSource(base, 0, 5).read(1.5, 1), /invalid read/);
  });
});
