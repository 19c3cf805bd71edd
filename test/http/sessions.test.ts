import assert from 'node:assert/strict';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { CLIENT, VIDEO_URL, seedProvider } from '../support/seed.js';

describe('HTTP: /api/v1/providers/:id/sessions', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
    await seedProvider(t);
  });
  afterEach(() => t.close());

  const path = (id: string) => `/api/v1/providers/p1/sessions/${id}`;
  const session = { start: '2026-11-10T10:00:00-05:00', durationMinutes: 50, client: CLIENT };

  it('when a session is put without a location, then 201 at the default location with UTC times', async () => {
    const res = await t.platform.put(path('s1'), session);
    assert.equal(res.status, 201);
    assert.equal(res.body.start, '2026-11-10T15:00:00.000Z');
    assert.equal(res.body.end, '2026-11-10T15:50:00.000Z');
    assert.equal(res.body.locationId, 'video');
    assert.equal(res.body.status, 'scheduled');
    assert.equal(res.body.uid, 'p1.s1@sync.example.test');
    assert.equal(res.body.sequence, 0);
  });

  it('when the same body is put twice, then 200, the same state and no feed change', async () => {
    const first = await t.platform.put(path('s1'), session);
    const revision = (await t.store.getProvider('p1'))!.feedRevision;
    t.clock.advance(60_000);
    const second = await t.platform.put(path('s1'), session);
    assert.equal(second.status, 200);
    assert.deepEqual(second.body, first.body);
    assert.equal((await t.store.getProvider('p1'))!.feedRevision, revision);
  });

  it('when a session is rescheduled, then SEQUENCE grows and the UID stays', async () => {
    const first = await t.platform.put(path('s1'), session);
    const moved = await t.platform.put(path('s1'), { ...session, start: '2026-11-11T10:00:00-05:00' });
    assert.equal(moved.status, 200);
    assert.equal(moved.body.uid, first.body.uid);
    assert.equal(moved.body.sequence, 1);
    const cancelled = await t.platform.put(path('s1'), { ...session, start: '2026-11-11T10:00:00-05:00', status: 'cancelled' });
    assert.equal(cancelled.body.sequence, 2);
  });

  it('when only the client name changes in privacy mode none, then SEQUENCE stays (the event did not change)', async () => {
    await t.platform.put(path('s1'), session);
    const renamed = await t.platform.put(path('s1'), { ...session, client: { ...CLIENT, firstName: 'Janet' } });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.client.firstName, 'Janet');
    assert.equal(renamed.body.sequence, 0);
  });

  it('when end is given instead of durationMinutes, then it is used', async () => {
    const res = await t.platform.put(path('s1'), { start: '2026-11-10T15:00:00Z', end: '2026-11-10T16:30:00Z' });
    assert.equal(res.body.end, '2026-11-10T16:30:00.000Z');
  });

  it('when the session is at the office with a per-session link, then 400 naming telehealthUrl', async () => {
    const res = await t.platform.put(path('s1'), { ...session, locationId: 'office', telehealthUrl: 'https://zoom.us/j/1' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.details[0].path, 'telehealthUrl');
  });

  it('when the per-session link is FaceTime, then 400 TELEHEALTH_LINK_REJECTED and nothing stored', async () => {
    const res = await t.platform.put(path('s1'), { ...session, telehealthUrl: 'https://facetime.apple.com/join#v=1' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'TELEHEALTH_LINK_REJECTED');
    assert.equal(res.body.error.details[0].path, 'telehealthUrl');
    assert.equal((await t.platform.get(path('s1'))).status, 404);
  });

  it('when the per-session link is on an unknown host, then it is stored with a warning', async () => {
    const res = await t.platform.put(path('s1'), { ...session, telehealthUrl: 'https://rooms.example-clinic.com/7' });
    assert.equal(res.status, 201);
    assert.equal(res.body.telehealthUrl, 'https://rooms.example-clinic.com/7');
    assert.equal(res.body.warnings.length, 1);
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['no start', { durationMinutes: 50 }, 'start'],
    ['a start without offset', { start: '2026-11-10T10:00:00', durationMinutes: 50 }, 'start'],
    ['a date only', { start: '2026-11-10', durationMinutes: 50 }, 'start'],
    ['neither end nor duration', { start: '2026-11-10T10:00:00Z' }, 'end'],
    ['both end and duration', { start: '2026-11-10T10:00:00Z', end: '2026-11-10T11:00:00Z', durationMinutes: 60 }, 'end'],
    ['end before start', { start: '2026-11-10T10:00:00Z', end: '2026-11-10T09:00:00Z' }, 'end'],
    ['end equal to start', { start: '2026-11-10T10:00:00Z', end: '2026-11-10T10:00:00Z' }, 'end'],
    ['more than 24 hours', { start: '2026-11-10T10:00:00Z', end: '2026-11-11T10:00:01Z' }, 'end'],
    ['a zero duration', { start: '2026-11-10T10:00:00Z', durationMinutes: 0 }, 'durationMinutes'],
    ['a fractional duration', { start: '2026-11-10T10:00:00Z', durationMinutes: 1.5 }, 'durationMinutes'],
    ['an unknown status', { ...session, status: 'done' }, 'status'],
    ['an unknown location', { ...session, locationId: 'nowhere' }, 'locationId'],
    ['a bad location id', { ...session, locationId: 'a b' }, 'locationId'],
    ['a client with an unknown field', { ...session, client: { ...CLIENT, diagnosis: 'x' } }, 'client'],
    ['an unknown field', { ...session, notes: 'private' }, '(body)'],
  ];
  for (const [what, input, field] of invalid) {
    it(`when the body has ${what}, then 400 naming ${field} and nothing stored`, async () => {
      const res = await t.platform.put(path('s1'), input);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'VALIDATION_FAILED');
      assert.ok(res.body.error.details.some((d: { path: string }) => d.path === field), JSON.stringify(res.body.error.details));
      assert.equal((await t.platform.get(path('s1'))).status, 404);
    });
  }

  it('when the provider has no default location and no link is given, then 400 naming locationId', async () => {
    await t.platform.put('/api/v1/providers/p2', { name: 'Dr. B', timezone: 'UTC' });
    const res = await t.platform.put('/api/v1/providers/p2/sessions/s1', session);
    assert.equal(res.status, 400);
    assert.equal(res.body.error.details[0].path, 'locationId');
  });

  it('when the provider does not exist, then 404 for put, get, list and delete', async () => {
    assert.equal((await t.platform.put('/api/v1/providers/nobody/sessions/s1', session)).status, 404);
    assert.equal((await t.platform.get('/api/v1/providers/nobody/sessions/s1')).status, 404);
    assert.equal((await t.platform.get('/api/v1/providers/nobody/sessions')).status, 404);
    assert.equal((await t.platform.delete('/api/v1/providers/nobody/sessions/s1')).status, 404);
  });

  it('when sessions are listed with from/to, then only those overlapping the range come back, in start order', async () => {
    await t.platform.put(path('late'), { start: '2026-11-12T15:00:00Z', durationMinutes: 50 });
    await t.platform.put(path('early'), { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
    await t.platform.put(path('mid'), { start: '2026-11-11T15:00:00Z', durationMinutes: 50 });
    const all = await t.platform.get('/api/v1/providers/p1/sessions');
    assert.deepEqual(all.body.sessions.map((s: { id: string }) => s.id), ['early', 'mid', 'late']);
    const some = await t.platform.get('/api/v1/providers/p1/sessions?from=2026-11-10T15:30:00Z&to=2026-11-12T15:00:00Z');
    assert.deepEqual(some.body.sessions.map((s: { id: string }) => s.id), ['early', 'mid']);
    const bad = await t.platform.get('/api/v1/providers/p1/sessions?from=yesterday');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.details[0].path, 'from');
    const reversed = await t.platform.get('/api/v1/providers/p1/sessions?from=2026-11-12T00:00:00Z&to=2026-11-10T00:00:00Z');
    assert.equal(reversed.status, 400);
  });

  it('when a session is deleted, then it is gone and a second delete is 404', async () => {
    await t.platform.put(path('s1'), session);
    assert.equal((await t.platform.delete(path('s1'))).status, 204);
    assert.equal((await t.platform.get(path('s1'))).body.error.code, 'SESSION_NOT_FOUND');
    assert.equal((await t.platform.delete(path('s1'))).status, 404);
  });

  describe('overlap guard', () => {
    it('when a virtual session overlaps another on the same link, then 409 SESSION_OVERLAP naming it', async () => {
      await t.platform.put(path('a'), { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
      const res = await t.platform.put(path('b'), { start: '2026-11-10T15:30:00Z', durationMinutes: 50 });
      assert.equal(res.status, 409);
      assert.equal(res.body.error.code, 'SESSION_OVERLAP');
      assert.equal(res.body.error.details.conflictsWith, 'a');
      assert.match(res.body.error.message, /\ba\b/);
      assert.equal((await t.platform.get(path('b'))).status, 404);
    });

    it('when the override link is the same room as the location link, then it still conflicts', async () => {
      await t.platform.put(path('a'), { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
      const res = await t.platform.put(path('b'), { start: '2026-11-10T15:10:00Z', durationMinutes: 50, telehealthUrl: `${VIDEO_URL}/?x=1` });
      assert.equal(res.status, 409);
    });

    it('when sessions are back to back, on another link, in person or cancelled, then there is no conflict', async () => {
      await t.platform.put(path('a'), { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
      assert.equal((await t.platform.put(path('next'), { start: '2026-11-10T15:50:00Z', durationMinutes: 50 })).status, 201);
      assert.equal((await t.platform.put(path('other'), { start: '2026-11-10T15:00:00Z', durationMinutes: 50, telehealthUrl: 'https://doxy.me/other-room' })).status, 201);
      assert.equal((await t.platform.put(path('office'), { start: '2026-11-10T15:00:00Z', durationMinutes: 50, locationId: 'office' })).status, 201);
      assert.equal((await t.platform.put(path('off'), { start: '2026-11-10T15:00:00Z', durationMinutes: 50, status: 'cancelled' })).status, 201);
    });

    it('when a session is moved onto its own old slot, then it does not conflict with itself', async () => {
      await t.platform.put(path('a'), { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
      assert.equal((await t.platform.put(path('a'), { start: '2026-11-10T15:20:00Z', durationMinutes: 50 })).status, 200);
    });

    it('when a cancelled session is restored into an occupied slot, then 409', async () => {
      await t.platform.put(path('off'), { start: '2026-11-10T15:00:00Z', durationMinutes: 50, status: 'cancelled' });
      await t.platform.put(path('a'), { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
      assert.equal((await t.platform.put(path('off'), { start: '2026-11-10T15:00:00Z', durationMinutes: 50 })).status, 409);
    });

    it('when two overlapping writes race, then exactly one is stored', async () => {
      const [x, y] = await Promise.all([
        t.platform.put(path('x'), { start: '2026-11-10T15:00:00Z', durationMinutes: 50 }),
        t.platform.put(path('y'), { start: '2026-11-10T15:10:00Z', durationMinutes: 50 }),
      ]);
      assert.deepEqual([x.status, y.status].sort(), [201, 409]);
    });
  });
});
