import { it } from 'node:test';
import assert from 'node:assert/strict';
import { trimMallocPeriodically, tuneMalloc } from '../../cmd/malloc-tuning.js';
import { libcFunction } from '../../crypto/optional-native.js';

it('malloc tuning reaches glibc through koffi on Linux', { skip: process.platform !== 'linux' ? 'glibc only' : false }, () => {
  // false would mean koffi or its mallopt binding is missing, and backups keep more memory.
  assert.equal(tuneMalloc(), true);
});

it('trimming gives freed pages in the middle of an arena back to the system', { skip: process.platform !== 'linux' ? 'glibc only' : false }, async () => {
  const malloc = libcFunction('uintptr_t malloc(size_t size)')!;
  const memset = libcFunction('uintptr_t memset(uintptr_t s, int c, size_t n)')!;
  const free = libcFunction('void free(uintptr_t p)')!;
  const BLOCK = 64 * 1024;
  const COUNT = 1024;
  // Pairs of blocks; freeing every other one leaves holes that free() cannot return.
  const kept: number[] = [];
  const freed: number[] = [];
  for (let i = 0; i < COUNT; i++) {
    for (const list of [freed, kept]) {
      const p = Number(malloc(BLOCK));
      memset(p, 1, BLOCK);
      list.push(p);
    }
  }
  try {
    for (const p of freed) free(p);
    const holding = process.memoryUsage().rss;
    const stop = trimMallocPeriodically();
    await new Promise((r) => setTimeout(r, 600));
    stop();
    const released = holding - process.memoryUsage().rss;
    // 64 MiB freed in holes; each hole keeps a page or so of its edges.
    assert.ok(released > 32 * 1024 * 1024, `released only ${released} bytes`);
  } finally {
    for (const p of kept) free(p);
  }
});
