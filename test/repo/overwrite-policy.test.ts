import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { existingAction } from '../../repo/overwrite-policy.js';
import { nsToRfc3339, nsToSeconds } from '../../repo/time-format.js';
import type { TreeNode } from '../../repo/tree.js';
import { tempDir } from '../helpers.js';

/** Times set the way restore sets them (seconds in a double, through futimes) read back as unchanged. */
test('if-changed keeps a file whose times restore set, whatever the nanoseconds', async () => {
  const file = path.join(await tempDir(), 'f');
  await fs.writeFile(file, 'abc');
  const handle = await fs.open(file, 'r+');
  try {
    const base = 1_765_000_000n * 1_000_000_000n;
    for (let i = 0; i < 3000; i++) {
      const ns = base + BigInt(Math.floor(Math.random() * 1e15));
      await handle.utimes(nsToSeconds(ns), nsToSeconds(ns));
      const st = await fs.lstat(file, { bigint: true });
      const node = { type: 'file', size: 3, mtime: nsToRfc3339(ns) } as TreeNode;
      assert.equal(existingAction('if-changed', node, st), 'keep', `mtime ${ns} set, ${st.mtimeNs} read back`);
      assert.equal(existingAction('if-newer', node, st), 'skip');
      const later = { ...node, mtime: nsToRfc3339(ns + 5_000n) };
      assert.equal(existingAction('if-changed', later, st), 'restore', 'five microseconds apart is a change');
      assert.equal(existingAction('if-newer', later, st), 'restore');
    }
  } finally {
    await handle.close();
  }
});
