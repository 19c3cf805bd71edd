import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import { expandSeries, type SeriesOccurrence, type SeriesSpec } from '../../src/domain/series.js';
import { isValidTimeZone } from '../../src/domain/time-zones.js';

function aSeries(overrides: Partial<SeriesSpec> = {}): SeriesSpec {
  return {
    firstStart: '2026-10-19T10:00',
    timezone: 'America/New_York',
    durationMinutes: 50,
    frequency: 'weekly',
    count: 4,
    ...overrides,
  };
}

function occurrencesOf(spec: SeriesSpec): SeriesOccurrence[] {
  const result = expandSeries(spec);
  assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.errors));
  return result.occurrences;
}

function localWallTimes(occurrences: SeriesOccurrence[], zone: string): string[] {
  return occurrences.map((o) => DateTime.fromISO(o.start, { zone }).toFormat("yyyy-MM-dd'T'HH:mm"));
}

describe('expandSeries', () => {
  it('when a weekly New York series crosses the November 2026 fall-back, then every occurrence is at 10:00 local (14:00Z before, 15:00Z after)', () => {
    const occurrences = occurrencesOf(aSeries());
    assert.deepEqual(occurrences, [
      { index: 1, start: '2026-10-19T14:00:00.000Z', end: '2026-10-19T14:50:00.000Z' },
      { index: 2, start: '2026-10-26T14:00:00.000Z', end: '2026-10-26T14:50:00.000Z' },
      { index: 3, start: '2026-11-02T15:00:00.000Z', end: '2026-11-02T15:50:00.000Z' },
      { index: 4, start: '2026-11-09T15:00:00.000Z', end: '2026-11-09T15:50:00.000Z' },
    ]);
    assert.deepEqual(localWallTimes(occurrences, 'America/New_York'), [
      '2026-10-19T10:00',
      '2026-10-26T10:00',
      '2026-11-02T10:00',
      '2026-11-09T10:00',
    ]);
  });

  it('when a weekly New York series crosses the March 2027 spring-forward, then every occurrence is at 10:00 local (15:00Z before, 14:00Z after)', () => {
    const occurrences = occurrencesOf(aSeries({ firstStart: '2027-03-01T10:00', count: 3 }));
    assert.deepEqual(
      occurrences.map((o) => o.start),
      ['2027-03-01T15:00:00.000Z', '2027-03-08T15:00:00.000Z', '2027-03-15T14:00:00.000Z'],
    );
    assert.deepEqual(localWallTimes(occurrences, 'America/New_York'), ['2027-03-01T10:00', '2027-03-08T10:00', '2027-03-15T10:00']);
  });

  it('when a weekly London series crosses the last Sunday of October, then every occurrence is at 10:00 local (09:00Z before, 10:00Z after)', () => {
    const occurrences = occurrencesOf(aSeries({ firstStart: '2026-10-18T10:00', timezone: 'Europe/London', count: 3 }));
    assert.deepEqual(
      occurrences.map((o) => o.start),
      ['2026-10-18T09:00:00.000Z', '2026-10-25T10:00:00.000Z', '2026-11-01T10:00:00.000Z'],
    );
    assert.deepEqual(localWallTimes(occurrences, 'Europe/London'), ['2026-10-18T10:00', '2026-10-25T10:00', '2026-11-01T10:00']);
  });

  it('when the series is biweekly, then occurrences are 14 days apart at the same local time', () => {
    const occurrences = occurrencesOf(aSeries({ frequency: 'biweekly', count: 3 }));
    assert.deepEqual(
      occurrences.map((o) => [o.index, o.start]),
      [
        [1, '2026-10-19T14:00:00.000Z'],
        [2, '2026-11-02T15:00:00.000Z'],
        [3, '2026-11-16T15:00:00.000Z'],
      ],
    );
  });

  it('when count is 1, then there is exactly the first occurrence', () => {
    assert.deepEqual(occurrencesOf(aSeries({ count: 1 })).map((o) => o.start), ['2026-10-19T14:00:00.000Z']);
  });

  it('when firstStart has seconds, then they are kept', () => {
    assert.equal(occurrencesOf(aSeries({ firstStart: '2026-10-19T10:00:30', count: 1 }))[0]?.start, '2026-10-19T14:00:30.000Z');
  });

  const untilCases: [string, string, number][] = [
    // [scenario, until, expected number of occurrences from Monday 2026-10-19 10:00]
    ['until is the date of an occurrence (inclusive)', '2026-11-09', 4],
    ['until is the day before an occurrence', '2026-11-08', 3],
    ['until is the date of firstStart', '2026-10-19', 1],
    ['until is the exact local start of an occurrence (inclusive)', '2026-11-09T10:00', 4],
    ['until is one minute before an occurrence', '2026-11-09T09:59', 3],
    ['until is a local date-time with seconds', '2026-11-09T10:00:00', 4],
    ['until is the 104th occurrence date', '2028-10-09', 104],
  ];
  for (const [scenario, until, expected] of untilCases) {
    it(`when ${scenario}, then there are ${expected} occurrences`, () => {
      const occurrences = occurrencesOf(aSeries({ count: undefined, until }));
      assert.equal(occurrences.length, expected);
      assert.equal(occurrences.at(-1)?.index, expected);
    });
  }

  it('when until is a date in a zone far from UTC, then it is read as a local date', () => {
    // 2026-10-19 20:00 in Honolulu is 2026-10-20T06:00Z: still 2026-10-19 locally.
    const occurrences = occurrencesOf(aSeries({ firstStart: '2026-10-19T20:00', timezone: 'Pacific/Honolulu', count: undefined, until: '2026-10-26' }));
    assert.deepEqual(occurrences.map((o) => o.start), ['2026-10-20T06:00:00.000Z', '2026-10-27T06:00:00.000Z']);
  });

  it('when a later week falls in the spring-forward gap, then that occurrence shifts forward by the gap and the next week returns to the wall time', () => {
    const occurrences = occurrencesOf(aSeries({ firstStart: '2027-03-07T02:30', count: 3 }));
    assert.deepEqual(localWallTimes(occurrences, 'America/New_York'), ['2027-03-07T02:30', '2027-03-14T03:30', '2027-03-21T02:30']);
    assert.deepEqual(
      occurrences.map((o) => o.start),
      ['2027-03-07T07:30:00.000Z', '2027-03-14T07:30:00.000Z', '2027-03-21T06:30:00.000Z'],
    );
  });

  it('when firstStart is in the repeated fall-back hour, then it resolves to the later (standard-time) instant', () => {
    assert.equal(occurrencesOf(aSeries({ firstStart: '2026-11-01T01:30', count: 1 }))[0]?.start, '2026-11-01T06:30:00.000Z');
  });

  it('when a later week falls in the repeated fall-back hour, then it keeps the daylight-time offset of firstStart', () => {
    const occurrences = occurrencesOf(aSeries({ firstStart: '2026-10-25T01:30', count: 2 }));
    assert.deepEqual(occurrences.map((o) => o.start), ['2026-10-25T05:30:00.000Z', '2026-11-01T05:30:00.000Z']);
  });

  it('when a session spans the fall-back change, then it lasts its duration in real time', () => {
    const [only] = occurrencesOf(aSeries({ firstStart: '2026-11-01T00:30', durationMinutes: 120, count: 1 }));
    assert.deepEqual(only, { index: 1, start: '2026-11-01T04:30:00.000Z', end: '2026-11-01T06:30:00.000Z' });
  });

  const invalid: [string, Partial<SeriesSpec> & Record<string, unknown>, string, RegExp][] = [
    // [scenario, overrides, error path, message fragment]
    ['the zone is unknown', { timezone: 'Mars/Olympus_Mons' }, 'timezone', /valid IANA time zone/],
    ['the zone is empty', { timezone: '' }, 'timezone', /valid IANA time zone/],
    ['firstStart ends in Z', { firstStart: '2026-10-19T10:00Z' }, 'firstStart', /without an offset or "Z"/],
    ['firstStart has an offset', { firstStart: '2026-10-19T10:00-04:00' }, 'firstStart', /without an offset/],
    ['firstStart has fractional seconds', { firstStart: '2026-10-19T10:00:00.000' }, 'firstStart', /local date-time "YYYY-MM-DDTHH:mm"/],
    ['firstStart uses a space', { firstStart: '2026-10-19 10:00' }, 'firstStart', /local date-time/],
    ['firstStart is a date only', { firstStart: '2026-10-19' }, 'firstStart', /local date-time/],
    ['firstStart is not a real date', { firstStart: '2026-02-30T10:00' }, 'firstStart', /local date-time/],
    ['firstStart is 24:00', { firstStart: '2026-10-19T24:00' }, 'firstStart', /local date-time/],
    ['firstStart is not a string', { firstStart: 1_700_000_000_000 as unknown as string }, 'firstStart', /string/],
    ['firstStart is in the spring-forward gap', { firstStart: '2027-03-14T02:30' }, 'firstStart', /2027-03-14T02:30 does not exist in America\/New_York/],
    ['firstStart is in the London spring-forward gap', { firstStart: '2027-03-28T01:30', timezone: 'Europe/London' }, 'firstStart', /does not exist/],
    ['durationMinutes is 0', { durationMinutes: 0 }, 'durationMinutes', /from 1 to 1440/],
    ['durationMinutes is 1441', { durationMinutes: 1441 }, 'durationMinutes', /from 1 to 1440/],
    ['durationMinutes is fractional', { durationMinutes: 50.5 }, 'durationMinutes', /whole number/],
    ['durationMinutes is NaN', { durationMinutes: Number.NaN }, 'durationMinutes', /whole number/],
    ['frequency is monthly', { frequency: 'monthly' as SeriesSpec['frequency'] }, 'frequency', /"weekly" or "biweekly"/],
    ['count is 0', { count: 0 }, 'count', /from 1 to 104/],
    ['count is 105', { count: 105 }, 'count', /from 1 to 104/],
    ['count is fractional', { count: 2.5 }, 'count', /whole number/],
    ['neither count nor until is given', { count: undefined }, 'count', /either count or until/],
    ['count is null and until is absent', { count: null as unknown as number }, 'count', /either count or until/],
    ['both count and until are given', { until: '2026-12-31' }, 'until', /not both/],
    ['until is a date before firstStart', { count: undefined, until: '2026-10-18' }, 'until', /not be before firstStart/],
    ['until is a date-time before firstStart', { count: undefined, until: '2026-10-19T09:59' }, 'until', /not be before firstStart/],
    ['until is not a real date', { count: undefined, until: '2026-13-01' }, 'until', /local date "YYYY-MM-DD" or a local date-time/],
    ['until has an offset', { count: undefined, until: '2026-11-09T10:00Z' }, 'until', /without an offset/],
    ['until gives more than 104 occurrences', { count: undefined, until: '2028-10-16' }, 'until', /more than 104 occurrences/],
    ['until is years away', { count: undefined, until: '2099-01-01' }, 'until', /more than 104 occurrences/],
    ['biweekly until gives more than 104 occurrences', { frequency: 'biweekly', count: undefined, until: '2030-10-14' }, 'until', /more than 104/],
  ];
  for (const [scenario, overrides, path, message] of invalid) {
    it(`when ${scenario}, then the error names ${path}`, () => {
      const result = expandSeries(aSeries(overrides));
      assert.ok(!result.ok, 'expected an error');
      assert.deepEqual(result.errors.map((e) => e.path), [path]);
      assert.match(result.errors[0]!.message, message);
    });
  }

  it('when the series starts before 1970, then the error names firstStart', () => {
    const result = expandSeries(aSeries({ firstStart: '1969-12-29T10:00' }));
    assert.ok(!result.ok);
    assert.deepEqual(result.errors.map((e) => e.path), ['firstStart']);
    assert.match(result.errors[0]!.message, /1970-01-01T00:00:00.000Z to 2200-01-01T00:00:00.000Z/);
  });

  it('when the last occurrence would end after 2200-01-01T00:00Z, then the error names count (or until)', () => {
    const byCount = expandSeries(aSeries({ firstStart: '2199-12-01T10:00', timezone: 'UTC', count: 10 }));
    assert.ok(!byCount.ok);
    assert.deepEqual(byCount.errors.map((e) => e.path), ['count']);
    const byUntil = expandSeries(aSeries({ firstStart: '2199-12-01T10:00', timezone: 'UTC', count: undefined, until: '2200-02-01' }));
    assert.ok(!byUntil.ok);
    assert.deepEqual(byUntil.errors.map((e) => e.path), ['until']);
  });

  it('when the last occurrence ends exactly at 2200-01-01T00:00Z, then the series is accepted', () => {
    const occurrences = occurrencesOf(aSeries({ firstStart: '2199-12-17T23:10', timezone: 'UTC', count: 3 }));
    assert.equal(occurrences.at(-1)?.end, '2200-01-01T00:00:00.000Z');
  });

  it('when biweekly until allows exactly 104 occurrences, then they are all returned', () => {
    // 2030-09-30 is 103 fortnights after 2026-10-19.
    const occurrences = occurrencesOf(aSeries({ frequency: 'biweekly', count: undefined, until: '2030-09-30' }));
    assert.equal(occurrences.length, 104);
  });

  it('when several fields are wrong, then every one is reported', () => {
    const result = expandSeries({
      firstStart: 'tomorrow',
      timezone: 'Nowhere/Special',
      durationMinutes: -5,
      frequency: 'daily' as SeriesSpec['frequency'],
      count: 500,
    });
    assert.ok(!result.ok);
    assert.deepEqual(result.errors.map((e) => e.path).sort(), ['count', 'durationMinutes', 'firstStart', 'frequency', 'timezone']);
  });
});

describe('isValidTimeZone', () => {
  const cases: [string, boolean][] = [
    ['America/New_York', true],
    ['Europe/London', true],
    ['UTC', true],
    ['Mars/Olympus_Mons', false],
    ['', false],
    ['New York', false],
  ];
  for (const [zone, expected] of cases) {
    it(`when the zone is ${JSON.stringify(zone)}, then it is ${expected ? 'valid' : 'invalid'}`, () => {
      assert.equal(isValidTimeZone(zone), expected);
    });
  }
});
