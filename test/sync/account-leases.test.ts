import { testJoinLinks } from '../support/builders.js';
import assert from 'node:assert/strict';
import { ResyncRunner } from '../../src/sync/index.js';
import { seedProvider } from '../support/seed.js';
import { testStores } from '../support/stores.js';
import { createSyncHarness, googleVendor, type SyncHarness } from '../support/sync-harness.js';

// One calendar account is worked by one runner at a time: a sync worker and a resync, in this
// process or another, never call one account's API (or refresh its tokens) at once.

for (const [database, makeStore] of testStores())
  describe(`account leases between the sync worker and a resync (${database})`, () => {
    let h: SyncHarness;
    let connectionId: string;
    beforeEach(async () => {
      h = await createSyncHarness([googleVendor], { store: await makeStore() });
      await seedProvider(h.t);
      connectionId = await h.connect(h.vendors[0]!);
      for (const day of [10, 11, 12]) {
        await h.t.platform.put(`/api/v1/providers/p1/sessions/s${day}`, { start: `2026-11-${day}T15:00:00Z`, durationMinutes: 50 });
      }
    });
    afterEach(() => h.close());

    const resyncWith = (sleep: (ms: number) => Promise<void>) =>
      new ResyncRunner({ joinLinks: testJoinLinks, store: h.t.store, connectors: new Map([['google', h.vendors[0]!.connector]]), secrets: h.t.secrets, clock: h.t.clock, logger: h.t.logger, pastDays: 60, owner: 'resync-x', sleep });

    it('when the worker holds the account, then the resync waits for it and runs once it is given back', async () => {
      // The worker claims the account and stops half-way, holding it (as in the middle of a batch).
      const claimed = await h.t.store.claimTargets({ owner: 'worker-a', now: h.t.clock.now().toISOString(), leaseUntil: '2026-11-02T12:00:15.000Z', limit: 1 });
      assert.equal(claimed.length, 1);
      let waits = 0;
      const resync = resyncWith(async () => {
        waits += 1;
        if (waits === 3) await h.t.store.releaseLeases('worker-a');
      });
      const queued = await h.t.admin.post('/api/v1/admin/resync', {});
      assert.ok(await resync.runOnce());

      const job = (await h.t.admin.get(`/api/v1/admin/jobs/${queued.body.jobId}`)).body;
      assert.equal(job.status, 'succeeded', JSON.stringify(job));
      assert.equal(waits, 3, 'it waited while the worker held the account');
      assert.equal(h.live(h.vendors[0]!).length, 3);
    });

    it('when the worker never gives the account back, then the resync job fails as ACCOUNT_BUSY and writes nothing', async () => {
      await h.t.store.claimTargets({ owner: 'worker-a', now: h.t.clock.now().toISOString(), leaseUntil: '2026-11-02T12:00:15.000Z', limit: 1 });
      const writesBefore = h.vendors[0]!.fake.requestCount('create');
      const queued = await h.t.admin.post('/api/v1/admin/resync', {});
      assert.ok(await resyncWith(async () => undefined).runOnce());

      const job = (await h.t.admin.get(`/api/v1/admin/jobs/${queued.body.jobId}`)).body;
      assert.equal(job.status, 'failed');
      assert.equal(job.error, 'ACCOUNT_BUSY');
      assert.equal(h.vendors[0]!.fake.requestCount('create'), writesBefore);
    });

    it('when the resync holds the account, then the worker claims none of its targets until the resync is done', async () => {
      assert.equal(await h.t.store.leaseConnection(connectionId, 'resync-x', h.t.clock.now().toISOString(), '2026-11-02T12:00:15.000Z'), true);
      assert.deepEqual(await h.worker.runOnce(), []);
      await h.t.store.releaseLeases('resync-x');
      assert.equal((await h.worker.runOnce()).length, 3);
    });

    it('when the worker has drained an account, then it gives the account back', async () => {
      await h.settle();
      assert.equal(await h.t.store.leaseConnection(connectionId, 'resync-x', h.t.clock.now().toISOString(), '2026-11-02T12:00:15.000Z'), true);
    });
  });
