import { testJoinLinks } from '../support/builders.js';
import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import supertest from 'supertest';
import { eventTagKey } from '../../src/domain/index.js';
import { DEFAULT_RATE_LIMITS, SyncWorker } from '../../src/sync/index.js';
import { createLogger } from '../../src/logger.js';
import type { Store } from '../../src/domain/index.js';
import type { FakeStoredEvent } from '../fakes/fake-calendar.js';
import { CLIENT, OFFICE_ADDRESS, VIDEO_URL, seedProvider } from '../support/seed.js';
import { testStores } from '../support/stores.js';
import { createSyncHarness, vendorFactories, type SyncHarness, type VendorRig } from '../support/sync-harness.js';

const session = (start: string, extra: Record<string, unknown> = {}) => ({ start, durationMinutes: 50, client: CLIENT, ...extra });

function byKey(events: FakeStoredEvent[]): Map<string, FakeStoredEvent[]> {
  const map = new Map<string, FakeStoredEvent[]>();
  for (const e of events) map.set(e.tag!.key, [...(map.get(e.tag!.key) ?? []), e]);
  return map;
}

for (const [database, makeStore] of testStores())
for (const [name, factory] of vendorFactories) {
  describe(`push sync to ${name} (${database})`, () => {
    let h: SyncHarness;
    let vendor: VendorRig;
    const put = (id: string, body: Record<string, unknown>) => h.t.platform.put(`/api/v1/providers/p1/sessions/${id}`, body);

    beforeEach(async () => {
      h = await createSyncHarness([factory], { store: await makeStore() });
      vendor = h.vendors[0]!;
      await seedProvider(h.t);
    });
    afterEach(() => h.close());

    it('when a calendar is connected, then the sessions already scheduled are pushed once, with title, times and link', async () => {
      await put('a', session('2026-11-10T15:00:00Z'));
      await put('b', session('2026-11-11T15:00:00Z', { locationId: 'office' }));
      await put('gone', session('2026-11-12T15:00:00Z', { status: 'cancelled' }));
      await h.connect(vendor);
      await h.settle();
      const live = h.live(vendor);
      assert.deepEqual(live.map((e) => e.tag!.key).sort(), [eventTagKey('p1', 'a'), eventTagKey('p1', 'b')]);
      const a = live.find((e) => e.tag!.key === 'p1/a')!;
      assert.equal(a.summary, 'Telehealth session');
      assert.equal(Date.parse(a.start), Date.parse('2026-11-10T15:00:00Z'));
      assert.equal(Date.parse(a.end), Date.parse('2026-11-10T15:50:00Z'));
      assert.equal(a.location, VIDEO_URL);
      assert.match(a.description ?? '', new RegExp(`Join: ${VIDEO_URL.replace(/\./g, '\\.')}`));
      assert.doesNotMatch(JSON.stringify(a.raw), /Jane|Doe|c-77/, 'no client identity in privacy mode none');
      assert.doesNotMatch(JSON.stringify(a.raw), /"attendees"\s*:\s*\[\s*\{/, 'no attendees');
      assert.equal(live.find((e) => e.tag!.key === 'p1/b')!.location, OFFICE_ADDRESS);
    });

    it('when a session is created, rescheduled, relinked, cancelled and deleted, then the calendar follows with never more than one event', async () => {
      await h.connect(vendor);
      await put('s', session('2026-11-10T15:00:00Z'));
      assert.ok(h.t.notified.sync > 0, 'the write woke the worker');
      await h.settle();
      const created = h.live(vendor);
      assert.equal(created.length, 1);

      await put('s', session('2026-11-10T17:00:00Z'));
      await h.settle();
      const moved = h.live(vendor);
      assert.equal(moved.length, 1);
      assert.equal(moved[0]!.id, created[0]!.id, 'a reschedule is an update, not delete + create');
      assert.equal(Date.parse(moved[0]!.start), Date.parse('2026-11-10T17:00:00Z'));

      await h.t.platform.put('/api/v1/providers/p1/locations/video', { kind: 'virtual', url: 'https://doxy.me/new-room', waitingRoom: true, isDefault: true });
      await h.settle();
      assert.equal(h.live(vendor)[0]!.location, 'https://doxy.me/new-room');

      await put('s', session('2026-11-10T17:00:00Z', { status: 'cancelled' }));
      await h.settle();
      assert.equal(h.live(vendor).length, 0);

      await put('s', session('2026-11-10T18:00:00Z'));
      await h.settle();
      assert.equal(h.live(vendor).length, 1, 'a restored session comes back');
      await h.t.platform.delete('/api/v1/providers/p1/sessions/s');
      await h.settle();
      assert.equal(h.live(vendor).length, 0);
    });

    it('when the provider opts into initials, then pushed titles change to carry them', async () => {
      await h.connect(vendor);
      await put('s', session('2026-11-10T15:00:00Z'));
      await h.settle();
      await h.t.platform.put('/api/v1/providers/p1', { name: 'Dr. Ada Byron', timezone: 'America/New_York', privacy: { mode: 'initials', baaAttested: true } });
      await h.settle();
      assert.equal(h.live(vendor)[0]!.summary, 'Telehealth session with J.D.');
    });

    it('when the connection is listed, then it is active with its account and nothing pending, and never shows tokens', async () => {
      await put('s', session('2026-11-10T15:00:00Z'));
      const id = await h.connect(vendor);
      await h.settle();
      const res = await h.t.platform.get('/api/v1/providers/p1/connections');
      assert.equal(res.status, 200);
      const [c] = res.body.connections;
      assert.equal(c.id, id);
      assert.equal(c.status, 'active');
      assert.equal(c.kind, vendor.kind);
      assert.equal(c.calendarId, 'primary');
      assert.equal(typeof c.account, 'string');
      assert.equal(c.pending, 0);
      assert.equal(c.failed, 0);
      assert.ok(c.lastSyncedAt);
      assert.doesNotMatch(JSON.stringify(res.body), /sealed|token|verifier/i);
    });

    it('when the grant is revoked, then the connection needs reauth, its work waits, and reconnecting resumes it', async () => {
      const id = await h.connect(vendor);
      await put('s', session('2026-11-10T15:00:00Z'));
      await h.settle();
      vendor.fake.revokeGrants();
      vendor.fake.expireAccessTokens();
      await put('s', session('2026-11-10T16:00:00Z'));
      await h.settle();
      const listed = (await h.t.platform.get('/api/v1/providers/p1/connections')).body.connections[0];
      assert.equal(listed.status, 'needs_reauth');
      assert.equal(listed.pending, 1, 'paused, not dropped');
      assert.equal(listed.failed, 0);
      const health = (await h.t.admin.get('/api/v1/admin/sync-health')).body;
      assert.deepEqual(health.connectionsNeedingReauth.map((c: { id: string }) => c.id), [id]);
      assert.equal(health.targets.pending + health.targets.retrying, 1);
      h.t.clock.advance(90_000);
      const later = (await h.t.admin.get('/api/v1/admin/sync-health')).body;
      assert.ok(later.oldestPendingAgeSeconds >= 90, `age ${later.oldestPendingAgeSeconds}`);

      const again = await h.t.platform.post(`/api/v1/providers/p1/connections/${id}/reauthorize`);
      assert.equal(again.status, 200);
      const url = new URL(again.body.authorizeUrl);
      const code = vendor.fake.issueAuthorizationCode(url.searchParams.get('code_challenge')!, url.searchParams.get('redirect_uri')!);
      assert.equal((await supertest(h.t.app).get(vendor.callbackPath).query({ code, state: url.searchParams.get('state') })).status, 200);
      await h.settle();
      const live = h.live(vendor);
      assert.equal(live.length, 1);
      assert.equal(Date.parse(live[0]!.start), Date.parse('2026-11-10T16:00:00Z'));
    });

    it('when the vendor refreshes an expired access token, then the new tokens are persisted sealed', async () => {
      const id = await h.connect(vendor);
      const { openTokens } = await import('../../src/sync/index.js');
      const before = openTokens(h.t.secrets, (await h.t.store.getConnection(id))!)!;
      vendor.fake.expireAccessTokens();
      await put('s', session('2026-11-10T15:00:00Z'));
      await h.settle();
      assert.equal(h.live(vendor).length, 1);
      const after = openTokens(h.t.secrets, (await h.t.store.getConnection(id))!)!;
      assert.notEqual(after.accessToken, before.accessToken, 'the refreshed access token was stored');
      assert.ok(after.refreshToken, 'a refresh token is still held');
    });

    it('when the stored tokens cannot be opened (key changed), then the connection is marked error and its work waits for re-authorisation', async () => {
      const id = await h.connect(vendor);
      await h.t.store.transaction(async (tx) => {
        const c = (await tx.getConnection(id))!;
        await tx.putConnection({ ...c, sealedTokens: h.t.secrets.seal('{}', 'another-context') });
      });
      await put('s', session('2026-11-10T15:00:00Z'));
      assert.deepEqual(await h.worker.drain(), ['paused']);
      const listed = (await h.t.platform.get('/api/v1/providers/p1/connections')).body.connections[0];
      assert.deepEqual([listed.status, listed.lastErrorCode, listed.pending], ['error', 'TOKENS_UNREADABLE', 1]);
      const again = await h.t.platform.post(`/api/v1/providers/p1/connections/${id}/reauthorize`);
      const url = new URL(again.body.authorizeUrl);
      const code = vendor.fake.issueAuthorizationCode(url.searchParams.get('code_challenge')!, url.searchParams.get('redirect_uri')!);
      assert.equal((await supertest(h.t.app).get(vendor.callbackPath).query({ code, state: url.searchParams.get('state') })).status, 200);
      await h.settle();
      assert.equal(h.live(vendor).length, 1);
    });

    it('when a write keeps failing permanently, then the target is dead-lettered, visible, and an admin retry repairs it', async () => {
      await h.connect(vendor);
      await put('s', session('2026-11-10T15:00:00Z'));
      vendor.fake.inject({ operation: 'create', status: 400, times: 1 });
      await h.settle();
      assert.equal(h.live(vendor).length, 0);
      const health = (await h.t.admin.get('/api/v1/admin/sync-health')).body;
      assert.equal(health.targets.dead, 1);
      const [dead] = health.deadTargets;
      assert.equal(dead.sessionId, 's');
      assert.match(dead.lastErrorCode, /^[A-Z0-9_]+$/);
      const retry = await h.t.admin.post(`/api/v1/admin/targets/${dead.id}/retry`);
      assert.equal(retry.status, 202);
      await h.settle();
      assert.equal(h.live(vendor).length, 1);
      assert.equal((await h.t.admin.get('/api/v1/admin/sync-health')).body.targets.dead, 0);
      const audit = (await h.t.admin.get('/api/v1/admin/audit')).body.entries;
      assert.ok(audit.some((e: { action: string; target: string }) => e.action === 'target.retry' && e.target === `target:${dead.id}`));
    });

    it('when rate-limited with Retry-After, then the retry waits at least that long and then succeeds', async () => {
      await h.connect(vendor);
      await put('s', session('2026-11-10T15:00:00Z'));
      vendor.fake.inject({ operation: 'create', status: 429, retryAfterSeconds: 120 });
      const before = h.t.clock.now().getTime();
      const first = await h.worker.drain();
      assert.deepEqual(first, ['retry']);
      assert.equal(h.live(vendor).length, 0);
      const due = Date.parse((await h.t.store.nextDueAt())!);
      assert.ok(due - before >= 120_000, `next attempt after ${due - before} ms`);
      await h.settle();
      assert.equal(h.live(vendor).length, 1);
    });

    it('when many sessions change at once, then pushes to one calendar are paced to its rate limit', async () => {
      await h.connect(vendor);
      const limit = DEFAULT_RATE_LIMITS[vendor.kind];
      const count = limit.burst + 10;
      for (let i = 0; i < count; i++) await put(`m${i}`, session(DateTime.fromISO('2026-11-20T14:00:00Z').plus({ hours: i }).toUTC().toISO()!));
      const started = h.t.clock.now().getTime();
      const first = await h.worker.drain();
      assert.equal(first.filter((o) => o === 'synced').length, limit.burst, 'the burst goes out at once');
      assert.ok(first.includes('paced'));
      await h.settle();
      assert.equal(h.live(vendor).length, count);
      const elapsed = h.t.clock.now().getTime() - started;
      assert.ok(elapsed >= ((count - limit.burst - 1) / limit.perSecond) * 1000, `the rest waited for tokens: ${elapsed} ms`);
    });

    it('when disconnected with removeEvents, then only our events are deleted and the tokens are forgotten', async () => {
      const id = await h.connect(vendor);
      await put('s', session('2026-11-10T15:00:00Z'));
      await put('t', session('2026-11-11T15:00:00Z'));
      await h.settle();
      const theirs = vendor.fake.addUntaggedEvent('primary', 'Dentist', '2026-11-10T18:00:00.000Z', '2026-11-10T19:00:00.000Z');
      const res = await h.t.platform.delete(`/api/v1/providers/p1/connections/${id}?removeEvents=true`);
      assert.equal(res.status, 202, 'the worker removes the events');
      assert.equal(res.body.status, 'removing');
      const during = await h.t.store.getConnection(id);
      assert.notEqual(during!.sealedTokens, null, 'the tokens stay until the events are gone');
      await h.settle();
      assert.equal(h.live(vendor).length, 0);
      assert.ok(vendor.fake.events('primary').some((e) => e.id === theirs && !e.cancelled), 'an event that is not ours is never touched');
      assert.equal(vendor.fake.requestCount('revoke'), 1, 'the grant is revoked at the vendor');
      const stored = await h.t.store.getConnection(id);
      assert.equal(stored!.status, 'disconnected');
      assert.equal(stored!.sealedTokens, null);
      assert.equal(stored!.cleanup, null);
      const [audit] = await h.t.store.listAudit({ limit: 1 });
      assert.equal(audit!.action, 'connection.disconnect');
      assert.deepStrictEqual(
        { status: audit!.details['status'], eventsRemoved: audit!.details['eventsRemoved'], eventsLeft: audit!.details['eventsLeft'], grant: audit!.details['grant'] },
        { status: 'done', eventsRemoved: 2, eventsLeft: 0, grant: 'revoked' },
      );
      await put('u', session('2026-11-12T15:00:00Z'));
      await h.settle();
      assert.equal(h.live(vendor).length, 0, 'a disconnected calendar receives nothing more');
    });

    describe('admin resync', () => {
      it('when events drifted, went missing or are orphaned, then a dry run plans, a run repairs, and a second run writes nothing', async () => {
        const id = await h.connect(vendor);
        for (const s of ['a', 'b', 'c', 'd']) await put(s, session(`2026-11-1${s.charCodeAt(0) - 96}T15:00:00Z`));
        await h.settle();
        const live = byKey(h.live(vendor));
        // A person moves one, deletes another; one session is cancelled while sync is paused.
        vendor.fake.editExternally('primary', live.get('p1/a')![0]!.id, { summary: 'Lunch', start: '2026-11-11T18:00:00.000Z', end: '2026-11-11T19:00:00.000Z' });
        vendor.fake.deleteExternally('primary', live.get('p1/b')![0]!.id);
        await h.t.store.transaction(async (tx) => {
          const c = (await tx.getConnection(id))!;
          await tx.putConnection({ ...c, status: 'error' });
        });
        await put('c', session('2026-11-13T15:00:00Z', { status: 'cancelled' }));
        await h.t.store.transaction(async (tx) => {
          const c = (await tx.getConnection(id))!;
          await tx.putConnection({ ...c, status: 'active' });
        });
        await h.t.store.transaction((tx) => tx.deleteTargets(id));

        const plan = await h.t.admin.post('/api/v1/admin/resync', { providerIds: ['p1'], dryRun: true });
        assert.equal(plan.status, 202);
        await h.runJobs();
        const planned = (await h.t.admin.get(`/api/v1/admin/jobs/${plan.body.jobId}`)).body;
        assert.equal(planned.status, 'succeeded');
        const actions = new Map<string, string>(planned.plan.map((p: { action: string; sessionId: string }) => [p.sessionId, p.action]));
        assert.equal(planned.plan.length, 3);
        assert.equal(actions.get('a'), 'update');
        // Google keeps a deleted event (cancelled) and restores it; Graph deleted it for good.
        assert.equal(actions.get('b'), vendor.kind === 'google' ? 'update' : 'create');
        assert.equal(actions.get('c'), 'delete');
        assert.equal(planned.progress.unchanged, 1);
        assert.equal(h.live(vendor).length, 3, 'a dry run writes nothing');

        const writesBefore = ['create', 'update', 'delete'].map((op) => vendor.fake.requestCount(op as 'create'));
        const run = await h.t.admin.post('/api/v1/admin/resync', { providerIds: ['p1'] });
        await h.runJobs();
        const done = (await h.t.admin.get(`/api/v1/admin/jobs/${run.body.jobId}`)).body;
        assert.equal(done.status, 'succeeded');
        assert.deepEqual(
          { total: done.progress.total, done: done.progress.done, created: done.progress.created, updated: done.progress.updated, deleted: done.progress.deleted, unchanged: done.progress.unchanged, failed: done.progress.failed },
          { total: 4, done: 4, created: vendor.kind === 'google' ? 0 : 1, updated: vendor.kind === 'google' ? 2 : 1, deleted: 1, unchanged: 1, failed: 0 },
        );
        const repaired = byKey(h.live(vendor));
        assert.deepEqual([...repaired.keys()].sort(), ['p1/a', 'p1/b', 'p1/d']);
        assert.equal(repaired.get('p1/a')![0]!.summary, 'Telehealth session');
        assert.equal(Date.parse(repaired.get('p1/a')![0]!.start), Date.parse('2026-11-11T15:00:00Z'));
        const writesAfterFirst = ['create', 'update', 'delete'].map((op) => vendor.fake.requestCount(op as 'create'));
        assert.ok(writesAfterFirst.some((n, i) => n > writesBefore[i]!));

        const again = await h.t.admin.post('/api/v1/admin/resync', {});
        await h.runJobs();
        const second = (await h.t.admin.get(`/api/v1/admin/jobs/${again.body.jobId}`)).body;
        assert.equal(second.progress.unchanged, 3);
        assert.deepEqual(['create', 'update', 'delete'].map((op) => vendor.fake.requestCount(op as 'create')), writesAfterFirst, 'a resync right after makes zero writes');
        await h.settle();
        assert.deepEqual(['create', 'update', 'delete'].map((op) => vendor.fake.requestCount(op as 'create')), writesAfterFirst, 'and leaves the worker nothing to do');
      });

      it('when a job was queued before a restart, then a new runner picks it up', async () => {
        await h.connect(vendor);
        const queued = await h.t.admin.post('/api/v1/admin/resync', { dryRun: true });
        const { ResyncRunner } = await import('../../src/sync/index.js');
        const { createLogger } = await import('../../src/logger.js');
        const fresh = new ResyncRunner({ joinLinks: testJoinLinks,
          store: h.t.store,
          connectors: new Map([[vendor.kind, vendor.connector]]),
          secrets: h.t.secrets,
          clock: h.t.clock,
          logger: createLogger('silent'),
          pastDays: 60,
          owner: 'after-restart',
        });
        assert.equal(await fresh.runOnce(), true);
        assert.equal((await h.t.admin.get(`/api/v1/admin/jobs/${queued.body.jobId}`)).body.status, 'succeeded');
      });
    });

    const workerOptions = (store: Store) => ({ store, connectors: new Map([[vendor.kind, vendor.connector]]), secrets: h.t.secrets, clock: h.t.clock, logger: createLogger('silent'), pastDays: 60, leaseMs: 30_000 });
    const workerNamed = (owner: string) => new SyncWorker({ joinLinks: testJoinLinks, ...workerOptions(h.t.store), owner });
    /** A worker that dies after its vendor call: the write happens, nothing after it is recorded. */
    const crashAfterVendorWrite = async () => {
      const crashed = new Error('process killed');
      const dyingStore = new Proxy(h.t.store, {
        get(target, prop, receiver) {
          if (prop === 'completeTarget' || prop === 'failTarget' || prop === 'releaseTarget') return () => Promise.reject(crashed);
          const value: unknown = Reflect.get(target, prop, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      await assert.rejects(new SyncWorker({ joinLinks: testJoinLinks, ...workerOptions(dyingStore), owner: 'dying' }).runOnce(), /process killed/);
    };

    it('when the worker dies between the external write and recording it, then a restarted worker converges without a duplicate', async () => {
      await h.connect(vendor);
      await put('s', session('2026-11-10T15:00:00Z'));
      await crashAfterVendorWrite();
      assert.equal(h.live(vendor).length, 1, 'the external write happened');
      const restarted = workerNamed('restarted');
      assert.deepEqual(await restarted.runOnce(), [], 'the lease still belongs to the dead worker');
      h.t.clock.advance(31_000);
      assert.deepEqual(await restarted.drain(), ['synced']);
      assert.equal(h.live(vendor).length, 1, 'no duplicate after the retry');
      assert.equal((await h.t.platform.get('/api/v1/providers/p1/connections')).body.connections[0].pending, 0);
    });

    it('when the worker dies after creating an event but before recording it, and the session is then cancelled, then the restarted worker removes the event', async () => {
      await h.connect(vendor);
      await put('s', session('2026-11-10T15:00:00Z'));
      await crashAfterVendorWrite();
      assert.equal(h.live(vendor).length, 1, 'the event was created, its id never recorded');

      await put('s', session('2026-11-10T15:00:00Z', { status: 'cancelled' }));
      h.t.clock.advance(31_000);
      assert.deepEqual(await workerNamed('restarted').drain(), ['synced']);
      assert.deepEqual(h.live(vendor), [], 'no live event for a cancelled session');
    });

    it('when faults are injected at random over many sessions, then every scheduled session ends with exactly one correct event and a resync writes nothing', async function () {
      this.timeout(60_000);
      await h.connect(vendor);
      let seed = 0x5eed + vendor.kind.length;
      const random = () => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed / 0x7fffffff;
      };
      const faults = [
        { status: 429, retryAfterSeconds: 3 },
        { status: 429 },
        { status: 500 },
        { status: 503, retryAfterSeconds: 1 },
        { network: 'reset' as const },
        { network: 'drop-response' as const },
      ];
      const operations = ['create', 'update', 'delete', 'get', 'list'] as const;
      const sessions = Array.from({ length: 24 }, (_, i) => `s${i}`);
      const outcomes: string[] = [];
      const start = (i: number, shift: number) => DateTime.fromISO('2026-11-05T14:00:00Z').plus({ hours: i * 3 + shift }).toUTC().toISO()!;
      for (let round = 0; round < 4; round++) {
        for (const [i, id] of sessions.entries()) {
          const r = random();
          if (r < 0.15) await put(id, session(start(i, round), { status: 'cancelled' }));
          else if (r < 0.2 && round > 0) await h.t.platform.delete(`/api/v1/providers/p1/sessions/${id}`);
          else await put(id, session(start(i, round % 2)));
          if (random() < 0.3) {
            const fault = faults[Math.floor(random() * faults.length)]!;
            vendor.fake.inject({ operation: operations[Math.floor(random() * operations.length)]!, ...fault, times: 1 + Math.floor(random() * 2) });
          }
        }
        if (round === 2) {
          vendor.fake.expireAccessTokens();
        }
        outcomes.push(...(await h.settle()));
      }
      assert.ok(outcomes.filter((o) => o === 'retry').length >= 5, `the schedule really hit faults: ${outcomes.filter((o) => o === 'retry').length} retries`);

      const scheduled = (await h.t.platform.get('/api/v1/providers/p1/sessions')).body.sessions.filter((s: { status: string }) => s.status === 'scheduled');
      const live = byKey(h.live(vendor));
      assert.deepEqual([...live.keys()].sort(), scheduled.map((s: { id: string }) => `p1/${s.id}`).sort(), 'one event per scheduled session, none for cancelled or deleted');
      for (const s of scheduled as { id: string; start: string; end: string }[]) {
        const events = live.get(`p1/${s.id}`)!;
        assert.equal(events.length, 1, `exactly one event for ${s.id}`);
        assert.equal(Date.parse(events[0]!.start), Date.parse(s.start));
        assert.equal(Date.parse(events[0]!.end), Date.parse(s.end));
        assert.equal(events[0]!.summary, 'Telehealth session');
        assert.equal(events[0]!.location, VIDEO_URL);
      }
      const writes = () => ['create', 'update', 'delete'].map((op) => vendor.fake.requestCount(op as 'create'));
      const before = writes();
      await h.t.admin.post('/api/v1/admin/resync', {});
      await h.runJobs();
      assert.deepEqual(writes(), before, 'a resync after convergence writes nothing');

      // Through all those failures the logs carried ids and codes only.
      const logs = h.t.rawLogs.join('');
      assert.match(logs, /target will be retried/);
      for (const secret of ['Jane', 'Doe', VIDEO_URL, 'ya29', 'Bearer ', 'refresh_token', 'access_token', 'Telehealth session']) {
        assert.ok(!logs.includes(secret), `logs must not contain ${secret}`);
      }
    });
  });
}
