/**
 * Reading every index file straight from the backend (not the local cache), as prune and
 * check need: which index files are in effect, and which packs they list.
 */
import { BlobEntry } from './blob.js';
import { IndexFile } from './index-format.js';
import { Repository, supersededFiles } from './repository.js';
import { mapLimit } from '../backends/concurrency.js';

export interface ListedPack {
  id: string;
  size: number;
  blobs: BlobEntry[];
  indexFile: string;
}

export interface LoadedIndex {
  /** Every index file present: its content, or why it could not be read. */
  files: Map<string, IndexFile | Error>;
  /** Present index files that another present index file supersedes. */
  superseded: Set<string>;
  /** Packs listed by the index files in effect. */
  packs: Map<string, ListedPack>;
}

export async function loadIndexFiles(repo: Repository): Promise<LoadedIndex> {
  const names: string[] = [];
  for await (const f of repo.backend.list('index')) names.push(f.name);
  const files = new Map<string, IndexFile | Error>();
  await mapLimit(names.sort(), 8, async (name) => {
    try {
      files.set(name, await repo.loadIndexFile(name));
    } catch (err) {
      files.set(name, err as Error);
    }
  });
  const readable = [...files.values()].filter((f): f is IndexFile => !(f instanceof Error));
  const superseded = new Set([...supersededFiles(readable.map((f) => f.supersedes))].filter((n) => files.has(n)));
  const packs = new Map<string, ListedPack>();
  for (const name of names) {
    const f = files.get(name)!;
    if (f instanceof Error || superseded.has(name)) continue;
    for (const p of f.packs) if (!packs.has(p.id)) packs.set(p.id, { ...p, indexFile: name });
  }
  return { files, superseded, packs };
}

/** Every pack in the repository with its size. */
export async function listPacks(repo: Repository): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const f of repo.backend.list('data')) out.set(f.name, f.size);
  return out;
}
