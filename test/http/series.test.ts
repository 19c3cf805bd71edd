import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { seedProvider } from '../support/seed.js';

describe('HTTP: POST /api/v1/providers/:id/series', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp({ now: '2026-10-01T12:00:00.000Z' });
    await seedProvider(t);
  });
  afterEach(() => t.close());

  const url = '/api/v1/providers/p1/series';
  const weekly = { seriesId: 'jd', firstStart: '2026-10-19T10:00', durationMinutes: 50, frequency: 'weekly', count: 4 };
  const localTimes = (sessions: { start: string }[], zone = 'America/New_York') =>
    sessions.map((s) => DateTime.fromISO(s.start, { zone }).toFormat('yyyy-MM-dd HH:mm'));

  it('when a weekly series crosses the November DST change, then every session is at 10:00 local', async () => {
    const res = await t.platform.post(url, weekly);
    assert.equal(res.status, 201);
    assert.deepEqual(res.body.sessions.map((s: { id: string }) => s.id), ['jd-1', 'jd-2', 'jd-3', 'jd-4']);
    assert.deepEqual(localTimes(res.body.sessions), ['2026-10-19 10:00', '2026-10-26 10:00', '2026-11-02 10:00', '2026-11-09 10:00']);
    assert.deepEqual(res.body.sessions.map((s: { start: string }) => s.start.slice(11, 16)), ['14:00', '14:00', '15:00', '15:00']);
    assert.equal(res.body.created, 4);
  });

  it('when a biweekly series crosses the March DST change, then the wall time is kept', async () => {
    const res = await t.platform.post(url, { ...weekly, firstStart: '2027-03-01T18:30', frequency: 'biweekly', count: 3 });
    assert.deepEqual(localTimes(res.body.sessions), ['2027-03-01 18:30', '2027-03-15 18:30', '2027-03-29 18:30']);
    assert.deepEqual(res.body.sessions.map((s: { start: string }) => s.start.slice(11, 16)), ['23:30', '22:30', '22:30']);
  });

  it('when until is given, then it is inclusive in the series zone', async () => {
    const res = await t.platform.post(url, { seriesId: 'u', firstStart: '2026-10-19T10:00', durationMinutes: 50, frequency: 'weekly', until: '2026-11-02' });
    assert.equal(res.body.sessions.length, 3);
  });

  it('when the same series is posted again, then 200 and nothing changes', async () => {
    await t.platform.post(url, weekly);
    const revision = (await t.store.getProvider('p1'))!.feedRevision;
    const again = await t.platform.post(url, weekly);
    assert.equal(again.status, 200);
    assert.deepEqual([again.body.created, again.body.updated, again.body.unchanged], [0, 0, 4]);
    assert.equal((await t.store.getProvider('p1'))!.feedRevision, revision);
  });

  it('when the series is shortened, then the dropped occurrences are cancelled, not deleted', async () => {
    await t.platform.post(url, weekly);
    const res = await t.platform.post(url, { ...weekly, count: 2 });
    assert.deepEqual(res.body.cancelled, ['jd-3', 'jd-4']);
    assert.equal((await t.platform.get('/api/v1/providers/p1/sessions/jd-4')).body.status, 'cancelled');
  });

  it('when one occurrence would overlap an existing session on the same link, then the whole series is refused', async () => {
    await t.platform.put('/api/v1/providers/p1/sessions/other', { start: '2026-11-02T15:30:00Z', durationMinutes: 30 });
    const res = await t.platform.post(url, weekly);
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'SESSION_OVERLAP');
    assert.equal(res.body.error.details.sessionId, 'jd-3');
    assert.equal((await t.platform.get('/api/v1/providers/p1/sessions')).body.sessions.length, 1);
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['an offset in firstStart', { ...weekly, firstStart: '2026-10-19T10:00-04:00' }, 'firstStart'],
    ['both count and until', { ...weekly, until: '2026-12-01' }, 'count'],
    ['neither count nor until', { seriesId: 'x', firstStart: '2026-10-19T10:00', durationMinutes: 50, frequency: 'weekly' }, 'count'],
    ['count over 104', { ...weekly, count: 105 }, 'count'],
    ['a monthly frequency', { ...weekly, frequency: 'monthly' }, 'frequency'],
    ['a bad zone', { ...weekly, timezone: 'Nowhere/City' }, 'timezone'],
    ['a series id too long', { ...weekly, seriesId: 'x'.repeat(61) }, 'seriesId'],
    ['until before the first start', { ...weekly, count: undefined, until: '2026-10-01' }, 'until'],
    ['an unknown location', { ...weekly, locationId: 'nowhere' }, 'locationId'],
  ];
  for (const [what, input, field] of invalid) {
    it(`when the body has ${what}, then 400 naming ${field} and nothing stored`, async () => {
      const res = await t.platform.post(url, input);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.ok(res.body.error.details.some((d: { path: string }) => d.path === field), JSON.stringify(res.body.error.details));
      assert.equal((await t.platform.get('/api/v1/providers/p1/sessions')).body.sessions.length, 0);
    });
  }
});
