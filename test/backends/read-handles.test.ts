import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ReadHandles } from '../../backends/read-handles.js';
import { tempDir } from '../helpers.js';

/** Which of `files` this process holds open, from /proc/self/fd. */
function openAmong(files: string[]): string[] {
  const open = new Set(fs.readdirSync('/proc/self/fd').map((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return '';
    }
  }));
  return files.filter((f) => open.has(f));
}

async function withFiles(count: number, f: (files: string[]) => Promise<void>) {
  const dir = await tempDir();
  try {
    const files = Array.from({ length: count }, (_, i) => path.join(dir, `pack${i}`));
    for (const [i, file] of files.entries()) fs.writeFileSync(file, `pack ${i}`);
    await f(files);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
}

const skip = process.platform !== 'linux' ? 'reads /proc/self/fd' : false;

it('loads of a file share one descriptor, and at most `max` idle ones stay open', { skip }, () =>
  withFiles(5, async (files) => {
    const handles = new ReadHandles(2);
    const first = await handles.use(files[0], async (fd) => fd);
    assert.equal(await handles.use(files[0], async (fd) => fd), first, 'the second load reuses the descriptor');
    for (const f of files) await handles.use(f, async () => {});
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(openAmong(files), files.slice(3), 'only the two most recently used stay open');
    await handles.closeAll();
    assert.deepEqual(openAmong(files), []);
  }));

it('a descriptor in use is not closed under its load, and a dropped one closes when its load ends', { skip }, () =>
  withFiles(3, async (files) => {
    const handles = new ReadHandles(1);
    let release!: () => void;
    const held = handles.use(files[0], (fd) => new Promise<string>((r) => (release = () => r(fs.readFileSync(fd, 'utf8')))));
    await new Promise((r) => setImmediate(r));
    // Beyond the bound, but files[0] is busy: the idle ones go instead.
    await handles.use(files[1], async () => {});
    await handles.use(files[2], async () => {});
    handles.drop(files[0]);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(openAmong(files).includes(files[0]), 'the busy descriptor stays open');
    release();
    assert.equal(await held, 'pack 0');
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(!openAmong(files).includes(files[0]), 'the dropped descriptor is closed once its load ended');
    await handles.closeAll();
  }));

it('a file that could not be opened is tried again by the next load', () =>
  withFiles(1, async ([file]) => {
    const handles = new ReadHandles(4);
    const missing = `${file}-later`;
    await assert.rejects(handles.use(missing, async () => {}), { code: 'ENOENT' });
    fs.writeFileSync(missing, 'now here');
    assert.equal(await handles.use(missing, async (fd) => fs.readFileSync(fd, 'utf8')), 'now here');
    await handles.closeAll();
  }));
