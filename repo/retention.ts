/**
 * Which snapshots a retention policy keeps, with restic's semantics: snapshots are
 * considered newest first; each `--keep-<period> N` keeps the newest snapshot of each of
 * the N most recent periods that have one (and the oldest snapshot too while it still has
 * counts left, so the history reaches back as far as possible); `--keep-last N` keeps
 * the N newest; `--keep-within` keeps what is younger than the newest snapshot minus the
 * duration; `--keep-within-<period>` keeps the newest snapshot of each period among those
 * younger than the newest snapshot minus its duration; `--keep-tag` keeps snapshots
 * carrying all tags of any one list. Periods use local calendar time. Pure: no I/O.
 */

/** A count of -1 means unlimited. */
export interface RetentionPolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  within?: CalendarDuration;
  /** `--keep-within-hourly` etc.: one snapshot per period, back this far from the newest. */
  withinPeriods?: Partial<Record<Period, CalendarDuration>>;
  /** Each list names tags that must all be present. */
  tags?: string[][];
}

export interface CalendarDuration {
  years: number;
  months: number;
  days: number;
  hours: number;
}

export interface PolicySnapshot {
  id: string;
  time: string;
  tags: string[];
}

export interface KeptSnapshot<T> {
  snapshot: T;
  reasons: string[];
}

export interface PolicyResult<T> {
  /** Newest first. */
  keep: KeptSnapshot<T>[];
  remove: T[];
}

export const PERIODS = ['hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
export type Period = (typeof PERIODS)[number];

export function isEmptyPolicy(p: RetentionPolicy): boolean {
  const counts = [p.last, p.hourly, p.daily, p.weekly, p.monthly, p.yearly];
  const durations = [p.within, ...Object.values(p.withinPeriods ?? {})];
  return counts.every((c) => !c) && !p.tags?.length && durations.every((d) => !d || durationIsZero(d));
}

function durationIsZero(d: CalendarDuration): boolean {
  return d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0;
}

/** "1y2m3d4h" (any subset, in any order): years, months, days, hours. */
export function parseCalendarDuration(s: string): CalendarDuration {
  const d: CalendarDuration = { years: 0, months: 0, days: 0, hours: 0 };
  const fields: Record<string, keyof CalendarDuration> = { y: 'years', m: 'months', d: 'days', h: 'hours' };
  const text = s.trim();
  if (!/^(\d+[ymdh])+$/.test(text)) throw new Error(`a duration is like 1y2m3d4h (years, months, days, hours), not ${JSON.stringify(s)}`);
  for (const m of text.matchAll(/(\d+)([ymdh])/g)) d[fields[m[2]]] += Number(m[1]);
  return d;
}

export function formatCalendarDuration(d: CalendarDuration): string {
  const parts = [[d.years, 'y'], [d.months, 'm'], [d.days, 'd'], [d.hours, 'h']].filter(([n]) => n !== 0);
  return parts.map(([n, u]) => `${n}${u}`).join('') || '0h';
}

type Bucketer = (t: Date, position: number) => number;

const byPosition: Bucketer = (_t, position) => position;
const byHour: Bucketer = (t) => ((t.getFullYear() * 100 + t.getMonth() + 1) * 100 + t.getDate()) * 100 + t.getHours();
const byDay: Bucketer = (t) => (t.getFullYear() * 100 + t.getMonth() + 1) * 100 + t.getDate();
const byWeek: Bucketer = (t) => {
  const { year, week } = isoWeek(t);
  return year * 100 + week;
};
const byMonth: Bucketer = (t) => t.getFullYear() * 100 + t.getMonth() + 1;
const byYear: Bucketer = (t) => t.getFullYear();
const BY_PERIOD: Record<Period, Bucketer> = { hourly: byHour, daily: byDay, weekly: byWeek, monthly: byMonth, yearly: byYear };

/** ISO 8601 week of the local calendar date: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(t: Date): { year: number; week: number } {
  const day = new Date(Date.UTC(t.getFullYear(), t.getMonth(), t.getDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday); // the Thursday of this week
  const year = day.getUTCFullYear();
  const week = Math.floor((day.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 / 7) + 1;
  return { year, week };
}

export function applyPolicy<T extends PolicySnapshot>(snapshots: T[], policy: RetentionPolicy, now = new Date()): PolicyResult<T> {
  const list = [...snapshots].sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  if (isEmptyPolicy(policy)) return { keep: list.map((s) => ({ snapshot: s, reasons: ['policy is empty'] })), remove: [] };

  const buckets = [
    { count: policy.last ?? 0, bucket: byPosition, reason: 'last snapshot' },
    { count: policy.hourly ?? 0, bucket: byHour, reason: 'hourly snapshot' },
    { count: policy.daily ?? 0, bucket: byDay, reason: 'daily snapshot' },
    { count: policy.weekly ?? 0, bucket: byWeek, reason: 'weekly snapshot' },
    { count: policy.monthly ?? 0, bucket: byMonth, reason: 'monthly snapshot' },
    { count: policy.yearly ?? 0, bucket: byYear, reason: 'yearly snapshot' },
  ].map((b) => ({ ...b, last: NaN }));
  const newest = newestNotInFuture(list, now);
  const withinStart = policy.within ? subtract(newest, policy.within) : undefined;
  const withinBuckets = PERIODS.flatMap((period) => {
    const d = policy.withinPeriods?.[period];
    if (!d || durationIsZero(d)) return [];
    return [{ start: subtract(newest, d), bucket: BY_PERIOD[period], reason: `${period} within ${formatCalendarDuration(d)}`, last: NaN }];
  });

  const result: PolicyResult<T> = { keep: [], remove: [] };
  list.forEach((snap, position) => {
    const t = new Date(snap.time);
    const reasons: string[] = [];
    for (const tags of policy.tags ?? []) {
      if (tags.every((tag) => snap.tags.includes(tag))) reasons.push(`has tags [${tags.join(', ')}]`);
    }
    if (withinStart !== undefined && t.getTime() > withinStart) reasons.push(`within ${formatCalendarDuration(policy.within!)}`);
    for (const b of withinBuckets) {
      if (t.getTime() <= b.start) continue;
      const value = b.bucket(t, position);
      if (value !== b.last) {
        b.last = value;
        reasons.push(b.reason);
      }
    }
    for (const b of buckets) {
      if (b.count === 0) continue;
      const value = b.bucket(t, position);
      if (value !== b.last || position === list.length - 1) {
        b.last = value;
        if (b.count > 0) b.count--;
        reasons.push(b.reason);
      }
    }
    if (reasons.length > 0) result.keep.push({ snapshot: snap, reasons });
    else result.remove.push(snap);
  });
  return result;
}

/** The newest snapshot time that is not in the future: a clock set wrong once must not hide the rest. */
function newestNotInFuture(list: PolicySnapshot[], now: Date): number {
  const times = list.map((s) => Date.parse(s.time)).filter((t) => t <= now.getTime());
  return times.length ? Math.max(...times) : -Infinity;
}

function subtract(from: number, d: CalendarDuration): number {
  if (from === -Infinity) return from;
  const t = new Date(from);
  const shifted = new Date(t.getFullYear() - d.years, t.getMonth() - d.months, t.getDate() - d.days, t.getHours(), t.getMinutes(), t.getSeconds(), t.getMilliseconds());
  return shifted.getTime() - d.hours * 3_600_000;
}

export interface GroupKey {
  host?: string;
  paths?: string[];
  tags?: string[];
  kind?: string;
}

export type GroupField = 'host' | 'paths' | 'tags' | 'kind';

export function parseGroupBy(s: string): GroupField[] {
  const fields = s.split(',').map((f) => f.trim()).filter(Boolean);
  for (const f of fields) {
    if (!['host', 'paths', 'tags', 'kind'].includes(f)) throw new Error(`--group-by takes a comma-separated list of host, paths, tags and kind, not ${JSON.stringify(f)}`);
  }
  return fields as GroupField[];
}

/** Splits snapshots into groups that a policy applies to separately, in first-seen order. */
export function groupSnapshots<T extends { host: string; paths: string[]; tags: string[]; kind: string }>(snaps: T[], by: GroupField[]): { key: GroupKey; members: T[] }[] {
  const groups = new Map<string, { key: GroupKey; members: T[] }>();
  for (const s of snaps) {
    const key: GroupKey = {};
    if (by.includes('host')) key.host = s.host;
    if (by.includes('paths')) key.paths = [...s.paths].sort();
    if (by.includes('tags')) key.tags = [...s.tags].sort();
    if (by.includes('kind')) key.kind = s.kind;
    const k = JSON.stringify(key);
    if (!groups.has(k)) groups.set(k, { key, members: [] });
    groups.get(k)!.members.push(s);
  }
  return [...groups.values()];
}
