import assert from 'node:assert/strict';
import fc from 'fast-check';
import { allDayInterval, mergeBySource, mergeIntervals, mergeWithin, type BusyInterval, type SourcedInterval } from '../../src/domain/busy.js';

const BASE = Date.parse('2026-03-01T00:00:00.000Z');
const MINUTE = 60_000;

/** An interval `from` to `to` minutes after BASE. */
function at(from: number, to: number): BusyInterval {
  return { start: new Date(BASE + from * MINUTE).toISOString(), end: new Date(BASE + to * MINUTE).toISOString() };
}

function covers(intervals: readonly BusyInterval[], ms: number): boolean {
  return intervals.some((i) => Date.parse(i.start) <= ms && ms < Date.parse(i.end));
}

const anInterval = fc.tuple(fc.integer({ min: 0, max: 600 }), fc.integer({ min: -30, max: 120 })).map(([start, length]) => at(start, start + length));

describe('mergeIntervals', () => {
  it('when intervals overlap, touch or come unsorted, then they merge into sorted disjoint intervals', () => {
    const merged = mergeIntervals([at(60, 90), at(0, 30), at(30, 45), at(80, 120), at(200, 210)]);
    assert.deepEqual(merged, [at(0, 45), at(60, 120), at(200, 210)]);
  });

  it('when an interval is empty or inverted, then it vanishes', () => {
    assert.deepEqual(mergeIntervals([at(10, 10), at(50, 20), at(0, 5)]), [at(0, 5)]);
  });

  it('when instants carry an offset or no milliseconds, then the output is normalised to ms-precision UTC', () => {
    const merged = mergeIntervals([{ start: '2026-03-01T10:00:00+02:00', end: '2026-03-01T09:30Z' }]);
    assert.deepEqual(merged, [{ start: '2026-03-01T08:00:00.000Z', end: '2026-03-01T09:30:00.000Z' }]);
  });

  it('when an instant has no zone or is not a date, then it throws a RangeError', () => {
    assert.throws(() => mergeIntervals([{ start: '2026-03-01T10:00:00', end: '2026-03-01T11:00:00Z' }]), RangeError);
    assert.throws(() => mergeIntervals([{ start: '2026-03-01T10:00:00Z', end: 'soon' }]), RangeError);
  });

  it('when given any intervals, then the output is sorted, disjoint and covers exactly their union', () => {
    fc.assert(
      fc.property(fc.array(anInterval, { maxLength: 40 }), fc.array(fc.integer({ min: -10, max: 800 }), { maxLength: 50 }), (input, extra) => {
        const merged = mergeIntervals(input);
        for (const [i, m] of merged.entries()) {
          assert.ok(Date.parse(m.start) < Date.parse(m.end), 'every merged interval is non-empty');
          const next = merged[i + 1];
          // Strictly after: touching intervals would have been joined.
          if (next !== undefined) assert.ok(Date.parse(m.end) < Date.parse(next.start), 'sorted and disjoint');
        }
        const samples = [
          ...input.flatMap((i) => [Date.parse(i.start), Date.parse(i.end)]).flatMap((ms) => [ms - 1, ms, ms + 1]),
          ...extra.map((minutes) => BASE + minutes * MINUTE + 7),
        ];
        for (const ms of samples) assert.equal(covers(merged, ms), covers(input, ms), `coverage at ${new Date(ms).toISOString()}`);
      }),
    );
  });
});

describe('mergeBySource', () => {
  const from = (sourceId: string, start: number, end: number): SourcedInterval => ({ sourceId, ...at(start, end) });

  it('when intervals of several sources overlap or touch, then one interval lists every source once, sorted', () => {
    const merged = mergeBySource([from('outlook', 30, 60), from('google', 0, 30), from('google', 10, 20), from('icloud', 100, 110)]);
    assert.deepEqual(merged, [
      { ...at(0, 60), sourceIds: ['google', 'outlook'] },
      { ...at(100, 110), sourceIds: ['icloud'] },
    ]);
  });

  it('when a source only has an empty interval inside a merged one, then it is not listed', () => {
    assert.deepEqual(mergeBySource([from('a', 0, 60), from('b', 30, 30)]), [{ ...at(0, 60), sourceIds: ['a'] }]);
  });

  it('when given any intervals, then the union equals mergeIntervals and each lists exactly the sources inside it', () => {
    const aSourced = fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), anInterval).map(([sourceId, i]): SourcedInterval => ({ sourceId, ...i }));
    fc.assert(
      fc.property(fc.array(aSourced, { maxLength: 30 }), (input) => {
        const merged = mergeBySource(input);
        assert.deepEqual(
          merged.map(({ start, end }) => ({ start, end })),
          mergeIntervals(input),
        );
        for (const m of merged) {
          const inside = input.filter((i) => Date.parse(i.end) > Date.parse(i.start) && i.start >= m.start && i.end <= m.end);
          assert.deepEqual(m.sourceIds, [...new Set(inside.map((i) => i.sourceId))].sort());
        }
      }),
    );
  });
});

describe('mergeWithin', () => {
  it('when intervals cross the window\'s edges or lie outside it, then they are clipped or dropped, and the rest merged', () => {
    const window = { from: at(0, 0).start, to: at(100, 100).start };

    assert.deepEqual(mergeWithin([at(-30, 10), at(5, 20), at(90, 130), at(100, 120), at(-50, -10)], window), [at(0, 20), at(90, 100)]);
  });

  it('when generated intervals are merged within a window, then the answer is mergeIntervals of them restricted to the window', () => {
    fc.assert(
      fc.property(fc.array(anInterval, { maxLength: 30 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 400 }), (list, from, length) => {
        const window = { from: at(from, from).start, to: at(from + length, from + length).start };
        const merged = mergeWithin(list, window);
        const all = mergeIntervals(list);
        for (let minute = from - 10; minute < from + length + 10; minute += 1) {
          const ms = BASE + minute * MINUTE + 1;
          const inWindow = minute >= from && minute < from + length;
          assert.equal(covers(merged, ms), inWindow && covers(all, ms), `minute ${minute}`);
        }
      }),
    );
  });
});

describe('allDayInterval', () => {
  it('when the days are ordinary, then they run from local midnight to local midnight', () => {
    assert.deepEqual(allDayInterval('2026-11-10', '2026-11-12', 'America/New_York'), { start: '2026-11-10T05:00:00.000Z', end: '2026-11-12T05:00:00.000Z' });
    assert.deepEqual(allDayInterval('2026-11-10', '2026-11-11', 'UTC'), { start: '2026-11-10T00:00:00.000Z', end: '2026-11-11T00:00:00.000Z' });
  });

  it('when a DST change falls on the day, then the day lasts 25 or 23 hours', () => {
    assert.deepEqual(allDayInterval('2026-11-01', '2026-11-02', 'America/New_York'), { start: '2026-11-01T04:00:00.000Z', end: '2026-11-02T05:00:00.000Z' });
    assert.deepEqual(allDayInterval('2027-03-28', '2027-03-29', 'Europe/London'), { start: '2027-03-28T00:00:00.000Z', end: '2027-03-28T23:00:00.000Z' });
  });

  it('when DST skips midnight itself, then the day begins at the first instant it has', () => {
    // Chile springs forward at 24:00 on the first Saturday of September: 6 September 2026 starts at 01:00 -03.
    assert.deepEqual(allDayInterval('2026-09-06', '2026-09-07', 'America/Santiago'), { start: '2026-09-06T04:00:00.000Z', end: '2026-09-07T03:00:00.000Z' });
  });

  it('when a date or the zone is invalid, or no day is covered, then there is no interval', () => {
    assert.equal(allDayInterval('2026-11-10T00:00', '2026-11-11', 'UTC'), null);
    assert.equal(allDayInterval('2026-02-30', '2026-03-01', 'UTC'), null);
    assert.equal(allDayInterval('2026-11-10', '2026-11-11', 'Mars/Olympus'), null);
    assert.equal(allDayInterval('2026-11-10', '2026-11-10', 'UTC'), null);
  });
});
