import { readFileSync } from 'node:fs';

/** uid/gid to name from /etc/passwd and /etc/group, read once per process. */
function load(file: string): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && /^\d+$/.test(f[2])) m.set(Number(f[2]), f[0]);
    }
  } catch {}
  return m;
}

let users: Map<number, string> | undefined;
let groups: Map<number, string> | undefined;

export function userName(uid: number): string | undefined {
  return (users ??= load('/etc/passwd')).get(uid);
}

export function groupName(gid: number): string | undefined {
  return (groups ??= load('/etc/group')).get(gid);
}

function reverse(m: Map<number, string>, name: string): number | undefined {
  for (const [id, n] of m) if (n === name) return id;
  return undefined;
}

export function uidOf(name: string): number | undefined {
  return reverse((users ??= load('/etc/passwd')), name);
}

export function gidOf(name: string): number | undefined {
  return reverse((groups ??= load('/etc/group')), name);
}

/** Both tables, as one string that changes when any name does. */
export function nameTables(): string {
  users ??= load('/etc/passwd');
  groups ??= load('/etc/group');
  return JSON.stringify([[...users], [...groups]]);
}
