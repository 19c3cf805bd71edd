import assert from 'node:assert/strict';
import { createTestApp, type TestApp } from '../support/test-app.js';

describe('HTTP: /api/v1/providers', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  const body = { name: 'Dr. Ada Byron', email: 'ada@example.org', timezone: 'America/New_York' };

  it('when a provider is put for the first time, then 201 with privacy mode none by default', async () => {
    const res = await t.platform.put('/api/v1/providers/p1', body);
    assert.equal(res.status, 201);
    assert.deepEqual(
      { id: res.body.id, name: res.body.name, email: res.body.email, timezone: res.body.timezone, privacy: res.body.privacy },
      { id: 'p1', ...body, privacy: { mode: 'none', baaAttested: false } },
    );
    assert.equal(res.body.feedRevision, undefined, 'internal bookkeeping stays inside');
  });

  it('when the same body is put twice, then 200 with the same state and no feed change', async () => {
    const first = await t.platform.put('/api/v1/providers/p1', body);
    const before = await t.store.getProvider('p1');
    t.clock.advance(60_000);
    const second = await t.platform.put('/api/v1/providers/p1', body);
    assert.equal(second.status, 200);
    assert.deepEqual(second.body, first.body);
    assert.deepEqual(await t.store.getProvider('p1'), before);
  });

  it('when a changed body is put, then 200, the row is replaced and the feed revision grows', async () => {
    await t.platform.put('/api/v1/providers/p1', body);
    const before = (await t.store.getProvider('p1'))!.feedRevision;
    const res = await t.platform.put('/api/v1/providers/p1', { ...body, name: 'Dr. A. Byron', email: null });
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'Dr. A. Byron');
    assert.equal(res.body.email, null);
    assert.ok((await t.store.getProvider('p1'))!.feedRevision > before);
  });

  it('when GET and DELETE are called, then they read and remove; a missing provider is 404', async () => {
    await t.platform.put('/api/v1/providers/p1', body);
    assert.equal((await t.platform.get('/api/v1/providers/p1')).body.name, body.name);
    const deleted = await t.platform.delete('/api/v1/providers/p1');
    assert.equal(deleted.status, 200, 'no calendar to clean: done at once');
    assert.equal(deleted.body.status, 'done');
    const gone = await t.platform.get('/api/v1/providers/p1');
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, 'PROVIDER_NOT_FOUND');
    assert.equal((await t.platform.delete('/api/v1/providers/p1')).status, 404);
  });

  it('when full or initials is asked without a BAA attestation, then 400 naming privacy.baaAttested', async () => {
    for (const mode of ['full', 'initials']) {
      const res = await t.platform.put('/api/v1/providers/p1', { ...body, privacy: { mode } });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body.error.details.map((d: { path: string }) => d.path), ['privacy.baaAttested']);
    }
    const ok = await t.platform.put('/api/v1/providers/p1', { ...body, privacy: { mode: 'initials', baaAttested: true } });
    assert.equal(ok.status, 201);
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['missing name', { timezone: 'UTC' }, 'name'],
    ['blank name', { ...body, name: '   ' }, 'name'],
    ['unknown zone', { ...body, timezone: 'Mars/Olympus_Mons' }, 'timezone'],
    ['offset instead of zone', { ...body, timezone: '+05:00' }, 'timezone'],
    ['bad email', { ...body, email: 'not-an-email' }, 'email'],
    ['unknown privacy mode', { ...body, privacy: { mode: 'everything' } }, 'privacy.mode'],
    ['baaAttested not boolean', { ...body, privacy: { mode: 'none', baaAttested: 'yes' } }, 'privacy.baaAttested'],
    ['unknown field', { ...body, timeZone: 'UTC' }, '(body)'],
    ['name not a string', { ...body, name: 42 }, 'name'],
  ];
  for (const [what, input, path] of invalid) {
    it(`when the body has ${what}, then 400 VALIDATION_FAILED naming ${path} and nothing is stored`, async () => {
      const res = await t.platform.put('/api/v1/providers/p1', input);
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'VALIDATION_FAILED');
      assert.ok(res.body.error.details.some((d: { path: string }) => d.path === path), JSON.stringify(res.body.error.details));
      assert.equal(await t.store.getProvider('p1'), null);
    });
  }

  it('when a bad update follows a good put, then the stored provider is unchanged', async () => {
    await t.platform.put('/api/v1/providers/p1', body);
    const before = await t.store.getProvider('p1');
    assert.equal((await t.platform.put('/api/v1/providers/p1', { ...body, timezone: 'Nowhere/Zone' })).status, 400);
    assert.deepEqual(await t.store.getProvider('p1'), before);
  });

  describe('reminders', () => {
    it('when a provider is created without reminders, then reminders is null (the calendars\' defaults)', async () => {
      const res = await t.platform.put('/api/v1/providers/p1', body);
      assert.equal(res.body.reminders, null);
      assert.equal((await t.platform.get('/api/v1/providers/p1')).body.reminders, null);
    });

    it('when reminders are put, then GET returns them in ascending order; [] and null are kept as given', async () => {
      assert.deepEqual((await t.platform.put('/api/v1/providers/p1', { ...body, reminders: [1440, 0, 30] })).body.reminders, [0, 30, 1440]);
      assert.deepEqual((await t.platform.get('/api/v1/providers/p1')).body.reminders, [0, 30, 1440]);
      assert.deepEqual((await t.platform.put('/api/v1/providers/p1', { ...body, reminders: [] })).body.reminders, []);
      assert.equal((await t.platform.put('/api/v1/providers/p1', { ...body, reminders: null })).body.reminders, null);
    });

    it('when a later put leaves reminders out, then the setting is kept', async () => {
      await t.platform.put('/api/v1/providers/p1', { ...body, reminders: [10] });
      const res = await t.platform.put('/api/v1/providers/p1', { ...body, name: 'Dr. A. Byron' });
      assert.deepEqual(res.body.reminders, [10]);
    });

    it('when only reminders change, then the feed revision stays (feeds carry no reminders)', async () => {
      await t.platform.put('/api/v1/providers/p1', body);
      const before = (await t.store.getProvider('p1'))!.feedRevision;
      await t.platform.put('/api/v1/providers/p1', { ...body, reminders: [10, 60] });
      const after = (await t.store.getProvider('p1'))!;
      assert.deepEqual(after.reminders, [10, 60]);
      assert.equal(after.feedRevision, before);
    });

    const bad: [string, unknown][] = [
      ['six reminders', [1, 2, 3, 4, 5, 6]],
      ['a repeated number of minutes', [10, 10]],
      ['a negative number', [-5]],
      ['more than 4 weeks', [40_321]],
      ['a fraction', [7.5]],
      ['a string', ['10']],
      ['a number instead of a list', 10],
      ['an object', { minutes: 10 }],
    ];
    for (const [what, reminders] of bad) {
      it(`when reminders holds ${what}, then 400 VALIDATION_FAILED naming reminders and nothing changes`, async () => {
        await t.platform.put('/api/v1/providers/p1', { ...body, reminders: [15] });
        const res = await t.platform.put('/api/v1/providers/p1', { ...body, reminders });
        assert.equal(res.status, 400);
        assert.equal(res.body.error.code, 'VALIDATION_FAILED');
        const paths = res.body.error.details.map((d: { path: string }) => d.path);
        assert.ok(paths.length > 0 && paths.every((p: string) => p === 'reminders' || p.startsWith('reminders.')), JSON.stringify(res.body.error.details));
        assert.deepEqual((await t.store.getProvider('p1'))!.reminders, [15]);
      });
    }

    it('when five distinct reminders at the limits are put, then they are accepted', async () => {
      const res = await t.platform.put('/api/v1/providers/p1', { ...body, reminders: [0, 5, 60, 1440, 40_320] });
      assert.equal(res.status, 201);
    });
  });

  it('when several fields are bad, then every one is listed', async () => {
    const res = await t.platform.put('/api/v1/providers/p1', { name: '', timezone: 'x', email: 'y' });
    assert.deepEqual(res.body.error.details.map((d: { path: string }) => d.path).sort(), ['email', 'name', 'timezone']);
  });
});
