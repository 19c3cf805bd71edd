import assert from 'node:assert/strict';
import { buildVtimezone } from '../../feeds/vtimezone.js';

const ms = (iso: string) => Date.parse(iso);

/** [kind, TZOFFSETFROM, TZOFFSETTO, DTSTART] of each observance. */
function observances(block: string): string[][] {
  const found: string[][] = [];
  let current: Record<string, string> = {};
  for (const line of block.split('\r\n')) {
    const [name = '', value = ''] = line.split(/:(.*)/s);
    if (name === 'BEGIN' && (value === 'STANDARD' || value === 'DAYLIGHT')) current = { kind: value };
    else if (name === 'END' && (value === 'STANDARD' || value === 'DAYLIGHT')) {
      found.push([current['kind'] ?? '', current['TZOFFSETFROM'] ?? '', current['TZOFFSETTO'] ?? '', current['DTSTART'] ?? '']);
    } else current[name] = value;
  }
  return found;
}

describe('buildVtimezone', () => {
  it('when New York in 2026 is asked for, then the year starts in EST and both US changes follow at 02:00 local', () => {
    const block = buildVtimezone('America/New_York', ms('2026-11-10T15:00:00Z'), ms('2026-11-10T15:50:00Z'));
    assert.ok(block.startsWith('BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\n'));
    assert.ok(block.endsWith('\r\nEND:VTIMEZONE'));
    assert.deepEqual(observances(block), [
      ['STANDARD', '-0500', '-0500', '20251231T190000'],
      ['DAYLIGHT', '-0500', '-0400', '20260308T020000'],
      ['STANDARD', '-0400', '-0500', '20261101T020000'],
    ]);
  });

  it('when the events move within the same years, then the block is byte-identical (a sliding feed window keeps it)', () => {
    const a = buildVtimezone('Europe/London', ms('2026-01-03T10:00:00Z'), ms('2027-02-01T10:00:00Z'));
    const b = buildVtimezone('Europe/London', ms('2026-12-30T10:00:00Z'), ms('2027-12-31T10:00:00Z'));
    assert.equal(a, b);
    assert.equal(observances(a).length, 5);
  });

  it('when a zone has no changes, then one observance with its offset, half and three-quarter hours included', () => {
    assert.deepEqual(observances(buildVtimezone('Asia/Kolkata', ms('2026-05-01T00:00:00Z'), ms('2026-05-02T00:00:00Z'))), [
      ['STANDARD', '+0530', '+0530', '20260101T053000'],
    ]);
    assert.deepEqual(observances(buildVtimezone('Asia/Kathmandu', ms('2026-05-01T00:00:00Z'), ms('2026-05-02T00:00:00Z'))), [
      ['STANDARD', '+0545', '+0545', '20260101T054500'],
    ]);
  });

  it('when a southern-hemisphere zone is asked for, then DST is in force at the start of the year and ends in April', () => {
    const [first, second] = observances(buildVtimezone('Australia/Sydney', ms('2026-02-01T00:00:00Z'), ms('2026-03-01T00:00:00Z')));
    assert.deepEqual(first, ['DAYLIGHT', '+1100', '+1100', '20260101T110000']);
    assert.deepEqual(second, ['STANDARD', '+1100', '+1000', '20260405T030000']);
  });

  it('when the zone is unknown, then it throws a RangeError', () => {
    assert.throws(() => buildVtimezone('Mars/Olympus_Mons', 0, 1), RangeError);
  });
});
