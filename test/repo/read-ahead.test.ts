import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { adviseWillNeed } from '../../repo/read-ahead.js';
import { libcFunction } from '../../crypto/optional-native.js';
import { pseudoRandom } from '../helpers.js';

const POSIX_FADV_DONTNEED = 4;

/** Bytes of the file in the page cache, as util-linux's fincore counts them. */
function residentBytes(p: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', p], { encoding: 'utf8' }).trim());
}

it('advising a file ahead brings its content into the page cache before it is read', { skip: process.platform !== 'linux' ? 'glibc only' : false }, async () => {
  // Not os.tmpdir(): a tmpfs there would keep the file in memory whatever it is told.
  const dir = fs.mkdtempSync('/var/tmp/cairn-read-ahead-');
  const p = path.join(dir, 'cold');
  fs.writeFileSync(p, pseudoRandom(8 * 1024 * 1024, 7));
  const fd = fs.openSync(p, 'r');
  try {
    // Written pages must reach the disk before the kernel will drop them.
    fs.fsyncSync(fd);
    const fadvise = libcFunction('int posix_fadvise(int fd, int64_t offset, int64_t len, int advice)')!;
    assert.equal(fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    assert.ok(residentBytes(p) < 1024 * 1024, `the file should have left the page cache, ${residentBytes(p)} bytes stayed`);
    adviseWillNeed(fd);
    let resident = 0;
    for (let i = 0; i < 100 && resident < 8 * 1024 * 1024; i++) {
      resident = residentBytes(p);
      if (resident < 8 * 1024 * 1024) await new Promise((r) => setTimeout(r, 20));
    }
    // Read-ahead is best effort: its page allocations give up under memory pressure, and a
    // loaded CI run once left 72 KiB of the 8 MiB out. Less than 1 MiB was resident before.
    assert.ok(resident >= 7 * 1024 * 1024, `the file should be in the page cache without a read, ${resident} bytes are`);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true });
  }
});
