/** Builds small repositories by hand on the memory backend, for tests of mount/ without I/O. */
import path from 'node:path';
import { MemoryBackend } from '../../backends/memory.js';
import { Repository } from '../../repo/repository.js';
import { Snapshot } from '../../repo/snapshot.js';
import { TreeNode } from '../../repo/tree.js';
import { tempDir } from '../helpers.js';

export const T = '2026-01-02T03:04:05.000000000Z';

export async function memoryRepo(): Promise<Repository> {
  process.env.CAIRN_TEST_WEAK_KDF = '1';
  return Repository.init(new MemoryBackend(), 'pw', { cacheDir: path.join(await tempDir(), 'cache') });
}

function base(name: string): Omit<TreeNode, 'type'> {
  return { name, mode: 0o644, uid: 1000, gid: 100, mtime: T, atime: T, ctime: T, size: 0, inode: 0, device: 1, links: 1 };
}

/** A file cut into blobs of the given sizes. */
export async function fileNode(repo: Repository, name: string, data: Buffer, cuts: number[], extra: Partial<TreeNode> = {}): Promise<TreeNode> {
  const content: string[] = [];
  let pos = 0;
  for (const c of [...cuts, data.length]) {
    if (c <= pos) continue;
    content.push(await repo.saveBlob('data', data.subarray(pos, c)));
    pos = c;
  }
  return { ...base(name), type: 'file', size: data.length, content, ...extra };
}

export async function dirNode(repo: Repository, name: string, nodes: TreeNode[], extra: Partial<TreeNode> = {}): Promise<TreeNode> {
  return { ...base(name), type: 'dir', mode: 0o750, links: 2, subtree: await repo.saveTree({ nodes }), ...extra };
}

export function symlinkNode(name: string, target: string): TreeNode {
  return { ...base(name), type: 'symlink', mode: 0o777, linkTarget: target };
}

export async function saveSnapshot(repo: Repository, nodes: TreeNode[], s: Partial<Snapshot> = {}): Promise<string> {
  const tree = await repo.saveTree({ nodes });
  await repo.flush();
  return repo.saveSnapshot({ version: 1, time: T, host: 'box', user: 'me', paths: ['/data'], tags: [], kind: 'files', tree, ...s });
}
