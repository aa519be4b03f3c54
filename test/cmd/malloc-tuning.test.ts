import { it } from 'node:test';
import assert from 'node:assert/strict';
import { tuneMalloc } from '../../cmd/malloc-tuning.js';
import { libcFunction } from '../../crypto/optional-native.js';

const glibcOnly = { skip: process.platform !== 'linux' ? 'glibc only' : false };

it('malloc tuning reaches glibc through koffi on Linux', glibcOnly, () => {
  // false would mean koffi or its mallopt binding is missing.
  assert.equal(tuneMalloc(), true);
});

it('tuned malloc keeps freed blocks for reuse instead of handing them back', glibcOnly, () => {
  assert.equal(tuneMalloc(), true);
  const malloc = libcFunction('uintptr_t malloc(size_t size)')!;
  const memset = libcFunction('uintptr_t memset(uintptr_t s, int c, size_t n)')!;
  const free = libcFunction('void free(uintptr_t p)')!;
  const BLOCK = 1024 * 1024;
  const COUNT = 64;
  const blocks: number[] = [];
  for (let i = 0; i < COUNT; i++) {
    const p = Number(malloc(BLOCK));
    memset(p, 1, BLOCK);
    blocks.push(p);
  }
  const holding = process.memoryUsage().rss;
  for (const p of blocks) free(p);
  const released = holding - process.memoryUsage().rss;
  // Untuned, each 1 MiB block is a mapping of its own and all 64 MiB go back at once.
  assert.ok(released < 16 * BLOCK, `freeing 64 MiB of 1 MiB blocks gave ${released} bytes back to the system`);
  // And the next blocks reuse those pages rather than faulting in new ones.
  const again = Number(malloc(BLOCK));
  try {
    assert.ok(blocks.includes(again), 'a new 1 MiB block did not reuse a freed one');
  } finally {
    free(again);
  }
});
