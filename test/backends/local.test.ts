import { after } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
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
