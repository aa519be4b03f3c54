import { it } from 'node:test';
import assert from 'node:assert/strict';
import { tuneMalloc } from '../../cmd/malloc-tuning.js';

it('malloc tuning reaches glibc through koffi on Linux', { skip: process.platform !== 'linux' ? 'glibc only' : false }, () => {
  // false would mean koffi or its mallopt binding is missing, and backups keep more memory.
  assert.equal(tuneMalloc(), true);
});
