/** A source tree with every kind of entry a backup must keep. */
import { promises as fs } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setAttribute } from 'fs-xattr';
import { pseudoRandom } from '../helpers.js';

export const DISTINCTIVE_NAME = 'zebra-quokka-secret-plans';
export const DISTINCTIVE_TEXT = 'the marmot sings at midnight under the violet bridge';

export async function makeFixtureTree(root: string): Promise<void> {
  await fs.mkdir(path.join(root, 'docs/deep/er'), { recursive: true });
  await fs.writeFile(path.join(root, 'docs', `${DISTINCTIVE_NAME}.txt`), `${DISTINCTIVE_TEXT}\n`.repeat(50));
  await fs.writeFile(path.join(root, 'docs/deep/er/random.bin'), pseudoRandom(3 * 1024 * 1024 + 17, 7));
  await fs.writeFile(path.join(root, 'docs/deep/small.txt'), 'small\n');
  await fs.writeFile(path.join(root, 'empty'), '');
  await fs.writeFile(path.join(root, 'dup-a.bin'), pseudoRandom(1024 * 1024, 9));
  await fs.writeFile(path.join(root, 'dup-b.bin'), pseudoRandom(1024 * 1024, 9));
  await fs.symlink('docs/deep/small.txt', path.join(root, 'link'));
  await fs.symlink('/nonexistent/target', path.join(root, 'dangling'));
  await fs.link(path.join(root, 'docs/deep/small.txt'), path.join(root, 'hardlink'));
  const sparse = path.join(root, 'sparse.img');
  const fh = await fs.open(sparse, 'w');
  await fh.write(Buffer.from('start'), 0, 5, 0);
  await fh.write(Buffer.from('middle'), 0, 6, 20 * 1024 * 1024);
  await fh.truncate(40 * 1024 * 1024);
  await fh.close();
  execFileSync('mknod', [path.join(root, 'fifo'), 'p']);
  if (process.getuid?.() === 0) execFileSync('mknod', [path.join(root, 'null-dev'), 'c', '1', '3']);
  // A name that is not valid UTF-8 must survive byte for byte.
  await fs.writeFile(Buffer.concat([Buffer.from(root + '/latin1-'), Buffer.from([0xe9, 0xff]), Buffer.from('.txt')]), 'non-utf8 name\n');
  await fs.writeFile(path.join(root, 'private.txt'), 'mode 0640\n');
  await fs.chmod(path.join(root, 'private.txt'), 0o640);
  await fs.chmod(path.join(root, 'docs/deep'), 0o750);
  if (process.getuid?.() === 0) await fs.lchown(path.join(root, 'private.txt'), 1234, 5678);
  await setAttribute(path.join(root, 'private.txt'), 'user.cairn.note', Buffer.from([0, 1, 2, 0xff]));
  await setAttribute(path.join(root, 'docs'), 'user.cairn.dir', 'directory attribute');
  await fs.utimes(path.join(root, 'docs/deep/small.txt'), new Date('2001-02-03T04:05:06Z'), new Date('2002-03-04T05:06:07.123Z'));
}
