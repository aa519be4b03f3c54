/**
 * What restore does with a name that already exists in the target (restic's --overwrite).
 * Pure: the caller lstat()s the target and acts on the answer.
 */
import type { BigIntStats } from 'node:fs';
import { rfc3339ToNs } from './time-format.js';
import type { TreeNode } from './tree.js';

export const OVERWRITE_POLICIES = ['always', 'if-changed', 'if-newer', 'never'] as const;
export type OverwritePolicy = (typeof OVERWRITE_POLICIES)[number];

/**
 * `restore`: write it from the snapshot. `keep`: leave the content, set the snapshot's
 * metadata (a file that looks unchanged may still have another mode or owner). `skip`:
 * leave it as it is.
 */
export type ExistingAction = 'restore' | 'keep' | 'skip';

/**
 * Node passes file times to libuv as seconds in a double (today's times to about 240 ns),
 * and libuv cuts them to whole microseconds. A file that restore wrote reads back up to
 * about 1.25 µs before its snapshot time, or a few hundred ns after it.
 */
const TIME_SLACK_NS = 2000n;

export function existingAction(policy: OverwritePolicy, node: TreeNode, existing: BigIntStats | undefined): ExistingAction {
  if (!existing || policy === 'always') return 'restore';
  if (policy === 'never') return 'skip';
  const mtime = rfc3339ToNs(node.mtime);
  const delta = mtime - existing.mtimeNs;
  if (policy === 'if-newer') return delta > TIME_SLACK_NS ? 'restore' : 'skip';
  // if-changed: as a backup decides with its parent, size and mtime stand for the content.
  // Only regular files are compared; special files cost no more to make again.
  const same = node.type === 'file' && existing.isFile() && BigInt(node.size) === existing.size && delta <= TIME_SLACK_NS && delta >= -TIME_SLACK_NS;
  return same ? 'keep' : 'restore';
}
