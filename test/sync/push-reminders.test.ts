import assert from 'node:assert/strict';
import supertest from 'supertest';
import type { FakeStoredEvent } from '../fakes/fake-calendar.js';
import { CLIENT, seedProvider } from '../support/seed.js';
import { testStores } from '../support/stores.js';
import { createSyncHarness, vendorFactories, type SyncHarness, type VendorRig } from '../support/sync-harness.js';

// Provider.reminders end to end: the API, the worker and the resync against the fake Google and
// Graph servers through the real client libraries, and the feed, which must not notice at all.

const PROVIDER = { name: 'Dr. Ada Byron', timezone: 'America/New_York', joinLink: 'direct' };
const session = (start: string, extra: Record<string, unknown> = {}) => ({ start, durationMinutes: 50, client: CLIENT, ...extra });

for (const [database, makeStore] of testStores())
for (const [name, factory] of vendorFactories) {
  describe(`reminders on events pushed to ${name} (${database})`, () => {
    let h: SyncHarness;
    let vendor: VendorRig;
    const putSession = (id: string, body: Record<string, unknown>) => h.t.platform.put(`/api/v1/providers/p1/sessions/${id}`, body);
    const putProvider = (body: Record<string, unknown>) => h.t.platform.put('/api/v1/providers/p1', { ...PROVIDER, ...body });
    /** What the vendor keeps of a setting: Google every reminder, Outlook the one closest to the start. */
    const kept = (minutes: number[]) => (vendor.kind === 'google' ? minutes : minutes.slice(0, 1));
    /** The calendar's defaults: Google useDefault; Outlook its default reminder, written back on update. */
    const defaults = (e: FakeStoredEvent) => (vendor.kind === 'google' ? e.reminders === null : e.reminders === null || (e.reminders.length === 1 && e.reminders[0] === 15));
    const remindersByKey = () => new Map(h.live(vendor).map((e) => [e.tag!.key, e.reminders] as const));
    const writes = () => ['create', 'update', 'delete'].map((op) => vendor.fake.requestCount(op as 'create'));

    beforeEach(async () => {
      h = await createSyncHarness([factory], { store: await makeStore() });
      vendor = h.vendors[0]!;
      await seedProvider(h.t);
    });
    afterEach(() => h.close());

    it('when reminders are set, changed and reset to null, then every upcoming event follows, and the defaults come back', async () => {
      await h.connect(vendor);
      await putSession('a', session('2026-11-10T15:00:00Z'));
      await putSession('b', session('2026-11-11T15:00:00Z', { locationId: 'office' }));
      await h.settle();
      assert.ok(h.live(vendor).every(defaults), 'no setting: the calendar defaults');

      const set = await putProvider({ reminders: [60, 10] });
      assert.equal(set.status, 200);
      assert.deepEqual(set.body.reminders, [10, 60], 'kept in ascending order');
      await h.settle();
      assert.deepEqual(remindersByKey(), new Map([['p1/a', kept([10, 60])], ['p1/b', kept([10, 60])]]));

      await putProvider({ reminders: [30] });
      await h.settle();
      assert.deepEqual(remindersByKey(), new Map([['p1/a', [30]], ['p1/b', [30]]]));

      await putProvider({ reminders: [] });
      await h.settle();
      assert.deepEqual(remindersByKey(), new Map([['p1/a', []], ['p1/b', []]]));

      await putProvider({ reminders: null });
      await h.settle();
      assert.equal(h.live(vendor).length, 2);
      assert.ok(h.live(vendor).every(defaults), 'null: the calendar defaults again');
      assert.equal((await h.t.platform.get('/api/v1/providers/p1')).body.reminders, null);
    });

    it('when a new session is created under a setting, then its event carries the reminders from the start', async () => {
      await putProvider({ reminders: [15] });
      await h.connect(vendor);
      await putSession('a', session('2026-11-10T15:00:00Z'));
      await h.settle();

      assert.deepEqual(h.live(vendor).map((e) => e.reminders), [[15]]);
    });

    it('when the body leaves reminders out, then the setting is kept and nothing is pushed again', async () => {
      await putProvider({ reminders: [20] });
      await h.connect(vendor);
      await putSession('a', session('2026-11-10T15:00:00Z'));
      await h.settle();
      const before = writes();

      const same = await putProvider({});
      await h.settle();

      assert.deepEqual(same.body.reminders, [20]);
      assert.deepEqual(writes(), before);
      assert.deepEqual(h.live(vendor).map((e) => e.reminders), [[20]]);
    });

    it('when reminders change, then only upcoming events are rewritten: a session already over keeps its event as it is', async () => {
      await h.connect(vendor);
      await putSession('past', session('2026-10-30T15:00:00Z'));
      await putSession('next', session('2026-11-10T15:00:00Z'));
      await h.settle();
      const updatesBefore = vendor.fake.requestCount('update');

      await putProvider({ reminders: [5] });
      await h.settle();

      const after = remindersByKey();
      assert.deepEqual(after.get('p1/next'), [5]);
      assert.ok(defaults(h.live(vendor).find((e) => e.tag!.key === 'p1/past')!), 'the past event is left alone');
      assert.equal(vendor.fake.requestCount('update') - updatesBefore, 1);
    });

    it('when reminders change, then the feed answers the same bytes and ETag (no VALARM, no new SEQUENCE)', async () => {
      await h.connect(vendor);
      await putSession('a', session('2026-11-10T15:00:00Z'));
      const feed = await h.t.platform.post('/api/v1/providers/p1/feeds', { label: 'iPhone' });
      const path = new URL(feed.body.url as string).pathname;
      const fetchFeed = () => supertest(h.t.app).get(path).buffer(true).parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      });
      const before = await fetchFeed();
      assert.equal(before.status, 200);
      assert.match((before.body as Buffer).toString('utf8'), /BEGIN:VEVENT[\s\S]*SEQUENCE:0/);

      await putProvider({ reminders: [10, 60] });
      await h.settle();
      const after = await fetchFeed();

      assert.deepEqual(remindersByKey().get('p1/a'), kept([10, 60]), 'the push did change');
      assert.equal(after.status, 200);
      assert.ok(Buffer.compare(after.body as Buffer, before.body as Buffer) === 0, 'same bytes');
      assert.equal(after.headers['etag'], before.headers['etag']);
      assert.doesNotMatch((after.body as Buffer).toString('utf8'), /VALARM/);
      assert.equal((await supertest(h.t.app).get(path).set('If-None-Match', String(before.headers['etag']))).status, 304);
      assert.equal((await h.t.platform.get('/api/v1/providers/p1/sessions/a')).body.sequence, 0);
    });

    it('when the pushed events miss a reminders change, then a resync sees the drift, repairs it, and a second resync writes nothing', async () => {
      const connectionId = await h.connect(vendor);
      await putSession('a', session('2026-11-10T15:00:00Z'));
      await putSession('b', session('2026-11-11T15:00:00Z'));
      await h.settle();
      // The setting changes while the worker's targets are lost: only a resync can see it.
      await putProvider({ reminders: [45] });
      await h.t.store.transaction((tx) => tx.deleteTargets(connectionId));

      const plan = await h.t.admin.post('/api/v1/admin/resync', { providerIds: ['p1'], dryRun: true });
      await h.runJobs();
      const planned = (await h.t.admin.get(`/api/v1/admin/jobs/${plan.body.jobId}`)).body;
      assert.deepEqual(
        planned.plan.map((p: { sessionId: string; action: string; reason: string }) => [p.sessionId, p.action, p.reason]).sort(),
        [['a', 'update', 'older revision'], ['b', 'update', 'older revision']],
      );

      const run = await h.t.admin.post('/api/v1/admin/resync', { providerIds: ['p1'] });
      await h.runJobs();
      assert.equal((await h.t.admin.get(`/api/v1/admin/jobs/${run.body.jobId}`)).body.progress.updated, 2);
      assert.deepEqual(remindersByKey(), new Map([['p1/a', [45]], ['p1/b', [45]]]));

      const before = writes();
      const again = await h.t.admin.post('/api/v1/admin/resync', { providerIds: ['p1'] });
      await h.runJobs();
      assert.equal((await h.t.admin.get(`/api/v1/admin/jobs/${again.body.jobId}`)).body.progress.unchanged, 2);
      await h.settle();
      assert.deepEqual(writes(), before, 'neither the resync nor the worker writes again');
    });
  });
}
