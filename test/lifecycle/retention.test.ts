import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyPolicy, groupSnapshots, isoWeek, parseCalendarDuration, parseGroupBy, RetentionPolicy } from '../../repo/retention.js';

interface Snap {
  id: string;
  time: string;
  tags: string[];
}

const at = (y: number, m: number, d: number, h = 10, min = 0) => new Date(y, m - 1, d, h, min);
const day = (t: Date) => `${t.getFullYear()}-${String(t.getMonth() + 1).padStart(2, '0')}-${String(t.getDate()).padStart(2, '0')}`;

/** One snapshot a day at 10:00 from 2022-01-01 to 2024-06-30: 912 snapshots over two and a half years. */
function dailyTimeline(): Snap[] {
  const out: Snap[] = [];
  for (let t = at(2022, 1, 1); t <= at(2024, 6, 30); t = at(t.getFullYear(), t.getMonth() + 1, t.getDate() + 1)) {
    out.push({ id: day(t), time: t.toISOString(), tags: [] });
  }
  return out;
}

const keptDays = (p: RetentionPolicy, snaps = dailyTimeline()) => applyPolicy(snaps, p, at(2030, 1, 1)).keep.map((k) => k.snapshot.id);

test('the timeline spans more than two years', () => {
  const t = dailyTimeline();
  assert.equal(t.length, 912);
});

test('each period keeps the newest snapshot of its N most recent periods', () => {
  assert.deepEqual(keptDays({ daily: 3 }), ['2024-06-30', '2024-06-29', '2024-06-28']);
  // 2024-06-30 is a Sunday, the last day of ISO week 26.
  assert.deepEqual(keptDays({ weekly: 3 }), ['2024-06-30', '2024-06-23', '2024-06-16']);
  assert.deepEqual(keptDays({ monthly: 4 }), ['2024-06-30', '2024-05-31', '2024-04-30', '2024-03-31']);
  assert.deepEqual(keptDays({ yearly: 2 }), ['2024-06-30', '2023-12-31']);
  assert.deepEqual(keptDays({ last: 2 }), ['2024-06-30', '2024-06-29']);
});

test('while a period still has counts left, the oldest snapshot is kept too', () => {
  // Three years have snapshots; five were asked for, so the history reaches back to the very first.
  assert.deepEqual(keptDays({ yearly: 5 }), ['2024-06-30', '2023-12-31', '2022-12-31', '2022-01-01']);
  assert.equal(keptDays({ monthly: 100 }).length, 30 + 1);
});

test('combined policies list every reason, newest first', () => {
  const r = applyPolicy(dailyTimeline(), { last: 2, daily: 3, weekly: 2, monthly: 2, yearly: 1 }, at(2030, 1, 1));
  const reasons = Object.fromEntries(r.keep.map((k) => [k.snapshot.id, k.reasons]));
  assert.deepEqual(reasons, {
    '2024-06-30': ['last snapshot', 'daily snapshot', 'weekly snapshot', 'monthly snapshot', 'yearly snapshot'],
    '2024-06-29': ['last snapshot', 'daily snapshot'],
    '2024-06-28': ['daily snapshot'],
    '2024-06-23': ['weekly snapshot'],
    '2024-05-31': ['monthly snapshot'],
  });
  assert.equal(r.remove.length, 912 - 5);
});

test('several snapshots a day: the newest of each day counts, --keep-hourly works on hours', () => {
  const snaps: Snap[] = [];
  for (let d = 1; d <= 3; d++) for (const h of [1, 9, 17, 23]) snaps.push({ id: `d${d}h${h}`, time: at(2023, 3, d, h, 30).toISOString(), tags: [] });
  assert.deepEqual(keptDays({ daily: 2 }, snaps), ['d3h23', 'd2h23']);
  assert.deepEqual(keptDays({ hourly: 5 }, snaps), ['d3h23', 'd3h17', 'd3h9', 'd3h1', 'd2h23']);
  assert.deepEqual(keptDays({ last: -1 }, snaps).length, 12);
});

test('--keep-within counts back from the newest snapshot in calendar units', () => {
  const kept = keptDays({ within: parseCalendarDuration('1y2m3d4h') });
  // Newest 2024-06-30 10:00, minus 1 year 2 months 3 days = 2023-04-27 10:00, minus 4 hours = 06:00.
  assert.equal(kept.at(-1), '2023-04-27');
  assert.equal(kept.length, 431);
  const r = applyPolicy(dailyTimeline(), { within: parseCalendarDuration('2d') }, at(2030, 1, 1));
  assert.deepEqual(r.keep.map((k) => [k.snapshot.id, k.reasons]), [
    ['2024-06-30', ['within 2d']],
    ['2024-06-29', ['within 2d']],
  ]);
  // A snapshot with a clock far in the future does not shift the window.
  const future = [...dailyTimeline(), { id: 'future', time: at(2031, 1, 1).toISOString(), tags: [] }];
  assert.deepEqual(keptDays({ within: parseCalendarDuration('1d') }, future), ['future', '2024-06-30']);
});

test('--keep-within-<period> keeps one snapshot per period, back as far as its duration reaches', () => {
  // Every 15 minutes for 3 days, up to 2023-03-03 23:45: what frequent snapshots leave behind.
  const snaps: Snap[] = [];
  for (let d = 1; d <= 3; d++) for (let h = 0; h < 24; h++) for (const m of [0, 15, 30, 45]) snaps.push({ id: `d${d} ${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`, time: at(2023, 3, d, h, m).toISOString(), tags: [] });
  const r = applyPolicy(snaps, { within: parseCalendarDuration('2h'), withinPeriods: { hourly: parseCalendarDuration('1d'), daily: parseCalendarDuration('2d') } }, at(2030, 1, 1));
  const kept = new Map(r.keep.map((k) => [k.snapshot.id, k.reasons]));
  // Within 2h of 23:45: everything after 21:45.
  assert.deepEqual(kept.get('d3 23:45'), ['within 2h', 'hourly within 1d', 'daily within 2d']);
  assert.deepEqual(kept.get('d3 22:00'), ['within 2h']);
  // Hourly back to 23:45 the day before (exclusive): the newest of each hour.
  assert.deepEqual(kept.get('d3 20:45'), ['hourly within 1d']);
  assert.ok(!kept.has('d3 20:30'));
  assert.deepEqual(kept.get('d3 00:45'), ['hourly within 1d']);
  assert.ok(!kept.has('d2 22:45'), 'before the hourly window');
  assert.deepEqual(kept.get('d2 23:45'), ['daily within 2d'], 'the day before: its newest snapshot, daily only');
  assert.ok(!kept.has('d1 23:45'), 'outside the 2-day window');
  assert.equal(r.keep.length, 8 + 22 + 1, "8 within 2h, the hours 00-21 of the last day, the day before");
  assert.equal(r.keep.length + r.remove.length, snaps.length);
  // A zero duration is no policy at all.
  assert.equal(applyPolicy(snaps, { withinPeriods: { daily: parseCalendarDuration('0d') } }).remove.length, 0);
});

test('--keep-tag keeps snapshots carrying all tags of any list, without using up counts', () => {
  const snaps = dailyTimeline().map((s, i) => ({ ...s, tags: i % 100 === 0 ? ['release', 'q'] : i % 50 === 0 ? ['release'] : [] }));
  const r = applyPolicy(snaps, { tags: [['release', 'q']], last: 1 }, at(2030, 1, 1));
  assert.deepEqual(r.keep.map((k) => k.snapshot.id), ['2024-06-30', ...snaps.filter((s) => s.tags.includes('q')).map((s) => s.id).reverse()]);
  assert.deepEqual(r.keep[1].reasons, ['has tags [release, q]']);
});

test('an empty policy keeps everything', () => {
  const r = applyPolicy(dailyTimeline().slice(0, 5), {});
  assert.equal(r.keep.length, 5);
  assert.deepEqual(r.keep[0].reasons, ['policy is empty']);
});

test('ISO weeks: week 1 holds the first Thursday; late December can belong to next year', () => {
  assert.deepEqual(isoWeek(at(2021, 1, 3)), { year: 2020, week: 53 });
  assert.deepEqual(isoWeek(at(2021, 1, 4)), { year: 2021, week: 1 });
  assert.deepEqual(isoWeek(at(2024, 12, 30)), { year: 2025, week: 1 });
  assert.deepEqual(isoWeek(at(2024, 6, 30)), { year: 2024, week: 26 });
});

test('durations and group-by are parsed strictly', () => {
  assert.deepEqual(parseCalendarDuration('2y5d'), { years: 2, months: 0, days: 5, hours: 0 });
  assert.throws(() => parseCalendarDuration('5 days'), /like 1y2m3d4h/);
  assert.throws(() => parseCalendarDuration(''), /like 1y2m3d4h/);
  assert.throws(() => parseGroupBy('host,colour'), /colour/);
  const groups = groupSnapshots(
    [
      { host: 'a', paths: ['/x', '/y'], tags: [], kind: 'files' },
      { host: 'a', paths: ['/y', '/x'], tags: ['t'], kind: 'files' },
      { host: 'b', paths: ['/x', '/y'], tags: [], kind: 'files' },
    ],
    parseGroupBy('host,paths'),
  );
  assert.deepEqual(groups.map((g) => [g.key, g.members.length]), [[{ host: 'a', paths: ['/x', '/y'] }, 2], [{ host: 'b', paths: ['/x', '/y'] }, 1]]);
});

/**
 * An independent statement of the rule: bucket the snapshots, order the buckets by their
 * newest snapshot, keep the newest of the first N buckets, plus the oldest snapshot if
 * fewer than N buckets exist.
 */
function oracle(snaps: Snap[], bucket: (t: Date) => string, n: number): Set<string> {
  const sorted = [...snaps].sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  const seen: string[] = [];
  const keep = new Set<string>();
  for (const s of sorted) {
    const b = bucket(new Date(s.time));
    if (!seen.includes(b)) {
      seen.push(b);
      if (seen.length <= n) keep.add(s.id);
    }
  }
  if (seen.length < n && sorted.length) keep.add(sorted.at(-1)!.id);
  return keep;
}

test('property: random timelines over three years agree with a bucket-by-bucket statement of the rule', () => {
  const start = at(2021, 1, 1).getTime();
  const span = 3 * 365 * 86_400_000;
  const arb = fc.record({
    offsets: fc.uniqueArray(fc.integer({ min: 0, max: span }), { minLength: 1, maxLength: 300 }),
    n: fc.integer({ min: 1, max: 40 }),
    which: fc.constantFrom('daily', 'weekly', 'monthly', 'yearly', 'hourly') as fc.Arbitrary<'daily' | 'weekly' | 'monthly' | 'yearly' | 'hourly'>,
  });
  const buckets = {
    hourly: (t: Date) => `${day(t)} ${t.getHours()}`,
    daily: (t: Date) => day(t),
    weekly: (t: Date) => JSON.stringify(isoWeekIndependent(t)),
    monthly: (t: Date) => `${t.getFullYear()}-${t.getMonth()}`,
    yearly: (t: Date) => `${t.getFullYear()}`,
  };
  fc.assert(
    fc.property(arb, ({ offsets, n, which }) => {
      const snaps = offsets.map((o, i) => ({ id: `s${i}`, time: new Date(start + o).toISOString(), tags: [] }));
      const got = new Set(applyPolicy(snaps, { [which]: n }, new Date(start + span + 1)).keep.map((k) => k.snapshot.id));
      assert.deepEqual(got, oracle(snaps, buckets[which], n));
    }),
    { numRuns: 300 },
  );
});

/** ISO week by counting Mondays, written differently from the module's version. */
function isoWeekIndependent(t: Date): [number, number] {
  const d = new Date(t.getFullYear(), t.getMonth(), t.getDate());
  const mondayOffset = (d.getDay() + 6) % 7;
  const thursday = new Date(d.getFullYear(), d.getMonth(), d.getDate() - mondayOffset + 3);
  const jan1 = new Date(thursday.getFullYear(), 0, 1);
  const dayOfYear = Math.round((thursday.getTime() - jan1.getTime()) / 86_400_000);
  return [thursday.getFullYear(), Math.floor(dayOfYear / 7) + 1];
}
