import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cairn, tempDir } from '../helpers.js';
import { DISTINCTIVE_NAME, DISTINCTIVE_TEXT, makeFixtureTree } from './fixture-tree.js';

async function filesBelow(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(root, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  }
  return out;
}

test('nothing in the repository or the local cache reveals file names or contents', async () => {
  const dir = await tempDir();
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await makeFixtureTree(src);
  const repo = path.join(dir, 'repo');
  const cache = path.join(dir, 'cache');
  const env = { CAIRN_PASSWORD: 'pw' };
  assert.equal((await cairn(['--repo', repo, '--cache-dir', cache, 'init'], env)).code, 0);
  const b = await cairn(['--repo', repo, '--cache-dir', cache, 'backup', src], env);
  assert.equal(b.code, 0, b.stderr);

  const needles = [DISTINCTIVE_NAME, DISTINCTIVE_TEXT.slice(0, 20), 'small.txt', 'random.bin', 'hardlink', path.basename(dir)].map((s) => Buffer.from(s));
  const files = [...(await filesBelow(repo)), ...(await filesBelow(cache))];
  assert.ok(files.length > 5, `found only ${files.length} files`);
  // The check itself must be able to fail: the source does contain the needles.
  const srcFile = await fs.readFile(path.join(src, 'docs', `${DISTINCTIVE_NAME}.txt`));
  assert.ok(srcFile.includes(needles[1]));
  for (const f of files) {
    const bytes = await fs.readFile(f);
    for (const n of needles) assert.ok(!bytes.includes(n), `${f} contains ${n.toString()}`);
  }
});
