/**
 * Reading every index file straight from the backend (not the local cache), as prune and
 * check need: which index files are in effect, and which packs they list.
 */
import { BlobEntry } from './blob.js';
import { encodeIndex, IndexedPack, IndexFile } from './index-format.js';
import { objectName } from './hex.js';
import { Repository, supersededFiles } from './repository.js';
import { sealFile } from './sealed-file.js';
import { mapLimit } from '../backends/concurrency.js';
import { listNames } from '../backends/backend.js';

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
  const names = await listNames(repo.backend, 'index');
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

/**
 * Writes ONE index file listing `packs` that supersedes every index file present, so
 * readers switch to it in a single write. It also supersedes whatever those superseded:
 * an index file retired by any earlier prune or repair stays ignored if it is ever put
 * back. Returns the index files it supersedes; the caller deletes them once it may.
 */
export async function writeSupersedingIndex(repo: Repository, index: LoadedIndex, packs: IndexedPack[]): Promise<string[]> {
  const old = [...index.files.keys()];
  const supersedes = new Set(old);
  for (const f of index.files.values()) if (!(f instanceof Error)) for (const s of f.supersedes) supersedes.add(s);
  const stored = sealFile(repo.key.encrypt, encodeIndex({ supersedes: [...supersedes], packs }));
  await repo.backend.save({ type: 'index', name: await objectName(stored) }, stored);
  return old;
}

export async function removeIndexFiles(repo: Repository, names: string[]): Promise<void> {
  await mapLimit(names, 8, (name) => repo.backend.remove({ type: 'index', name }));
}
