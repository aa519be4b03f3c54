import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalBackend } from '../../backends/local.js';
import { backendConformance } from './conformance.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

backendConformance('local', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'cairn-local-'));
  dirs.push(dir);
  return new LocalBackend(path.join(dir, 'repo'));
});

it('the temporary files of saves a crash cut short are leftovers: a dry run counts them, a removal deletes only them', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'cairn-local-'));
  dirs.push(dir);
  const root = path.join(dir, 'repo');
  const b = new LocalBackend(root);
  await b.create();
  const pack = Buffer.from('a whole pack');
  const packName = createHash('sha256').update(pack).digest('hex');
  await b.save({ type: 'data', name: packName }, pack);
  // What save() leaves when the process dies between writing and linking.
  const leftovers = [
    path.join(root, 'data', packName.slice(0, 2), `${'e'.repeat(64)}.0123456789ab.tmp`),
    path.join(root, 'index', `${'f'.repeat(64)}.0123456789ab.tmp`),
    path.join(root, `config.0123456789ab.tmp`),
  ];
  for (const f of leftovers) await writeFile(f, 'half written');
  const bytes = leftovers.length * 'half written'.length;
  assert.deepEqual(await b.removeLeftovers(true), { files: 3, bytes });
  for (const f of leftovers) await stat(f);
  assert.deepEqual(await b.removeLeftovers(false), { files: 3, bytes });
  for (const f of leftovers) await assert.rejects(stat(f), { code: 'ENOENT' });
  assert.deepEqual(await b.load({ type: 'data', name: packName }), pack);
  assert.deepEqual(await b.removeLeftovers(false), { files: 0, bytes: 0 });
});
