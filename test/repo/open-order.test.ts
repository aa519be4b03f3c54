import { it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Handle } from '../../backends/backend.js';
import { MemoryBackend } from '../../backends/memory.js';
import { backup } from '../../repo/archiver.js';
import { addKey } from '../../repo/keys.js';
import { Repository } from '../../repo/repository.js';
import { tempDir } from '../helpers.js';

/** Records, in order, the types of the objects loaded. */
class OrderBackend extends MemoryBackend {
  events: string[] = [];
  override async load(h: Handle, offset?: number, length?: number): Promise<Uint8Array> {
    this.events.push(`load ${h.type}`);
    return super.load(h, offset, length);
  }
}

it('opening runs its tasks while the key is derived and once it is; the config is asked for meanwhile', async () => {
  const dir = await tempDir();
  const backend = new OrderBackend();
  const cacheDir = path.join(dir, 'cache');
  await (await Repository.init(backend, 'pw', { cacheDir, kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } })).close();
  // A second key file that the password does not open, listed first or second: either
  // way each task runs once.
  const src = path.join(dir, 'src');
  await fs.mkdir(src);
  await fs.writeFile(path.join(src, 'f'), 'some content');
  await Repository.open(backend, 'pw', { cacheDir }).then(async (repo) => {
    await addKey(repo, 'other password', { memoryKiB: 64, iterations: 1, parallelism: 1 });
    await backup(repo, { paths: [src], parent: null });
    await repo.close();
  });
  backend.events = [];
  const repo = await Repository.open(backend, 'pw', {
    // A cache that has read no index file yet, so that the open reads one.
    cacheDir: path.join(dir, 'fresh-cache'),
    whileDeriving: () => backend.events.push('while deriving'),
    afterKeyDerived: () => backend.events.push('key derived'),
  });
  await repo.close();
  const e = backend.events;
  const at = (what: string) => e.indexOf(what);
  assert.deepEqual(e.filter((x) => !x.startsWith('load')), ['while deriving', 'key derived'], e.join(', '));
  assert.ok(at('load keys') < at('while deriving'), e.join(', '));
  assert.ok(at('load keys') < at('load config') && at('load config') < at('key derived'), `the config goes out during the derivation: ${e.join(', ')}`);
  assert.ok(at('load index') > at('key derived'), `index files are read after it: ${e.join(', ')}`);
});
