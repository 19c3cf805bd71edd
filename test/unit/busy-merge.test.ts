import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mergeBySource, mergeIntervals, type BusyInterval, type SourcedInterval } from '../../src/domain/busy.js';

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
