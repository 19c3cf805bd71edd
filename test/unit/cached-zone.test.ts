import assert from 'node:assert/strict';
import { IANAZone } from 'luxon';
import { CachedIanaZone } from '../../feeds/cached-zone.js';

describe('CachedIanaZone', () => {
  const HOUR = 3_600_000;
  const from = Date.parse('2026-01-01T00:00:00Z');
  const to = Date.parse('2028-01-01T00:00:00Z');

  // New York and London (1 h shifts), Lord Howe (30-minute DST), St John's (-3:30), Kathmandu (+5:45, no DST).
  for (const name of ['America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'America/St_Johns', 'Asia/Kathmandu']) {
    it(`when asked around every transition of ${name} in 2026-2027, then it answers exactly as luxon's IANAZone`, () => {
      const exact = IANAZone.create(name);
      const cached = new CachedIanaZone(name);
      const transitions: number[] = [];
      for (let ts = from; ts < to; ts += HOUR) {
        if (exact.offset(ts) !== exact.offset(ts + HOUR)) transitions.push(ts);
      }
      if (name !== 'Asia/Kathmandu') assert.ok(transitions.length >= 4, `found ${transitions.length} transitions`);
      for (const t of transitions) {
        for (let ts = t - 2 * HOUR; ts <= t + 3 * HOUR; ts += 60_000) {
          assert.equal(cached.offset(ts), exact.offset(ts), `${name} at ${new Date(ts).toISOString()}`);
        }
      }
      // Asked again, from the memo: still exact.
      for (const t of transitions) assert.equal(cached.offset(t + 30 * 60_000), exact.offset(t + 30 * 60_000));
      assert.equal(cached.offset(Date.parse('2026-06-15T12:00:00Z')), exact.offset(Date.parse('2026-06-15T12:00:00Z')));
    });
  }
});
