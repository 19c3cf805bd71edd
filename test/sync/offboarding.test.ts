import assert from 'node:assert/strict';
import supertest from 'supertest';
import { CLIENT, seedProvider } from '../support/seed.js';
import { testStores } from '../support/stores.js';
import { createSyncHarness, vendorFactories, type SyncHarness, type VendorRig } from '../support/sync-harness.js';

// Leaving cleanly (issue 11): a provider who leaves, or a calendar disconnected, leaves none of our
// events behind, the grant revoked at the vendor, the tokens forgotten last; failures midway are
// retried by the worker and a crash resumes; what could not be cleaned is said, never silently.

const session = (start: string) => ({ start, durationMinutes: 50, client: CLIENT });
const DAY_MS = 86_400_000;

for (const [database, makeStore] of testStores())
for (const [name, factory] of vendorFactories) {
  describe(`leaving cleanly: ${name} (${database})`, () => {
    let h: SyncHarness;
    let vendor: VendorRig;
    let connectionId: string;
    let feedPath: string;
    const put = (id: string, start: string) => h.t.platform.put(`/api/v1/providers/p1/sessions/${id}`, session(start));

    beforeEach(async () => {
      h = await createSyncHarness([factory], { store: await makeStore() });
      vendor = h.vendors[0]!;
      await seedProvider(h.t);
      connectionId = await h.connect(vendor);
      for (const [id, day] of [['a', 10], ['b', 11], ['c', 12]] as const) assert.equal((await put(id, `2026-11-${day}T15:00:00Z`)).status, 201);
      await h.settle();
      assert.equal(h.live(vendor).length, 3);
      feedPath = new URL((await h.t.platform.post('/api/v1/providers/p1/feeds', {})).body.url).pathname;
    });
    afterEach(() => h.close());

    const feed = () => supertest(h.t.app).get(feedPath);

    it('when a provider is offboarded, then every event we wrote goes, the grant is revoked, the tokens go last, and the record says so', async () => {
      const theirs = vendor.fake.addUntaggedEvent('primary', 'Dentist', '2026-11-10T18:00:00.000Z', '2026-11-10T19:00:00.000Z');
      const res = await h.t.platform.post('/api/v1/providers/p1/offboard', {});
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.body.status, 'removing');
      assert.deepStrictEqual(res.body.connections.map((c: { connectionId: string; status: string; pending: number }) => [c.connectionId, c.status, c.pending]), [[connectionId, 'removing', 3]]);
      assert.notEqual((await h.t.store.getConnection(connectionId))!.sealedTokens, null, 'the tokens stay while events remain');

      // Nothing more is written for them, and their feed URL already shows an empty calendar.
      const write = await put('d', '2026-11-13T15:00:00Z');
      assert.equal(write.status, 409);
      assert.equal(write.body.error.code, 'PROVIDER_OFFBOARDED');
      const during = await feed();
      assert.equal(during.status, 200);
      assert.match(during.text, /X-WR-CALNAME:Sessions – Dr\. Ada Byron/);
      assert.doesNotMatch(during.text, /BEGIN:VEVENT/);

      await h.settle();
      assert.equal(h.live(vendor).length, 0, 'no event of ours is left');
      assert.ok(vendor.fake.events('primary').some((e) => e.id === theirs && !e.cancelled), 'the provider\'s own event is never touched');
      assert.equal(vendor.fake.requestCount('revoke'), 1);
      const connection = (await h.t.store.getConnection(connectionId))!;
      assert.deepStrictEqual([connection.status, connection.sealedTokens, connection.cleanup], ['disconnected', null, null]);

      const done = await h.t.platform.get(`/api/v1/offboardings/${res.body.id}`);
      assert.equal(done.body.status, 'done');
      assert.deepStrictEqual(done.body.connections, [{ connectionId, kind: vendor.kind, status: 'done', eventsRemoved: 3, eventsLeft: 0, grant: 'revoked', reason: null, pending: 0 }]);
      const provider = await h.t.platform.get('/api/v1/providers/p1');
      assert.equal(provider.status, 200, 'offboard keeps the record');
      assert.equal(provider.body.offboardedAt, res.body.requestedAt);

      const audit = await h.t.store.listAudit({ limit: 10 });
      const finished = audit.find((a) => a.action === 'provider.offboard');
      assert.deepStrictEqual(finished?.details, { offboardingId: res.body.id, connections: 1, eventsRemoved: 3, eventsLeft: 0, grantsRevoked: 1, failures: 0, feedsTombstoned: 1 });
      assert.ok(audit.some((a) => a.action === 'connection.offboard' && a.target === `connection:${connectionId}`));
      assert.doesNotMatch(JSON.stringify(audit), /Jane|Doe|Byron/, 'the audit holds ids and counts only');
    });

    it('when a provider is deleted, then the calendar is emptied first, the record goes last, and the feed URL serves an empty calendar, then 410', async () => {
      const res = await h.t.platform.delete('/api/v1/providers/p1');
      assert.equal(res.status, 202);
      assert.equal((await h.t.platform.get('/api/v1/providers/p1')).status, 200, 'the record stays until the calendars are clean');
      await h.settle();
      assert.equal(h.live(vendor).length, 0);
      assert.equal((await h.t.platform.get('/api/v1/providers/p1')).status, 404);
      assert.equal((await h.t.store.getConnection(connectionId)), null, 'the connection row went with the provider');
      const record = await h.t.platform.get(`/api/v1/offboardings/${res.body.id}`);
      assert.equal(record.status, 200, 'the proof outlives the provider');
      assert.equal(record.body.status, 'done');
      assert.equal((await h.t.platform.get('/api/v1/providers/p1/offboardings')).body.offboardings[0].id, res.body.id);

      // A provider created again under the same id starts afresh; the old URL never shows its sessions.
      await seedProvider(h.t);
      assert.equal((await put('z', '2026-11-20T15:00:00Z')).status, 201);
      const tombstone = await feed();
      assert.equal(tombstone.status, 200);
      assert.doesNotMatch(tombstone.text, /BEGIN:VEVENT/);
      h.t.clock.advance(30 * DAY_MS);
      assert.equal((await feed()).status, 410);
    });

    it('when a provider offboarded earlier is deleted, then the record goes at once: its calendars are clean already', async () => {
      const first = await h.t.platform.post('/api/v1/providers/p1/offboard', {});
      await h.settle();
      const again = await h.t.platform.post('/api/v1/providers/p1/offboard', {});
      assert.deepStrictEqual([again.status, again.body.id], [200, first.body.id], 'asking again answers the same offboarding');
      const deleted = await h.t.platform.delete('/api/v1/providers/p1');
      assert.deepStrictEqual([deleted.status, deleted.body.id, deleted.body.mode], [200, first.body.id, 'delete']);
      assert.equal((await h.t.platform.get('/api/v1/providers/p1')).status, 404);
      assert.ok((await h.t.store.listAudit({ limit: 5 })).some((a) => a.action === 'provider.delete'));
    });

    it('when the vendor answers 503 while events are removed and again while revoking, then the worker retries, sync-health shows it, and it completes', async () => {
      vendor.fake.inject({ operation: 'delete', status: 503, retryAfterSeconds: 5, times: 2 });
      vendor.fake.inject({ operation: 'revoke', status: 503, retryAfterSeconds: 30 });
      const res = await h.t.platform.post('/api/v1/providers/p1/offboard', {});
      await h.worker.drain();
      const health = await h.t.store.syncHealth(h.t.clock.now().toISOString());
      assert.ok(health.targets.retrying >= 1, `the failed removals wait for their retry: ${JSON.stringify(health.targets)}`);
      assert.equal((await h.t.platform.get(`/api/v1/offboardings/${res.body.id}`)).body.status, 'removing');
      await h.settle();
      assert.equal(h.live(vendor).length, 0);
      const done = await h.t.platform.get(`/api/v1/offboardings/${res.body.id}`);
      assert.equal(done.body.status, 'done', JSON.stringify(done.body));
      assert.equal(done.body.connections[0].grant, 'revoked');
      assert.equal(vendor.fake.requestCount('revoke'), 2, 'revoked on the second try');
    });

    it('when the revocation was applied but its answer was lost, then the retry finds the grant gone and the cleanup still completes', async () => {
      vendor.fake.inject({ operation: 'revoke', network: 'drop-response' });
      const res = await h.t.platform.post('/api/v1/providers/p1/offboard', {});
      await h.settle();
      const done = await h.t.platform.get(`/api/v1/offboardings/${res.body.id}`);
      assert.equal(done.body.status, 'done', JSON.stringify(done.body));
      assert.equal(done.body.connections[0].grant, 'already_invalid');
      assert.equal((await h.t.store.getConnection(connectionId))!.sealedTokens, null);
    });

    it('when the worker dies holding the removals, then another one takes them over once its lease ends and finishes', async () => {
      const res = await h.t.platform.post('/api/v1/providers/p1/offboard', {});
      const now = h.t.clock.now();
      const held = await h.t.store.claimTargets({ owner: 'dead-worker', now: now.toISOString(), leaseUntil: new Date(now.getTime() + 15_000).toISOString(), limit: 50 });
      assert.equal(held.length, 3, 'a worker claimed them and died');
      assert.equal((await h.worker.drain()).length, 0, 'nobody else touches leased work');
      h.t.clock.advance(15_001);
      await h.settle();
      assert.equal(h.live(vendor).length, 0);
      assert.equal((await h.t.platform.get(`/api/v1/offboardings/${res.body.id}`)).body.status, 'done');
    });

    it('when events we wrote have no record (lost in a crash), then the sweep finds them by our tag and removes them too', async () => {
      await h.t.store.transaction((tx) => tx.deleteTargets(connectionId));
      const res = await h.t.platform.post('/api/v1/providers/p1/offboard', {});
      await h.settle();
      assert.equal(h.live(vendor).length, 0);
      const done = await h.t.platform.get(`/api/v1/offboardings/${res.body.id}`);
      assert.equal(done.body.connections[0].eventsRemoved, 3);
    });

    it('when the connection needs re-authorisation, then nothing can be removed remotely and the answer and the audit say so', async () => {
      vendor.fake.revokeGrants();
      vendor.fake.expireAccessTokens();
      assert.equal((await put('a', '2026-11-10T16:00:00Z')).status, 200);
      await h.settle();
      assert.equal((await h.t.store.getConnection(connectionId))!.status, 'needs_reauth');
      const res = await h.t.platform.post('/api/v1/providers/p1/offboard', {});
      assert.equal(res.status, 200, 'nothing for the worker to do');
      assert.equal(res.body.status, 'incomplete');
      assert.deepStrictEqual(res.body.connections[0], { connectionId, kind: vendor.kind, status: 'incomplete', eventsRemoved: 0, eventsLeft: 3, grant: 'not_attempted', reason: 'NEEDS_REAUTH', pending: 0 });
      assert.equal((await h.t.store.getConnection(connectionId))!.sealedTokens, null, 'the tokens are forgotten all the same');
      const [finished] = await h.t.store.listAudit({ limit: 1 });
      assert.equal(finished!.action, 'provider.offboard');
      assert.equal(finished!.details['failures'], 1);
      assert.equal(finished!.details['eventsLeft'], 3);
    });

    it('when the grant is withdrawn while the events are being removed, then the cleanup ends as incomplete instead of waiting forever', async () => {
      const res = await h.t.platform.post('/api/v1/providers/p1/offboard', {});
      vendor.fake.revokeGrants();
      vendor.fake.expireAccessTokens();
      await h.settle();
      const done = await h.t.platform.get(`/api/v1/offboardings/${res.body.id}`);
      assert.equal(done.body.status, 'incomplete');
      assert.equal(done.body.connections[0].reason, 'NEEDS_REAUTH');
      assert.equal(done.body.connections[0].eventsLeft, 3);
      assert.equal((await h.t.store.getConnection(connectionId))!.sealedTokens, null);
    });

    it('when another provider\'s connection uses the same account, then leaving keeps the grant for it, and the last one to leave revokes', async () => {
      await seedProvider(h.t, { providerId: 'p2' });
      const other = await h.connect(vendor, 'p2');
      assert.equal((await h.t.platform.put('/api/v1/providers/p2/sessions/x', session('2026-11-14T15:00:00Z'))).status, 201);
      await h.settle();
      const first = await h.t.platform.post('/api/v1/providers/p1/offboard', {});
      await h.settle();
      const kept = await h.t.platform.get(`/api/v1/offboardings/${first.body.id}`);
      assert.deepStrictEqual([kept.body.status, kept.body.connections[0].grant, kept.body.connections[0].eventsRemoved], ['done', 'shared', 3]);
      assert.equal(vendor.fake.requestCount('revoke'), 0, 'p2 still uses the grant');
      assert.deepStrictEqual(h.live(vendor).map((e) => e.tag!.key), ['p2/x']);
      assert.equal((await h.t.platform.put('/api/v1/providers/p2/sessions/y', session('2026-11-15T15:00:00Z'))).status, 201);
      await h.settle();
      assert.equal(h.live(vendor).length, 2, 'the other connection keeps working');

      const last = await h.t.platform.delete('/api/v1/providers/p2');
      await h.settle();
      const revoked = await h.t.platform.get(`/api/v1/offboardings/${last.body.id}`);
      assert.deepStrictEqual([revoked.body.status, revoked.body.connections[0].grant], ['done', 'revoked']);
      assert.equal(vendor.fake.requestCount('revoke'), 1);
      assert.equal(h.live(vendor).length, 0);
      assert.equal(await h.t.store.getConnection(other), null);
    });

    it('when one calendar is disconnected, then by default our events go with it; with removeEvents=false they stay and the grant is revoked', async () => {
      const res = await h.t.platform.delete(`/api/v1/providers/p1/connections/${connectionId}`);
      assert.equal(res.status, 202);
      assert.equal((await h.t.platform.delete(`/api/v1/providers/p1/connections/${connectionId}`)).body.status, 'removing', 'asking again answers the same');
      const reconnect = await h.t.platform.post(`/api/v1/providers/p1/connections/${connectionId}/reauthorize`, {});
      assert.equal(reconnect.status, 409);
      assert.equal(reconnect.body.error.code, 'CONNECTION_CLEANUP_UNDER_WAY');
      await h.settle();
      assert.equal(h.live(vendor).length, 0);
      assert.equal((await feed()).status, 200, 'the provider stays: its feed is untouched');
      assert.match((await feed()).text, /BEGIN:VEVENT/);

      const second = await h.connect(vendor);
      await h.settle();
      assert.equal(h.live(vendor).length, 3);
      const kept = await h.t.platform.delete(`/api/v1/providers/p1/connections/${second}?removeEvents=false`);
      assert.equal(kept.status, 202);
      await h.settle();
      assert.equal(h.live(vendor).length, 3, 'the events stay');
      assert.equal(vendor.fake.requestCount('revoke'), 2);
      assert.equal((await h.t.store.getConnection(second))!.status, 'disconnected');
    });
  });
}

for (const [database, makeStore] of testStores()) {
  describe(`leaving cleanly without calendars (${database})`, () => {
    it('when a provider with no connected calendar is deleted, then it is done at once and its feed URLs are tombstoned', async () => {
      const h = await createSyncHarness([], { store: await makeStore() });
      try {
        await seedProvider(h.t);
        const path = new URL((await h.t.platform.post('/api/v1/providers/p1/feeds', {})).body.url).pathname;
        const res = await h.t.platform.delete('/api/v1/providers/p1');
        assert.equal(res.status, 200);
        assert.deepStrictEqual([res.body.status, res.body.feedsTombstoned, res.body.connections], ['done', 1, []]);
        assert.equal((await h.t.platform.get('/api/v1/providers/p1')).status, 404);
        assert.equal((await supertest(h.t.app).get(path)).status, 200);
        assert.equal((await h.t.platform.delete('/api/v1/providers/p1')).status, 404);
      } finally {
        await h.close();
      }
    });
  });
}
