import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildNamespace, NsDir, resolveNamespace, shortIds, snapshotNames, splitPath, timeName } from '../../mount/namespace.js';
import { SnapshotRef } from '../../repo/snapshot.js';

function ref(id: string, time: string, host = 'a', tags: string[] = []): SnapshotRef {
  return { id: id.padEnd(64, '0'), snapshot: { version: 1, time, host, user: 'u', paths: ['/'], tags, kind: 'files', tree: 'f'.repeat(64) } };
}

test('time names are UTC to the second, and equal times get a suffix', () => {
  assert.equal(timeName('2026-11-21T23:54:05.123456789+01:00'), '2026-11-21T22:54:05Z');
  const refs = [ref('aa', '2026-01-01T00:00:00Z'), ref('bb', '2026-01-01T00:00:00.5Z'), ref('cc', '2026-01-01T00:00:00Z'), ref('dd', '2026-01-02T00:00:00Z')];
  assert.deepEqual([...snapshotNames(refs).values()], ['2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z-1', '2026-01-01T00:00:00Z-2', '2026-01-02T00:00:00Z']);
});

test('short ids are 8 characters unless that is ambiguous', () => {
  const ids = ['12345678aa', '12345678ab', 'ffffffff00'];
  assert.deepEqual([...shortIds(ids).values()], ['12345678aa', '12345678ab', 'ffffffff']);
});

test('the namespace lists snapshots by time, id, host and tag, each with a latest link', () => {
  const refs = [ref('aaaa1111', '2026-01-01T00:00:00Z', 'web', ['daily']), ref('bbbb2222', '2026-01-02T00:00:00Z', 'db', ['daily', 'x/y']), ref('cccc3333', '2026-01-03T00:00:00Z', 'web')];
  const root = buildNamespace(refs);
  assert.deepEqual([...root.children.keys()], ['snapshots', 'ids', 'hosts', 'tags']);
  const ls = (p: string) => [...(resolveNamespace(root, splitPath(p)!)!.entry as NsDir).children.keys()];
  assert.deepEqual(ls('/snapshots'), ['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z', 'latest']);
  assert.deepEqual(ls('/ids'), ['aaaa1111', 'bbbb2222', 'cccc3333', 'latest']);
  assert.deepEqual(ls('/hosts'), ['db', 'web']);
  assert.deepEqual(ls('/hosts/web'), ['2026-01-01T00:00:00Z', '2026-01-03T00:00:00Z', 'latest']);
  assert.deepEqual(ls('/tags'), ['daily', 'x_y']);
  assert.deepEqual(ls('/tags/daily'), ['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', 'latest']);
  const latest = resolveNamespace(root, ['hosts', 'web', 'latest'])!.entry;
  assert.deepEqual(latest.type === 'link' && latest.target, '2026-01-03T00:00:00Z');
  assert.equal((resolveNamespace(root, ['ids', 'latest'])!.entry as { target: string }).target, 'cccc3333');
});

test('paths resolve into a snapshot, leaving the rest for its tree', () => {
  const root = buildNamespace([ref('aaaa1111', '2026-01-01T00:00:00Z')]);
  const r = resolveNamespace(root, splitPath('/ids/aaaa1111/etc/passwd')!)!;
  assert.equal(r.entry.type, 'snapshot');
  assert.deepEqual(r.rest, ['etc', 'passwd']);
  assert.equal(resolveNamespace(root, ['ids', 'nope']), undefined);
  assert.equal(resolveNamespace(root, ['ids', 'latest', 'x']), undefined, 'the kernel follows symlinks, not us');
  assert.equal(splitPath('/a/../b'), undefined);
  assert.deepEqual(splitPath('//a/./b/'), ['a', 'b']);
});

test('an empty repository still has the four top directories', () => {
  const root = buildNamespace([]);
  assert.equal(root.children.size, 4);
  assert.equal((root.children.get('snapshots') as NsDir).children.size, 0);
});
