/** Changing a snapshot's tags: a snapshot object is immutable, so a new one replaces it. */
import { Repository } from './repository.js';
import { SnapshotRef } from './snapshot.js';

export interface TagChange {
  add?: string[];
  remove?: string[];
  /** Replaces all tags (applied before add and remove). */
  set?: string[];
}

export function newTags(tags: string[], change: TagChange): string[] {
  let out = change.set ? [...change.set] : [...tags];
  for (const t of change.add ?? []) if (!out.includes(t)) out.push(t);
  out = out.filter((t) => !(change.remove ?? []).includes(t));
  return [...new Set(out)];
}

/** Saves the snapshot with new tags, then deletes the old one. Returns the new id, or undefined when nothing changed. */
export async function retag(repo: Repository, ref: SnapshotRef, change: TagChange): Promise<string | undefined> {
  const tags = newTags(ref.snapshot.tags, change);
  if (tags.length === ref.snapshot.tags.length && tags.every((t, i) => t === ref.snapshot.tags[i])) return undefined;
  const id = await repo.saveSnapshot({ ...ref.snapshot, tags, original: ref.snapshot.original ?? ref.id });
  await repo.backend.remove({ type: 'snapshots', name: ref.id });
  return id;
}
