import assert from 'node:assert/strict';
import pg from 'pg';
import { AppError } from '../../src/domain/index.js';
import type { Store } from '../../src/domain/index.js';
import { noMetrics } from '../../src/metrics.js';
import { MAX_TRANSACTION_ATTEMPTS } from '../../src/store/index.js';
import { aConnection, aProvider, aResyncJob, aSession } from '../support/builders.js';
import supertest from 'supertest';
import { createSchema, createSharedPostgresStores, createTestPostgresStore, describePostgres, dropSchema, startTcpProxy, terminateBackends } from '../support/postgres.js';
import { createSyncHarness, googleVendor } from '../support/sync-harness.js';
import { seedProvider } from '../support/seed.js';
import { PLATFORM_TOKEN, createTestApp } from '../support/test-app.js';
import { describeStoreContract } from './store.contract.js';
import { describeSyncStoreContract } from './sync-store.contract.js';

describePostgres('PostgresStore', (url) => {
  describeStoreContract('postgres', () => createTestPostgresStore(url));
  describeSyncStoreContract('postgres', () => createTestPostgresStore(url));

  describe('two processes on one database', () => {
    let stores: Store[];
    afterEach(async () => {
      await stores[0]?.close();
    });

    it('when two API processes race overlapping sessions onto one link, then each time exactly one is stored and the other is 409', async () => {
      stores = await createSharedPostgresStores(url, 2);
      const [a, b] = await Promise.all(stores.map((store) => createTestApp({ store })));
      await seedProvider(a!);
      for (let round = 0; round < 8; round++) {
        const start = `2026-12-0${1 + (round % 8)}T1${round % 10}:00:00Z`;
        const [first, second] = await Promise.all([
          a!.platform.put(`/api/v1/providers/p1/sessions/r${round}-a`, { start, durationMinutes: 50 }),
          b!.platform.put(`/api/v1/providers/p1/sessions/r${round}-b`, { start, durationMinutes: 50 }),
        ]);
        assert.deepEqual([first.status, second.status].sort(), [201, 409], `round ${round}: ${first.status} ${second.status}`);
        const loser = first.status === 409 ? first : second;
        assert.equal(loser.body.error.code, 'SESSION_OVERLAP');
      }
      const stored = await stores[0]!.listSessions('p1');
      assert.equal(stored.length, 8);
    });

    it('when a change is written through one API process, then the very next poll of another process has it, and concurrent polls render once', async () => {
      stores = await createSharedPostgresStores(url, 2);
      const renders: number[] = [0, 0];
      const metrics = (i: number) => ({ ...noMetrics(), feedRendered: () => void (renders[i]! += 1) });
      const [a, b] = await Promise.all(stores.map((store, i) => createTestApp({ store, metrics: metrics(i) })));
      await seedProvider(a!);
      const feed = await a!.platform.post('/api/v1/providers/p1/feeds', {});
      const path = new URL(String(feed.body.url)).pathname;
      const first = await supertest(b!.app).get(path);
      assert.equal(first.status, 200);
      assert.ok(!first.text.includes('20261110T100000'));

      // B would otherwise render the change as soon as it hears of it (FeedService refreshOnChange,
      // test/contract/feed-fence.test.ts): stopped, its polls are what renders.
      await b!.shutdown();
      await a!.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
      renders[1] = 0;
      const polls = await Promise.all(Array.from({ length: 8 }, () => supertest(b!.app).get(path)));
      for (const poll of polls) {
        assert.equal(poll.status, 200);
        assert.ok(poll.text.includes('DTSTART;TZID=America/New_York:20261110T100000'), 'the change is in the next poll');
      }
      assert.equal(renders[1], 1, 'eight concurrent polls of the changed feed, one render');
    });

    it('when two transactions lock one provider, read it and write it, then the second waits for the first and no change is lost', async () => {
      stores = await createSharedPostgresStores(url, 2);
      await stores[0]!.transaction((tx) => tx.putProvider(aProvider({ name: 'N' })));
      let releaseFirst: () => void = () => undefined;
      const firstMayCommit = new Promise<void>((resolve) => (releaseFirst = resolve));
      let firstHolds: () => void = () => undefined;
      const firstHoldsLock = new Promise<void>((resolve) => (firstHolds = resolve));
      const attempts = [0, 0];
      const append = (i: number, suffix: string, hold: boolean) =>
        stores[i]!.transaction(async (tx) => {
          attempts[i]! += 1;
          await tx.lockProvider('prov-1');
          const provider = (await tx.getProvider('prov-1'))!;
          if (hold) {
            firstHolds();
            await firstMayCommit;
          }
          await tx.putProvider({ ...provider, name: provider.name + suffix });
        });
      const first = append(0, 'a', true);
      await firstHoldsLock;
      const second = append(1, 'b', false);
      // The second transaction is seen waiting on the lock before the first may commit.
      const probe = new pg.Client({ connectionString: url });
      await probe.connect();
      try {
        for (let polls = 0; ; polls++) {
          const waiting = await probe.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' AND datname = current_database()");
          if (waiting.rowCount === 1) break;
          assert.ok(polls < 5000, 'the second transaction never waited for the lock');
        }
      } finally {
        await probe.end();
        releaseFirst();
      }
      await Promise.all([first, second]);
      assert.equal((await stores[0]!.getProvider('prov-1'))!.name, 'Nab');
      assert.deepEqual(attempts, [1, 1], 'no retry: the lock ordered them');
    });

    it('when one process commits work, then a listener in another process hears it, also after its connection was cut', async () => {
      stores = await createSharedPostgresStores(url, 2);
      const [writer, listener] = stores as [Store, Store];
      await writer.transaction(async (tx) => {
        await tx.putProvider(aProvider());
        await tx.putConnection(aConnection({ status: 'active' }));
      });
      const heard: string[] = [];
      let onHeard: () => void = () => undefined;
      const next = (kind: string) => new Promise<void>((resolve) => (onHeard = () => heard.at(-1) === kind && resolve()));
      const hear = (kind: string) => () => {
        heard.push(kind);
        onHeard();
      };
      listener.onWork('sync', hear('sync'));
      listener.onWork('jobs', hear('jobs'));
      // The LISTEN connection is up once a signal sent after it started arrives; send until one does.
      const first = next('sync');
      const ping = setInterval(() => void writer.transaction((tx) => tx.markConnectionTargetsDirty('conn-1', ['s0'], '2026-11-02T15:00:00.000Z')), 50);
      await first;
      clearInterval(ping);

      const job = next('jobs');
      await writer.transaction((tx) => tx.putJob(aResyncJob({ status: 'queued' })));
      await job;

      // Cut the listener's connection as a restarted server would; it reconnects and says so.
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      const reconnected = next('jobs');
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()");
      await admin.end();
      await reconnected;
      const afterCut = next('sync');
      await writer.transaction((tx) => tx.markConnectionTargetsDirty('conn-1', ['s1'], '2026-11-02T15:00:00.000Z'));
      await afterCut;
    });

    it('when a transaction keeps losing serialization conflicts, then it runs six times and fails as 503 SERVICE_UNAVAILABLE', async () => {
      stores = await createSharedPostgresStores(url, 1);
      let attempts = 0;
      await assert.rejects(
        stores[0]!.transaction(async () => {
          attempts += 1;
          throw Object.assign(new Error('could not serialize access'), { code: '40001' });
        }),
        (err: unknown) => err instanceof AppError && err.code === 'SERVICE_UNAVAILABLE' && err.status === 503,
      );
      assert.equal(attempts, MAX_TRANSACTION_ATTEMPTS);
    });

    it('when two workers claim due targets at once, then no target is leased twice and together they take all', async () => {
      stores = await createSharedPostgresStores(url, 2);
      const [s0, s1] = stores as [Store, Store];
      const at = '2026-11-02T15:00:00.000Z';
      await s0.transaction(async (tx) => {
        await tx.putProvider(aProvider());
        await tx.putConnection(aConnection({ status: 'active' }));
        for (let i = 0; i < 60; i++) await tx.putSession(aSession({ id: `s${i}`, uid: `s${i}@test` }));
        await tx.markSessionsDirty('prov-1', Array.from({ length: 60 }, (_, i) => `s${i}`), at);
      });
      const claimAll = async (store: Store, owner: string) => {
        const ids: string[] = [];
        for (;;) {
          const claimed = await store.claimTargets({ owner, now: at, leaseUntil: '2026-11-02T15:05:00.000Z', limit: 7 });
          if (claimed.length === 0) return ids;
          ids.push(...claimed.map((t) => t.id));
        }
      };
      const [x, y] = await Promise.all([claimAll(s0, 'worker-x'), claimAll(s1, 'worker-y')]);
      assert.equal(new Set([...x, ...y]).size, 60);
      assert.equal(x.length + y.length, 60);
    });
  });

  describe('when the database drops every connection', () => {
    it('then the store reconnects by itself: a write that fails answers 503, later ones land, and the worker converges', async function () {
      this.timeout(30_000);
      const schema = await createSchema(url);
      const h = await createSyncHarness([googleVendor], { store: await createTestPostgresStore(url, { schema }) });
      try {
        await seedProvider(h.t);
        await h.connect(h.vendors[0]!);
        const put = (id: string, day: number) =>
          h.t.platform.put(`/api/v1/providers/p1/sessions/${id}`, { start: `2026-11-${String(day).padStart(2, '0')}T15:00:00Z`, durationMinutes: 50 });
        for (let i = 0; i < 5; i++) assert.equal((await put(`a${i}`, 10 + i)).status, 201);
        await h.settle();

        assert.ok((await terminateBackends(url, schema)) > 0, 'backends were cut');
        const statuses: number[] = [];
        for (let i = 0; i < 5; i++) {
          for (let attempt = 0; ; attempt++) {
            const res = await put(`b${i}`, 20 + i);
            statuses.push(res.status);
            if (res.status === 201) break;
            assert.equal(res.status, 503, JSON.stringify(res.body));
            assert.equal(res.body.error.code, 'SERVICE_UNAVAILABLE');
            assert.ok(attempt < 3, 'the store reconnects within a few requests');
          }
        }
        assert.equal((await supertest(h.t.app).get('/readyz')).status, 200);
        await h.settle();
        assert.equal(h.live(h.vendors[0]!).length, 10);
      } finally {
        await h.close();
        await dropSchema(url, schema);
      }
    });
  });

  describe('when the database drops a connection in the middle of a transaction', () => {
    it('then that transaction fails as 503 (nothing crashes), it wrote nothing, and the next one succeeds', async () => {
      const schema = await createSchema(url);
      const store = await createTestPostgresStore(url, { schema });
      try {
        await store.transaction((tx) => tx.putProvider(aProvider()));
        let cut: () => void = () => undefined;
        const wasCut = new Promise<void>((resolve) => (cut = resolve));
        let reading: () => void = () => undefined;
        const hasRead = new Promise<void>((resolve) => (reading = resolve));
        const broken = store.transaction(async (tx) => {
          await tx.putProvider(aProvider({ name: 'half-written' }));
          reading();
          await wasCut;
          await tx.putProvider(aProvider({ name: 'never' }));
        });
        await hasRead;
        assert.ok((await terminateBackends(url, schema)) > 0);
        // Let the dead socket's 'error' reach the client, checked out but idle between statements.
        await new Promise((resolve) => setImmediate(resolve));
        cut();
        await assert.rejects(broken, (err: unknown) => err instanceof AppError && err.code === 'SERVICE_UNAVAILABLE');
        assert.equal((await store.getProvider('prov-1'))?.name, aProvider().name);
        await store.transaction((tx) => tx.putProvider(aProvider({ name: 'after' })));
        assert.equal((await store.getProvider('prov-1'))?.name, 'after');
      } finally {
        await store.close();
        await dropSchema(url, schema);
      }
    });
  });

  describe('when the database is away for a while and comes back', () => {
    it('then writes and /readyz answer 503 meanwhile, and afterwards everything works again and the worker converges', async function () {
      this.timeout(30_000);
      const proxy = await startTcpProxy(url);
      const schema = await createSchema(url);
      const h = await createSyncHarness([googleVendor], { store: await createTestPostgresStore(proxy.url, { schema }) });
      try {
        await seedProvider(h.t);
        await h.connect(h.vendors[0]!);
        const put = (id: string, day: number) =>
          h.t.platform.put(`/api/v1/providers/p1/sessions/${id}`, { start: `2026-11-${String(day).padStart(2, '0')}T15:00:00Z`, durationMinutes: 50 });
        assert.equal((await put('before', 10)).status, 201);

        await proxy.cut();
        const down = await put('during', 11);
        assert.equal(down.status, 503, JSON.stringify(down.body));
        assert.equal(down.body.error.code, 'SERVICE_UNAVAILABLE');
        assert.equal(down.headers['retry-after'], '2');
        assert.equal((await supertest(h.t.app).get('/readyz')).status, 503);
        assert.equal((await supertest(h.t.app).get('/api/v1/providers/p1').set('Authorization', `Bearer ${PLATFORM_TOKEN}`)).status, 503);

        await proxy.restore();
        assert.equal((await supertest(h.t.app).get('/readyz')).status, 200);
        assert.equal((await put('during', 11)).status, 201);
        assert.equal((await put('after', 12)).status, 201);
        await h.settle();
        assert.deepEqual(h.live(h.vendors[0]!).map((e) => e.tag?.key).sort(), ['p1/after', 'p1/before', 'p1/during']);
      } finally {
        await h.close();
        await dropSchema(url, schema);
        await proxy.close();
      }
    });
  });
});

