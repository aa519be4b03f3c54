import { it } from 'node:test';
import assert from 'node:assert/strict';
import { latestPerGroup } from '../../repo/snapshot-select.js';
import type { SnapshotRef } from '../../repo/snapshot.js';

const ref = (id: string, host: string, paths: string[]): SnapshotRef => ({
  id,
  snapshot: { version: 1, time: `2026-12-0${id.length}T00:00:00Z`, host, user: 'root', paths, tags: [], kind: 'files', tree: '00' },
});

it('--latest keeps the N newest snapshots of each host and set of paths, in order', () => {
  // Oldest first, as listSnapshots gives them; path order within a snapshot does not matter.
  const refs = [ref('a1', 'web', ['/etc', '/home']), ref('b1', 'db', ['/var']), ref('a2', 'web', ['/home', '/etc']), ref('c1', 'web', ['/srv']), ref('a3', 'web', ['/etc', '/home']), ref('b2', 'db', ['/var'])];
  assert.deepEqual(latestPerGroup(refs, 2).map((r) => r.id), ['b1', 'a2', 'c1', 'a3', 'b2']);
  assert.deepEqual(latestPerGroup(refs, 1).map((r) => r.id), ['c1', 'a3', 'b2']);
});
