/**
 * The top of the mounted tree, computed from the snapshot list alone (no I/O):
 *
 *   /snapshots/<time>/   /ids/<short id>/   /hosts/<host>/<time>/   /tags/<tag>/<time>/
 *
 * with a `latest` symlink in each listing. Below a snapshot entry, paths go into the
 * snapshot's tree, which vfs.ts resolves.
 */
import { SnapshotRef } from '../repo/snapshot.js';

export type NsEntry = NsDir | NsLink | NsSnapshot;

export interface NsDir {
  type: 'dir';
  /** Path of this directory from the mount root, '' for the root: the key of its inode. */
  path: string;
  mtimeMs: number;
  children: Map<string, NsEntry>;
}

export interface NsLink {
  type: 'link';
  path: string;
  target: string;
  mtimeMs: number;
}

export interface NsSnapshot {
  type: 'snapshot';
  ref: SnapshotRef;
  mtimeMs: number;
}

/** `2026-11-21T22:54:05Z`: restic's directory names, in UTC, to the second. */
export function timeName(time: string): string {
  return new Date(Date.parse(time)).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Host and tag names become one path component: no '/', never empty, never '.' or '..'. */
export function safeComponent(s: string): string {
  const t = s.replace(/\//g, '_');
  return t === '' || t === '.' || t === '..' ? `_${t}` : t;
}

/** Unique names: equal times get `-1`, `-2`... in snapshot order. */
export function snapshotNames(refs: SnapshotRef[]): Map<string, string> {
  const names = new Map<string, string>();
  const used = new Set<string>();
  for (const r of refs) {
    const base = timeName(r.snapshot.time);
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}-${i}`;
    used.add(name);
    names.set(r.id, name);
  }
  return names;
}

/** The shortest prefix of at least 8 characters that tells every id apart (restic shows 8). */
export function shortIds(ids: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const id of ids) {
    let len = 8;
    while (len < id.length && ids.some((o) => o !== id && o.startsWith(id.slice(0, len)))) len++;
    out.set(id, id.slice(0, len));
  }
  return out;
}

/** `refs` oldest first, as Repository.listSnapshots returns them. */
export function buildNamespace(refs: SnapshotRef[]): NsDir {
  const names = snapshotNames(refs);
  const short = shortIds(refs.map((r) => r.id));
  const root = dir('', refs);
  const add = (parent: NsDir, name: string, e: NsEntry) => parent.children.set(name, e);
  const listing = (path: string, members: SnapshotRef[], nameOf: (r: SnapshotRef) => string) => {
    const d = dir(path, members);
    for (const r of members) add(d, nameOf(r), { type: 'snapshot', ref: r, mtimeMs: Date.parse(r.snapshot.time) });
    const last = members[members.length - 1];
    if (last) add(d, 'latest', { type: 'link', path: `${path}/latest`, target: nameOf(last), mtimeMs: d.mtimeMs });
    return d;
  };
  add(root, 'snapshots', listing('/snapshots', refs, (r) => names.get(r.id)!));
  add(root, 'ids', listing('/ids', refs, (r) => short.get(r.id)!));
  for (const [group, keysOf] of [
    ['hosts', (r: SnapshotRef) => [r.snapshot.host]],
    ['tags', (r: SnapshotRef) => r.snapshot.tags],
  ] as const) {
    const byKey = new Map<string, SnapshotRef[]>();
    for (const r of refs) {
      for (const k of new Set(keysOf(r).map(safeComponent))) {
        if (!byKey.has(k)) byKey.set(k, []);
        byKey.get(k)!.push(r);
      }
    }
    const g = dir(`/${group}`, refs);
    for (const [k, members] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      add(g, k, listing(`/${group}/${k}`, members, (r) => names.get(r.id)!));
    }
    add(root, group, g);
  }
  return root;
}

function dir(path: string, members: SnapshotRef[]): NsDir {
  const last = members[members.length - 1];
  return { type: 'dir', path, mtimeMs: last ? Date.parse(last.snapshot.time) : 0, children: new Map() };
}

/** Splits an absolute path into components; '.' is dropped, '..' and empty names are refused. */
export function splitPath(p: string): string[] | undefined {
  const parts: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') return undefined;
    parts.push(c);
  }
  return parts;
}

/**
 * Walks the namespace as far as it goes. Either the path ends inside it (`rest` empty),
 * or it reaches a snapshot and `rest` is the path inside that snapshot. `undefined`: no
 * such entry (or a component below a symlink, which the kernel resolves itself).
 */
export function resolveNamespace(root: NsDir, parts: string[]): { entry: NsEntry; rest: string[] } | undefined {
  let entry: NsEntry = root;
  for (let i = 0; i < parts.length; i++) {
    if (entry.type === 'snapshot') return { entry, rest: parts.slice(i) };
    if (entry.type !== 'dir') return undefined;
    const next: NsEntry | undefined = entry.children.get(parts[i]);
    if (!next) return undefined;
    entry = next;
  }
  return { entry, rest: [] };
}
