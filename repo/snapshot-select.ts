import { Repository } from './repository.js';
import { SnapshotRef } from './snapshot.js';
import { SnapshotNotFoundError } from './errors/snapshot-not-found-error.js';
import { groupSnapshots } from './retention.js';

/**
 * A backup's parent: the snapshot given by id, none for null, else the latest file
 * snapshot of the same host and the same set of paths.
 */
export async function resolveParent(repo: Repository, host: string, paths: string[], parent: string | null | undefined): Promise<SnapshotRef | undefined> {
  if (parent === null) return undefined;
  if (parent) return { id: parent, snapshot: await repo.loadSnapshot(parent) };
  const want = pathSetKey(paths);
  const all = await repo.listSnapshots(() => {});
  return all.filter((r) => r.snapshot.kind === 'files' && r.snapshot.host === host && pathSetKey(r.snapshot.paths) === want).pop();
}

/** Equal for two lists of the same paths in any order. */
export function pathSetKey(paths: string[]): string {
  return [...paths].sort().join('\0');
}

export interface SnapshotFilter {
  host?: string;
  paths?: string[];
  tags?: string[];
}

/** `latest`, a full id, or a unique prefix of at least 4 hex characters. */
export async function resolveSnapshot(repo: Repository, query: string, filter: SnapshotFilter = {}): Promise<SnapshotRef> {
  if (query === 'latest') {
    const all = (await repo.listSnapshots(() => {})).filter((r) => matches(r, filter));
    const last = all.pop();
    if (!last) throw new SnapshotNotFoundError(query, 'there is no snapshot yet for');
    return last;
  }
  if (!/^[0-9a-f]{4,64}$/.test(query)) throw new SnapshotNotFoundError(query, 'a snapshot is `latest`, an id, or an id prefix of at least 4 hex characters, not');
  const ids: string[] = [];
  for await (const f of repo.backend.list('snapshots')) if (f.name.startsWith(query)) ids.push(f.name);
  if (ids.length === 0) throw new SnapshotNotFoundError(query);
  if (ids.length > 1) throw new SnapshotNotFoundError(query, `${ids.length} snapshots match; give more characters of`);
  return { id: ids[0], snapshot: await repo.loadSnapshot(ids[0]) };
}

/**
 * Named snapshots in the order given (the filter picks `latest`; one named twice is taken
 * once), else every match, oldest first. A damaged snapshot is reported and left out.
 */
export async function selectSnapshots(repo: Repository, named: string[], filter: SnapshotFilter, onDamaged: (err: Error) => void): Promise<SnapshotRef[]> {
  if (named.length === 0) return (await repo.listSnapshots(onDamaged)).filter((r) => matches(r, filter));
  const refs = new Map<string, SnapshotRef>();
  for (const q of named) {
    const r = await resolveSnapshot(repo, q, filter);
    if (!refs.has(r.id)) refs.set(r.id, r);
  }
  return [...refs.values()];
}

export function matches(r: SnapshotRef, f: SnapshotFilter): boolean {
  if (f.host && r.snapshot.host !== f.host) return false;
  if (f.tags?.length && !f.tags.every((t) => r.snapshot.tags.includes(t))) return false;
  if (f.paths?.length && !f.paths.every((p) => r.snapshot.paths.includes(p))) return false;
  return true;
}

/** `snapshots --latest N`: the N newest of each host and set of paths, in the given (oldest-first) order. */
export function latestPerGroup(refs: SnapshotRef[], n: number): SnapshotRef[] {
  const groups = groupSnapshots(refs.map((r) => ({ ...r.snapshot, ref: r })), ['host', 'paths']);
  const keep = new Set(groups.flatMap((g) => g.members.slice(-n).map((m) => m.ref)));
  return refs.filter((r) => keep.has(r));
}

/** Splits `SNAPSHOT:/sub/path`. */
export function splitSnapshotArg(arg: string): { snapshot: string; subpath: string } {
  const i = arg.indexOf(':');
  return i < 0 ? { snapshot: arg, subpath: '/' } : { snapshot: arg.slice(0, i), subpath: arg.slice(i + 1) || '/' };
}
