import assert from 'node:assert/strict';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { seedProvider } from '../support/seed.js';

describe('HTTP: /api/v1/providers/:id/locations', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
    await t.platform.put('/api/v1/providers/p1', { name: 'Dr. Ada Byron', timezone: 'America/New_York' });
  });
  afterEach(() => t.close());

  const zoom = { kind: 'virtual', url: 'https://us02web.zoom.us/j/1234567890?pwd=abc', instructions: 'Use the link.', waitingRoom: true };

  it('when a virtual location is put, then 201 with its platform and it becomes the default as the first one', async () => {
    const res = await t.platform.put('/api/v1/providers/p1/locations/video', zoom);
    assert.equal(res.status, 201);
    assert.equal(res.body.platform, 'zoom');
    assert.equal(res.body.isDefault, true);
    assert.equal(res.body.url, zoom.url);
    assert.deepEqual(res.body.warnings, []);
  });

  it('when the same location is put twice, then 200 and the same state', async () => {
    const first = await t.platform.put('/api/v1/providers/p1/locations/video', zoom);
    t.clock.advance(1000);
    const second = await t.platform.put('/api/v1/providers/p1/locations/video', zoom);
    assert.equal(second.status, 200);
    assert.deepEqual(second.body, first.body);
  });

  it('when an office is put and listed, then both kinds come back', async () => {
    await t.platform.put('/api/v1/providers/p1/locations/video', zoom);
    const office = await t.platform.put('/api/v1/providers/p1/locations/office', { kind: 'office', name: 'Office', address: '1 Main St' });
    assert.equal(office.status, 201);
    assert.equal(office.body.isDefault, false);
    const list = await t.platform.get('/api/v1/providers/p1/locations');
    assert.deepEqual(list.body.locations.map((l: { id: string; kind: string }) => [l.id, l.kind]), [
      ['office', 'office'],
      ['video', 'virtual'],
    ]);
  });

  it('when another location is made default, then the previous default is no longer default', async () => {
    await t.platform.put('/api/v1/providers/p1/locations/video', zoom);
    await t.platform.put('/api/v1/providers/p1/locations/office', { kind: 'office', name: 'Office', address: '1 Main St', isDefault: true });
    const list = (await t.platform.get('/api/v1/providers/p1/locations')).body.locations as { id: string; isDefault: boolean }[];
    assert.deepEqual(list.filter((l) => l.isDefault).map((l) => l.id), ['office']);
  });

  const refused: [string, string, RegExp][] = [
    ['a FaceTime link', 'facetime://ada@example.org', /facetime/i],
    ['a FaceTime web link', 'https://facetime.apple.com/join#v=1&p=abc', /facetime/i],
    ['plain http', 'http://zoom.us/j/1', /https/i],
    ['javascript:', 'javascript:alert(1)', /https|scheme/i],
    ['credentials', 'https://user:pass@zoom.us/j/1', /password|credential|user/i],
    ['a phone number', 'tel:+15551234567', /https|scheme|phone/i],
  ];
  for (const [what, url, reason] of refused) {
    it(`when the link is ${what}, then 400 TELEHEALTH_LINK_REJECTED with the reason and nothing stored`, async () => {
      const res = await t.platform.put('/api/v1/providers/p1/locations/video', { ...zoom, url });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'TELEHEALTH_LINK_REJECTED');
      assert.equal(res.body.error.details[0].path, 'url');
      assert.match(res.body.error.message, reason);
      assert.equal((await t.platform.get('/api/v1/providers/p1/locations')).body.locations.length, 0);
    });
  }

  it('when the host is not a recognised platform, then it is accepted with a warning and platform null', async () => {
    const res = await t.platform.put('/api/v1/providers/p1/locations/video', { ...zoom, url: 'https://video.my-clinic.example/room/4' });
    assert.equal(res.status, 201);
    assert.equal(res.body.platform, null);
    assert.ok(res.body.warnings.some((w: string) => /BAA|recogni/i.test(w)));
  });

  it('when the waiting room is not confirmed on a platform without one by default, then a warning says why', async () => {
    const res = await t.platform.put('/api/v1/providers/p1/locations/video', { ...zoom, waitingRoom: undefined });
    assert.equal(res.status, 201);
    assert.ok(res.body.warnings.some((w: string) => /waiting room/i.test(w) && /overlap/i.test(w)), JSON.stringify(res.body.warnings));
  });

  it('when the platform has a waiting room by default, then no warning', async () => {
    const res = await t.platform.put('/api/v1/providers/p1/locations/video', { kind: 'virtual', url: 'https://doxy.me/drbyron' });
    assert.equal(res.body.platform, 'doxy');
    assert.deepEqual(res.body.warnings, []);
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['an unknown kind', { kind: 'phone', url: 'https://zoom.us/j/1' }, 'kind'],
    ['a virtual location without url', { kind: 'virtual' }, 'url'],
    ['an office without address', { kind: 'office', name: 'Office' }, 'address'],
    ['an office without name', { kind: 'office', address: '1 Main St' }, 'name'],
    ['isDefault not boolean', { ...{ kind: 'office', name: 'O', address: 'A' }, isDefault: 'yes' }, 'isDefault'],
    ['a url on an office', { kind: 'office', name: 'O', address: 'A', url: 'https://zoom.us/j/1' }, '(body)'],
  ];
  for (const [what, input, path] of invalid) {
    it(`when the body has ${what}, then 400 naming ${path}`, async () => {
      const res = await t.platform.put('/api/v1/providers/p1/locations/x', input);
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'VALIDATION_FAILED');
      assert.ok(res.body.error.details.some((d: { path: string }) => d.path === path), JSON.stringify(res.body.error.details));
    });
  }

  it('when the provider does not exist, then 404', async () => {
    const res = await t.platform.put('/api/v1/providers/nobody/locations/video', zoom);
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'PROVIDER_NOT_FOUND');
    assert.equal((await t.platform.get('/api/v1/providers/nobody/locations')).status, 404);
  });

  describe('delete', () => {
    beforeEach(async () => {
      await t.close();
      t = await createTestApp();
      await seedProvider(t);
    });

    it('when an upcoming session uses the location, then 409 LOCATION_IN_USE and it stays', async () => {
      await t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-10T15:00:00Z', durationMinutes: 50, locationId: 'office' });
      const res = await t.platform.delete('/api/v1/providers/p1/locations/office');
      assert.equal(res.status, 409);
      assert.equal(res.body.error.code, 'LOCATION_IN_USE');
      assert.deepEqual(res.body.error.details.sessionIds, ['s1']);
      assert.equal((await t.platform.get('/api/v1/providers/p1/locations')).body.locations.length, 2);
    });

    it('when only past or cancelled sessions use it, then 204 and those sessions are detached', async () => {
      await t.platform.put('/api/v1/providers/p1/sessions/past', { start: '2026-10-10T15:00:00Z', durationMinutes: 50, locationId: 'office' });
      await t.platform.put('/api/v1/providers/p1/sessions/off', { start: '2026-11-10T15:00:00Z', durationMinutes: 50, locationId: 'office', status: 'cancelled' });
      assert.equal((await t.platform.delete('/api/v1/providers/p1/locations/office')).status, 204);
      assert.equal((await t.platform.get('/api/v1/providers/p1/sessions/past')).body.locationId, null);
      assert.equal((await t.platform.delete('/api/v1/providers/p1/locations/office')).status, 404);
    });
  });

  it('when a location link changes so that two upcoming sessions would share a link, then 409 and nothing changes', async () => {
    await t.platform.put('/api/v1/providers/p1/locations/a', { kind: 'virtual', url: 'https://doxy.me/room-a' });
    await t.platform.put('/api/v1/providers/p1/locations/b', { kind: 'virtual', url: 'https://doxy.me/room-b' });
    await t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-10T15:00:00Z', durationMinutes: 50, locationId: 'a' });
    await t.platform.put('/api/v1/providers/p1/sessions/s2', { start: '2026-11-10T15:00:00Z', durationMinutes: 50, locationId: 'b' });
    const res = await t.platform.put('/api/v1/providers/p1/locations/b', { kind: 'virtual', url: 'https://doxy.me/room-a' });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'SESSION_OVERLAP');
    const b = (await t.platform.get('/api/v1/providers/p1/locations')).body.locations.find((l: { id: string }) => l.id === 'b');
    assert.equal(b.url, 'https://doxy.me/room-b');
  });
});
