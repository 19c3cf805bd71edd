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

  // Zones with odd histories: a skipped day (Apia 2011), 2-hour DST (Troll), DST suspended for
  // Ramadan (Casablanca), offset changes without DST (Caracas, Moscow), and the memo's own
  // assumption of at most one change a day put to the test over two centuries.
  for (const name of ['Pacific/Apia', 'Antarctica/Troll', 'Africa/Casablanca', 'America/Caracas', 'Europe/Moscow', 'America/New_York']) {
    it(`when asked at scattered instants from 1900 to 2100 in ${name}, then it answers exactly as luxon's IANAZone`, () => {
      const exact = IANAZone.create(name);
      const cached = new CachedIanaZone(name);
      const start = Date.parse('1900-01-01T00:00:00Z');
      const span = Date.parse('2100-01-01T00:00:00Z') - start;
      // A fixed linear congruential sequence: the same instants on every run.
      let seed = 5545;
      for (let i = 0; i < 4000; i++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const ts = start + Math.floor((seed / 2 ** 31) * span);
        for (const probe of [ts, ts + 1, ts + HOUR, ts - HOUR]) assert.equal(cached.offset(probe), exact.offset(probe), `${name} at ${new Date(probe).toISOString()}`);
      }
    });
  }
});
