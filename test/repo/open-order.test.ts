import { it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Handle } from '../../backends/backend.js';
import { MemoryBackend } from '../../backends/memory.js';
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

it('opening runs its tasks while the key is derived and once it is, before it reads the config', async () => {
  const dir = await tempDir();
  const backend = new OrderBackend();
  const cacheDir = path.join(dir, 'cache');
  await (await Repository.init(backend, 'pw', { cacheDir, kdf: { memoryKiB: 64, iterations: 1, parallelism: 1 } })).close();
  // A second key file that the password does not open, listed first or second: either
  // way each task runs once.
  await Repository.open(backend, 'pw', { cacheDir }).then(async (repo) => {
    await addKey(repo, 'other password', { memoryKiB: 64, iterations: 1, parallelism: 1 });
    await repo.close();
  });
  backend.events = [];
  const repo = await Repository.open(backend, 'pw', {
    cacheDir,
    whileDeriving: () => backend.events.push('while deriving'),
    afterKeyDerived: () => backend.events.push('key derived'),
  });
  await repo.close();
  const beforeConfig = backend.events.slice(0, backend.events.indexOf('load config'));
  assert.deepEqual(beforeConfig.filter((e) => !e.startsWith('load')), ['while deriving', 'key derived'], backend.events.join(', '));
  assert.equal(beforeConfig.at(-1), 'key derived', backend.events.join(', '));
  assert.ok(beforeConfig.indexOf('while deriving') > beforeConfig.indexOf('load keys'), backend.events.join(', '));
});
