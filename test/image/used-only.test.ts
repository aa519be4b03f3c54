import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pseudoRandom, tempDir } from '../helpers.js';
import { restoreImage } from '../../repo/image-restore.js';
import { imageInfo } from '../../repo/image-snapshot.js';
import { ext4Image, fatImage, fileHashes, makeSourceTree, systemEntry } from './fs-images.js';
import { backupImageFile, memoryRepo } from './library.js';
import { sha256File, tool } from './tools.js';

const MiB = 1024 * 1024;

/**
 * Builds the image with one extra file, then deletes it with the file system's own tool:
 * its blocks are free but still hold its bytes, which --used-only must leave out.
 */
async function check(kind: 'ext4' | 'fat') {
  const dir = await tempDir('cairn-used-');
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await makeSourceTree(src);
  const want = await fileHashes(src);
  await fs.writeFile(path.join(src, 'deleted.bin'), pseudoRandom(4 * MiB, 99));
  const img = path.join(dir, `${kind}.img`);
  if (kind === 'ext4') {
    await ext4Image(img, src, 32 * MiB);
    tool('debugfs', ['-w', '-R', 'rm /deleted.bin', img], 'e2fsprogs');
  } else {
    await fatImage(img, src, 32 * MiB, 16);
    tool('mdel', ['-i', img, '::/deleted.bin'], 'mtools');
  }
  const { repo } = await memoryRepo(dir);
  try {
    const full = await backupImageFile(repo, img);
    const used = await backupImageFile(repo, img, { usedOnly: true });
    const stored = (s: typeof full) => imageInfo(s.snapshot).storedBytes;
    assert.ok(imageInfo(used.snapshot).usedOnly);
    assert.ok(stored(full) - stored(used) >= 4 * MiB - 64 * 1024, `--used-only stores ${stored(used)} bytes, a full backup ${stored(full)}`);

    const out = path.join(dir, 'restored.img');
    await restoreImage(repo, used.snapshot, out, { verify: true }, used.id);
    assert.notEqual(await sha256File(out), await sha256File(img), 'the free blocks came back as zeros');
    const files = path.join(dir, 'files');
    await fs.mkdir(files);
    if (kind === 'ext4') {
      tool('e2fsck', ['-fn', out], 'e2fsprogs');
      tool('debugfs', ['-R', `rdump / ${files}`, out], 'e2fsprogs');
    } else {
      tool('fsck.fat', ['-n', out], 'dosfstools');
      tool('mcopy', ['-s', '-n', '-i', out, '::/*', files], 'mtools');
    }
    assert.deepEqual(await fileHashes(files, systemEntry), want, 'every file of the restored image is unchanged');
  } finally {
    await repo.close();
  }
}

test('--used-only ext4: free blocks left out, e2fsck -fn passes, files unchanged', () => check('ext4'));
test('--used-only FAT: free clusters left out, fsck.fat -n passes, files unchanged', () => check('fat'));
