import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { preallocate } from '../../repo/preallocate.js';

const linuxOnly = { skip: process.platform !== 'linux' ? 'fallocate is Linux' : false };

it('preallocate gives a file its blocks before anything is written', linuxOnly, () => {
  const dir = fs.mkdtempSync('/var/tmp/cairn-prealloc-');
  const p = path.join(dir, 'f');
  const fd = fs.openSync(p, 'w');
  try {
    preallocate(fd, 4096, 1024 * 1024);
    const st = fs.fstatSync(fd);
    assert.equal(st.size, 4096 + 1024 * 1024);
    assert.ok(st.blocks * 512 >= 1024 * 1024, `1 MiB allocated, got ${st.blocks * 512} bytes`);
    assert.equal(fs.readFileSync(p).subarray(0, 4096).every((b) => b === 0), true);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true });
  }
});

it('preallocate on a full file system throws ENOSPC, as the write would', { skip: process.getuid?.() !== 0 ? 'mounting needs root' : linuxOnly.skip }, () => {
  const dir = fs.mkdtempSync('/var/tmp/cairn-prealloc-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir]);
  const fd = fs.openSync(path.join(dir, 'f'), 'w');
  try {
    assert.throws(() => preallocate(fd, 0, 4 * 1024 * 1024), (err: NodeJS.ErrnoException) => err.code === 'ENOSPC' && /no space left on device/.test(err.message));
  } finally {
    fs.closeSync(fd);
    execFileSync('umount', [dir]);
    fs.rmdirSync(dir);
  }
});
