import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeRepo } from './lifecycle-helpers.js';

test('key list, add, remove and passwd', async () => {
  const t = await makeRepo();
  const pw2 = path.join(t.dir, 'pw2');
  const pw3 = path.join(t.dir, 'pw3');
  await fs.writeFile(pw2, 'second password\n');
  await fs.writeFile(pw3, 'third password\n');
  const list = async (password?: string) => JSON.parse((await t.ok(['key', 'list', '--json'], password ? { CAIRN_PASSWORD: password } : {})).stdout) as { id: string; host: string; user: string; created: string; current: boolean }[];

  const first = await list();
  assert.equal(first.length, 1);
  assert.equal(first[0].current, true);
  assert.equal(first[0].host, os.hostname());
  assert.equal(first[0].user, os.userInfo().username);
  assert.ok(Math.abs(Date.parse(first[0].created) - Date.now()) < 120_000);

  const added = JSON.parse((await t.ok(['key', 'add', '--json', '--new-password-file', pw2])).stdout);
  assert.equal(added.message_type, 'key_added');
  const two = await list();
  assert.deepEqual(two.map((k) => [k.id, k.current]).sort(), [[first[0].id, true], [added.id, false]].sort());
  // The new password opens the repository too, and there its own key is the current one.
  assert.deepEqual((await list('second password')).filter((k) => k.current).map((k) => k.id), [added.id]);
  const text = await t.ok(['key', 'list']);
  assert.match(text.stdout, new RegExp(`^\\*${first[0].id.slice(0, 8)}  `, 'm'));

  const self = await t.run(['key', 'remove', first[0].id.slice(0, 8)]);
  assert.equal(self.code, 1);
  assert.match(self.stderr, /is the one this command was opened with and cannot be removed/);
  await t.ok(['key', 'remove', added.id.slice(0, 6)]);
  assert.equal((await t.run(['snapshots'], { CAIRN_PASSWORD: 'second password' })).code, 12);

  const changed = JSON.parse((await t.ok(['key', 'passwd', '--json', '--new-password-file', pw3])).stdout);
  assert.equal(changed.removed, first[0].id);
  const old = await t.run(['snapshots']);
  assert.equal(old.code, 12, 'the old password no longer opens the repository');
  assert.match(old.stderr, /wrong password/);
  assert.deepEqual((await list('third password')).map((k) => k.id), [changed.id]);

  const noFile = await t.run(['key', 'add'], { CAIRN_PASSWORD: 'third password' });
  assert.equal(noFile.code, 1);
  assert.match(noFile.stderr, /no password given/);
});
