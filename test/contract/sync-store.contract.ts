// The push-sync part of the Store port (src/domain/sync-ports.ts), as every adapter must show it.
// Each test opens a fresh, empty store and seeds only what it states. Targets are only ever made
// through the port (markConnectionTargetsDirty, markSessionsDirty, recordTargetSynced), so their
// ids are the store's: tests read them back rather than guess them.
import assert from 'node:assert/strict';
import type { AuditEntry, Connection, Provider, Store, SyncTarget } from '../../src/domain/index.js';
import { T0, aConnection, aProvider, aResyncJob, aSyncTarget } from '../support/builders.js';

/** T0 plus some minutes, as the ISO UTC text the store keeps. */
function at(minutes: number): string {
  return new Date(Date.parse(T0) + minutes * 60_000).toISOString();
}

const FAR = at(100_000);

interface Seed {
  providers?: Provider[];
  connections?: Connection[];
}

export function describeSyncStoreContract(adapterName: string, makeStore: () => Promise<Store>): void {
  describe(`Store push-sync contract (${adapterName})`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await makeStore();
    });

    afterEach(async () => {
      await store.close();
    });

    async function seed(data: Seed): Promise<void> {
      await store.transaction(async (tx) => {
        for (const provider of data.providers ?? []) await tx.putProvider(provider);
        for (const connection of data.connections ?? []) await tx.putConnection(connection);
      });
    }

    /** prov-1 with one active connection, conn-1. */
    async function seedActive(): Promise<void> {
      await seed({ providers: [aProvider()], connections: [aConnection()] });
    }

    function dirty(connectionId: string, sessionIds: readonly string[], when: string): Promise<number> {
      return store.transaction((tx) => tx.markConnectionTargetsDirty(connectionId, sessionIds, when));
    }

    async function targetOf(connectionId: string, sessionId: string): Promise<SyncTarget> {
      const found = (await store.listTargets(connectionId)).find((t) => t.sessionId === sessionId);
      assert.ok(found, `no target for ${connectionId}/${sessionId}`);
      return found;
    }

    function claim(owner: string, now: string, leaseUntil: string, limit = 100): Promise<SyncTarget[]> {
      return store.claimTargets({ owner, now, leaseUntil, limit });
    }

    const sessionsOf = (targets: readonly SyncTarget[]): string[] => targets.map((t) => t.sessionId);

    /** A target that was claimed and dead-lettered at `when`. */
    async function deadTarget(connectionId: string, sessionId: string, when: string): Promise<SyncTarget> {
      await dirty(connectionId, [sessionId], when);
      const { id } = await targetOf(connectionId, sessionId);
      const claimed = await claim('w-dead', when, at(100_001));
      assert.ok(claimed.some((t) => t.id === id));
      for (const other of claimed.filter((t) => t.id !== id)) await store.releaseTarget(other.id, 'w-dead', other.nextAttemptAt);
      assert.equal(await store.failTarget(id, 'w-dead', { errorCode: 'HTTP_400', nextAttemptAt: when, dead: true, at: when }), true);
      // The claim leased the connection too; the tests' own workers must be able to take it.
      await store.releaseLeases('w-dead');
      return targetOf(connectionId, sessionId);
    }

    describe('work signals', () => {
      /** Counts of each kind's signals, from now on. */
      function listen(): { sync: number; jobs: number; stop: () => void } {
        const heard = { sync: 0, jobs: 0, stop: () => undefined as void };
        const stopSync = store.onWork('sync', () => (heard.sync += 1));
        const stopJobs = store.onWork('jobs', () => (heard.jobs += 1));
        heard.stop = () => {
          stopSync();
          stopJobs();
        };
        return heard;
      }

      it('when a transaction marks targets dirty, then sync is signalled once it has committed, not before', async () => {
        await seedActive();
        const heard = listen();
        await store.transaction(async (tx) => {
          await tx.markConnectionTargetsDirty('conn-1', ['sess-1', 'sess-2'], T0);
          assert.equal(heard.sync, 0, 'not while the transaction is open');
        });
        assert.ok(heard.sync >= 1);
        assert.equal(heard.jobs, 0);
        heard.stop();
      });

      it('when the transaction rolls back, or marks nothing, then nothing is signalled', async () => {
        await seedActive();
        const heard = listen();
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.markConnectionTargetsDirty('conn-1', ['sess-1'], T0);
            throw new Error('changed my mind');
          }),
          /changed my mind/,
        );
        await store.transaction((tx) => tx.markConnectionTargetsDirty('conn-404', ['sess-1'], T0));
        await store.transaction((tx) => tx.markSessionsDirty('prov-1', [], T0));
        assert.deepEqual([heard.sync, heard.jobs], [0, 0]);
        heard.stop();
      });

      it('when a job is queued or a dead target retried, then jobs and sync are signalled; an unsubscribed listener hears nothing', async () => {
        await seedActive();
        await dirty('conn-1', ['sess-1'], T0);
        const [target] = await store.listTargets('conn-1');
        const heard = listen();
        await store.transaction((tx) => tx.putJob(aResyncJob({ status: 'queued' })));
        assert.ok(heard.jobs >= 1);
        await store.transaction((tx) => tx.retryTarget(target!.id, T0));
        assert.ok(heard.sync >= 1);
        heard.stop();
        const before = { ...heard };
        await store.transaction((tx) => tx.putJob(aResyncJob({ id: 'job-2', status: 'queued' })));
        assert.deepEqual([heard.sync, heard.jobs], [before.sync, before.jobs]);
      });
    });

    describe('connections', () => {
      it('when connections are put, then getConnection returns each one exactly, pendingAuth null or set', async () => {
        const active = aConnection({ id: 'conn-1', lastSyncedAt: T0, lastErrorCode: 'HTTP_503', updatedAt: at(5) });
        const authorising = aConnection({
          id: 'conn-2',
          kind: 'outlook',
          calendarId: 'AAMkAGI2',
          status: 'pending_authorization',
          accountEmail: null,
          sealedTokens: null,
          pendingAuth: { nonce: 'nonce-1', sealedVerifier: 'sealed:verifier', expiresAt: at(10) },
        });
        await seed({ providers: [aProvider()], connections: [active, authorising] });

        assert.deepStrictEqual(await store.getConnection('conn-1'), active);
        assert.deepStrictEqual(await store.getConnection('conn-2'), authorising);
        assert.equal(await store.getConnection('conn-404'), null);
      });

      it('when a connection is put again without pendingAuth, then it is replaced and pendingAuth reads back null', async () => {
        await seed({
          providers: [aProvider()],
          connections: [aConnection({ status: 'pending_authorization', pendingAuth: { nonce: 'n', sealedVerifier: 'v', expiresAt: at(10) } })],
        });
        const authorised = aConnection({ status: 'active', pendingAuth: null, sealedTokens: 'sealed:new', updatedAt: at(1) });

        await store.transaction((tx) => tx.putConnection(authorised));

        assert.deepStrictEqual(await store.getConnection('conn-1'), authorised);
      });

      it('when a connection names a provider that does not exist, then the write rejects', async () => {
        await assert.rejects(store.transaction((tx) => tx.putConnection(aConnection({ providerId: 'prov-404' }))));
        assert.equal(await store.getConnection('conn-1'), null);
      });

      it("when listing a provider's connections, then only its own come back, ordered by createdAt then id", async () => {
        const later = aConnection({ id: 'conn-a', createdAt: at(1) });
        const firstByTime = aConnection({ id: 'conn-b', createdAt: T0, status: 'disconnected' });
        const tieById = aConnection({ id: 'conn-c', createdAt: T0, status: 'needs_reauth' });
        const elsewhere = aConnection({ id: 'conn-0', providerId: 'prov-2', createdAt: T0 });
        await seed({
          providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })],
          connections: [tieById, later, elsewhere, firstByTime],
        });

        assert.deepStrictEqual(await store.listConnections('prov-1'), [firstByTime, tieById, later]);
        assert.deepStrictEqual(await store.listConnections('prov-404'), []);
      });

      it('when listing all connections, then every provider\'s come back by id, filtered by status when asked', async () => {
        const c3 = aConnection({ id: 'conn-3', status: 'active', createdAt: T0 });
        const c1 = aConnection({ id: 'conn-1', providerId: 'prov-2', status: 'needs_reauth', createdAt: at(2) });
        const c2 = aConnection({ id: 'conn-2', status: 'error', createdAt: at(1) });
        const c4 = aConnection({ id: 'conn-4', providerId: 'prov-2', status: 'active', createdAt: at(3) });
        await seed({ providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })], connections: [c3, c1, c4, c2] });

        assert.deepStrictEqual(await store.listAllConnections(), [c1, c2, c3, c4]);
        assert.deepStrictEqual(await store.listAllConnections(['active']), [c3, c4]);
        assert.deepStrictEqual(await store.listAllConnections(['needs_reauth', 'error']), [c1, c2]);
        assert.deepStrictEqual(await store.listAllConnections(['disconnected']), []);
        assert.deepStrictEqual(await store.listAllConnections([]), []);
      });
    });

    describe('marking targets dirty', () => {
      it('when sessions change, then only active and needs_reauth connections of that provider get targets', async () => {
        await seed({
          providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })],
          connections: [
            aConnection({ id: 'conn-active', status: 'active' }),
            aConnection({ id: 'conn-reauth', status: 'needs_reauth' }),
            aConnection({ id: 'conn-pending', status: 'pending_authorization' }),
            aConnection({ id: 'conn-error', status: 'error' }),
            aConnection({ id: 'conn-gone', status: 'disconnected' }),
            aConnection({ id: 'conn-other', providerId: 'prov-2', status: 'active' }),
          ],
        });

        const touched = await store.transaction((tx) => tx.markSessionsDirty('prov-1', ['sess-1', 'sess-2'], at(1)));

        assert.equal(touched, 4);
        for (const connectionId of ['conn-active', 'conn-reauth']) {
          const targets = await store.listTargets(connectionId);
          assert.deepStrictEqual(
            targets,
            ['sess-1', 'sess-2'].map((sessionId, i) =>
              aSyncTarget({ id: targets[i]?.id, connectionId, sessionId, nextAttemptAt: at(1), createdAt: at(1), updatedAt: at(1) }),
            ),
          );
        }
        for (const connectionId of ['conn-pending', 'conn-error', 'conn-gone', 'conn-other']) {
          assert.deepStrictEqual(await store.listTargets(connectionId), [], connectionId);
        }
      });

      it('when a session changes again, then its target keeps its id, gets a new generation and is due, un-dead and fresh', async () => {
        await seedActive();
        const dead = await deadTarget('conn-1', 'sess-1', at(1));
        assert.notEqual(dead.deadAt, null);

        const touched = await store.transaction((tx) => tx.markSessionsDirty('prov-1', ['sess-1'], at(2)));

        assert.equal(touched, 1);
        const target = await targetOf('conn-1', 'sess-1');
        assert.equal(target.id, dead.id);
        assert.equal(target.generation, dead.generation + 1);
        assert.equal(target.syncedGeneration, 0);
        assert.equal(target.deadAt, null);
        assert.equal(target.attempts, 0);
        assert.equal(target.nextAttemptAt, at(2));
        assert.equal(target.createdAt, at(1));
        assert.equal(target.updatedAt, at(2));
        assert.deepStrictEqual(await store.listTargets('conn-1'), [target]);
      });

      it('when a session is named twice in one call, then it is one change: one target, one generation', async () => {
        await seedActive();

        const touched = await dirty('conn-1', ['sess-1', 'sess-1'], at(1));

        assert.equal(touched, 1);
        const [target, ...rest] = await store.listTargets('conn-1');
        assert.deepStrictEqual(rest, []);
        assert.equal(target?.generation, 1);
      });

      it('when no sessions are given, then nothing is touched and the count is 0', async () => {
        await seedActive();

        assert.equal(await store.transaction((tx) => tx.markSessionsDirty('prov-1', [], at(1))), 0);
        assert.equal(await dirty('conn-1', [], at(1)), 0);
        assert.deepStrictEqual(await store.listTargets('conn-1'), []);
      });

      it('when one connection is marked dirty, then it gets targets whatever its status, and no other connection does', async () => {
        await seed({
          providers: [aProvider()],
          connections: [aConnection({ id: 'conn-new', status: 'pending_authorization' }), aConnection({ id: 'conn-2', status: 'active' })],
        });

        assert.equal(await dirty('conn-new', ['sess-1', 'sess-2', 'sess-3'], at(1)), 3);

        assert.deepStrictEqual(sessionsOf(await store.listTargets('conn-new')), ['sess-1', 'sess-2', 'sess-3']);
        assert.deepStrictEqual(await store.listTargets('conn-2'), []);
        assert.equal(await dirty('conn-404', ['sess-1'], at(1)), 0);
      });

      it('when the transaction that marked targets dirty fails, then no target remains', async () => {
        await seedActive();

        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.markSessionsDirty('prov-1', ['sess-1'], at(1));
            throw new Error('boom');
          }),
          /boom/,
        );

        assert.deepStrictEqual(await store.listTargets('conn-1'), []);
      });

      it('when a target is fetched by id, then getTarget returns it, and null for an unknown id', async () => {
        await seedActive();
        await dirty('conn-1', ['sess-1'], at(1));
        const [listed] = await store.listTargets('conn-1');
        assert.ok(listed);

        assert.deepStrictEqual(await store.getTarget(listed.id), listed);
        assert.equal(await store.getTarget('target-404'), null);
      });
    });

    describe('claiming targets', () => {
      it('when claiming, then only due, live, unleased targets of active connections come back, oldest due first, up to the limit', async () => {
        await seed({
          providers: [aProvider()],
          connections: [aConnection({ id: 'conn-1' }), aConnection({ id: 'conn-2' }), aConnection({ id: 'conn-paused', status: 'needs_reauth' })],
        });
        await deadTarget('conn-1', 's-dead', at(0));
        await dirty('conn-2', ['s-leased'], at(0));
        assert.deepStrictEqual(sessionsOf(await claim('other', at(0), FAR)), ['s-leased']);
        await dirty('conn-1', ['s-mid'], at(2));
        await dirty('conn-1', ['s-early'], at(1));
        await dirty('conn-1', ['s-late'], at(3));
        await dirty('conn-1', ['s-future'], at(100));
        await dirty('conn-paused', ['s-paused'], at(1));
        await store.transaction((tx) => tx.recordTargetSynced('conn-1', 'prov-1', 's-synced', { generation: 0, externalId: 'ev-1', syncedRevision: 'r1', at: at(1) }));

        const first = await claim('w1', at(10), at(20), 2);
        const second = await claim('w1', at(10), at(20), 2);
        const third = await claim('w1', at(10), at(20), 2);

        assert.deepStrictEqual(sessionsOf(first), ['s-early', 's-mid']);
        assert.deepStrictEqual(sessionsOf(second), ['s-late']);
        assert.deepStrictEqual(third, []);
        for (const claimed of [...first, ...second]) {
          assert.equal(claimed.leaseOwner, 'w1');
          assert.equal(claimed.leaseUntil, at(20));
          assert.deepStrictEqual(await store.getTarget(claimed.id), claimed);
        }
      });

      it('when two workers claim at the same time, then no target is given to both, and no account is worked by both', async () => {
        await seed({ providers: [aProvider()], connections: [aConnection({ id: 'conn-1' }), aConnection({ id: 'conn-2' })] });
        await dirty('conn-1', ['s-1', 's-2', 's-3'], at(1));
        await dirty('conn-2', ['s-4', 's-5'], at(1));

        const claimAll = async (owner: string) => {
          const all: SyncTarget[] = [];
          for (let got = await claim(owner, at(2), at(10), 2); got.length > 0; got = await claim(owner, at(2), at(10), 2)) all.push(...got);
          return all;
        };
        const [a, b] = await Promise.all([claimAll('w-a'), claimAll('w-b')]);

        const ids = [...a, ...b].map((t) => t.id);
        assert.equal(new Set(ids).size, ids.length);
        assert.deepStrictEqual(sessionsOf([...a, ...b]).sort(), ['s-1', 's-2', 's-3', 's-4', 's-5']);
        for (const t of a) assert.equal((await store.getTarget(t.id))?.leaseOwner, 'w-a');
        for (const t of b) assert.equal((await store.getTarget(t.id))?.leaseOwner, 'w-b');
        const accountsOf = (targets: SyncTarget[]) => new Set(targets.map((t) => t.connectionId));
        for (const account of accountsOf(a)) assert.ok(!accountsOf(b).has(account), `${account} worked by both`);
      });

      it('when a worker holds an account, then another gets none of its targets until that lease expires or is given back', async () => {
        await seedActive();
        await dirty('conn-1', ['s-1'], at(1));
        assert.deepStrictEqual(sessionsOf(await claim('w-a', at(1), at(10))), ['s-1']);
        await dirty('conn-1', ['s-2'], at(2));

        assert.deepStrictEqual(await claim('w-b', at(3), at(13)), [], 'the account is w-a\'s');
        assert.deepStrictEqual(sessionsOf(await claim('w-a', at(3), at(13))), ['s-2'], 'its holder claims and renews it');
        await dirty('conn-1', ['s-3'], at(4));
        assert.deepStrictEqual(await claim('w-b', at(11), at(21)), [], 'renewed to at(13)');
        // w-a stopped (crashed): its account and the targets it never finished are w-b's now.
        assert.deepStrictEqual(sessionsOf(await claim('w-b', at(14), at(24))).sort(), ['s-1', 's-2', 's-3'], 'expired');
      });

      it('when an owner renews its leases, then its accounts and targets stay its own; when it releases them, another claims at once', async () => {
        await seedActive();
        await dirty('conn-1', ['s-1', 's-2'], at(1));
        const [first] = await claim('w-a', at(1), at(10), 1);
        assert.ok(first);

        await store.renewLeases('w-a', at(9), at(30));
        assert.equal((await store.getTarget(first.id))?.leaseUntil, at(30));
        assert.deepStrictEqual(await claim('w-b', at(20), at(40)), []);

        await store.releaseLeases('w-a');
        assert.equal((await store.getTarget(first.id))?.leaseOwner, null);
        assert.deepStrictEqual(sessionsOf(await claim('w-b', at(20), at(40))).sort(), ['s-1', 's-2']);
      });

      it('when more accounts have due work than one claim may lease, then the next worker gets the others', async () => {
        const ids = ['c-1', 'c-2', 'c-3', 'c-4', 'c-5', 'c-6'];
        await seed({ providers: [aProvider()], connections: ids.map((id) => aConnection({ id })) });
        for (const id of ids) await dirty(id, [`s-${id}`], at(1));

        const a = await store.claimTargets({ owner: 'w-a', now: at(2), leaseUntil: at(10), limit: 50, connectionLimit: 4 });
        const b = await store.claimTargets({ owner: 'w-b', now: at(2), leaseUntil: at(10), limit: 50, connectionLimit: 4 });

        assert.equal(a.length, 4);
        assert.deepStrictEqual([...a, ...b].map((t) => t.connectionId).sort(), ids);
      });

      it('when a lease has expired, then another worker can claim the target, and not before', async () => {
        await seedActive();
        await dirty('conn-1', ['sess-1'], at(1));
        const [leased] = await claim('w1', at(1), at(5));
        assert.ok(leased);

        assert.deepStrictEqual(await claim('w2', at(4), at(15)), []);
        const [taken] = await claim('w2', at(6), at(16));

        assert.equal(taken?.id, leased.id);
        assert.equal(taken?.leaseOwner, 'w2');
        assert.equal(taken?.leaseUntil, at(16));
      });
    });

    describe('completing, failing and releasing', () => {
      async function claimedTarget(owner = 'w1'): Promise<SyncTarget> {
        await seedActive();
        await dirty('conn-1', ['sess-1'], at(1));
        const [claimed] = await claim(owner, at(1), at(10));
        assert.ok(claimed);
        return claimed;
      }

      it('when the lease holder completes, then the target is synced, its lease gone, and the connection lastSyncedAt set', async () => {
        const claimed = await claimedTarget();

        const recorded = await store.completeTarget(claimed.id, 'w1', { generation: 1, externalId: 'ev-1', syncedRevision: 'rev-1', at: at(2) });

        assert.equal(recorded, true);
        assert.deepStrictEqual(await store.getTarget(claimed.id), {
          ...claimed,
          syncedGeneration: 1,
          externalId: 'ev-1',
          syncedRevision: 'rev-1',
          leaseOwner: null,
          leaseUntil: null,
          updatedAt: at(2),
        });
        assert.equal((await store.getConnection('conn-1'))?.lastSyncedAt, at(2));
        assert.deepStrictEqual(await claim('w2', FAR, FAR), []);
        assert.deepStrictEqual(await store.targetCounts('conn-1'), { pending: 0, dead: 0 });
      });

      it('when another owner completes, then it returns false and nothing changes', async () => {
        const claimed = await claimedTarget();

        const recorded = await store.completeTarget(claimed.id, 'w2', { generation: 1, externalId: 'ev-1', syncedRevision: 'rev-1', at: at(2) });

        assert.equal(recorded, false);
        assert.deepStrictEqual(await store.getTarget(claimed.id), claimed);
        assert.deepStrictEqual(await store.getConnection('conn-1'), aConnection());
      });

      it('when the lease was lost to another worker, then the first worker\'s completion returns false', async () => {
        const claimed = await claimedTarget();
        const [retaken] = await claim('w2', at(11), at(20));
        assert.equal(retaken?.id, claimed.id);

        assert.equal(await store.completeTarget(claimed.id, 'w1', { generation: 1, externalId: 'ev-1', syncedRevision: 'r', at: at(12) }), false);
        assert.deepStrictEqual(await store.getTarget(claimed.id), retaken);
      });

      it('when the session changed while the target was leased, then completing the older generation leaves it pending', async () => {
        const claimed = await claimedTarget();
        await store.transaction((tx) => tx.markSessionsDirty('prov-1', ['sess-1'], at(2)));

        assert.equal(await store.completeTarget(claimed.id, 'w1', { generation: claimed.generation, externalId: 'ev-1', syncedRevision: 'rev-1', at: at(3) }), true);

        const target = await targetOf('conn-1', 'sess-1');
        assert.equal(target.generation, 2);
        assert.equal(target.syncedGeneration, 1);
        assert.equal(target.externalId, 'ev-1');
        assert.deepStrictEqual(await store.targetCounts('conn-1'), { pending: 1, dead: 0 });
        assert.deepStrictEqual(sessionsOf(await claim('w1', at(3), at(13))), ['sess-1']);
      });

      it('when an attempt fails without dead-lettering, then attempts grow and the target is due again only at nextAttemptAt', async () => {
        const claimed = await claimedTarget();

        assert.equal(await store.failTarget(claimed.id, 'w1', { errorCode: 'HTTP_503', nextAttemptAt: at(30), dead: false, at: at(2) }), true);

        assert.deepStrictEqual(await store.getTarget(claimed.id), {
          ...claimed,
          attempts: 1,
          lastErrorCode: 'HTTP_503',
          nextAttemptAt: at(30),
          leaseOwner: null,
          leaseUntil: null,
          updatedAt: at(2),
        });
        assert.deepStrictEqual(await claim('w2', at(29), at(40)), []);
        assert.deepStrictEqual(sessionsOf(await claim('w2', at(30), at(40))), ['sess-1']);
      });

      it('when another owner fails the target, then it returns false and nothing changes', async () => {
        const claimed = await claimedTarget();

        assert.equal(await store.failTarget(claimed.id, 'w2', { errorCode: 'HTTP_400', nextAttemptAt: at(30), dead: true, at: at(2) }), false);
        assert.deepStrictEqual(await store.getTarget(claimed.id), claimed);
      });

      it('when an attempt dead-letters the target, then it is never claimed and shows as dead in counts and health', async () => {
        const claimed = await claimedTarget();

        assert.equal(await store.failTarget(claimed.id, 'w1', { errorCode: 'HTTP_400', nextAttemptAt: at(30), dead: true, at: at(2) }), true);

        const target = await store.getTarget(claimed.id);
        assert.equal(target?.deadAt, at(2));
        assert.equal(target?.attempts, 1);
        assert.equal(target?.leaseOwner, null);
        assert.deepStrictEqual(await claim('w2', FAR, FAR), []);
        assert.equal(await store.nextDueAt(), null);
        assert.deepStrictEqual(await store.targetCounts('conn-1'), { pending: 0, dead: 1 });
        assert.deepStrictEqual((await store.syncHealth(at(3))).deadTargets, [
          { id: claimed.id, connectionId: 'conn-1', sessionId: 'sess-1', lastErrorCode: 'HTTP_400', deadAt: at(2) },
        ]);
      });

      it('when an admin retries a dead target, then it is un-dead, reset, due at once and keeps its last error', async () => {
        await seedActive();
        const dead = await deadTarget('conn-1', 'sess-1', at(1));

        assert.equal(await store.transaction((tx) => tx.retryTarget(dead.id, at(5))), true);

        assert.deepStrictEqual(await store.getTarget(dead.id), { ...dead, deadAt: null, attempts: 0, nextAttemptAt: at(5), updatedAt: at(5) });
        assert.deepStrictEqual(await store.targetCounts('conn-1'), { pending: 1, dead: 0 });
        assert.deepStrictEqual(await claim('w1', at(4), at(15)), []);
        assert.deepStrictEqual(sessionsOf(await claim('w1', at(5), at(15))), ['sess-1']);
      });

      it('when an admin retries a synced target, then it gets a new generation and is pending; an unknown id returns false', async () => {
        await seedActive();
        await store.transaction((tx) => tx.recordTargetSynced('conn-1', 'prov-1', 'sess-1', { generation: 0, externalId: 'ev-1', syncedRevision: 'r1', at: at(1) }));
        const synced = await targetOf('conn-1', 'sess-1');

        assert.equal(await store.transaction((tx) => tx.retryTarget(synced.id, at(5))), true);
        assert.equal(await store.transaction((tx) => tx.retryTarget('target-404', at(5))), false);

        const retried = await targetOf('conn-1', 'sess-1');
        assert.equal(retried.generation, synced.syncedGeneration + 1);
        assert.equal(retried.syncedGeneration, synced.syncedGeneration);
        assert.deepStrictEqual(sessionsOf(await claim('w1', at(5), at(15))), ['sess-1']);
      });

      it('when the lease holder releases a target, then it is pending again from nextAttemptAt with nothing else changed', async () => {
        const claimed = await claimedTarget();
        await store.releaseTarget(claimed.id, 'w2', at(2));
        assert.deepStrictEqual(await store.getTarget(claimed.id), claimed);

        await store.releaseTarget(claimed.id, 'w1', at(30));

        assert.deepStrictEqual(await store.getTarget(claimed.id), { ...claimed, leaseOwner: null, leaseUntil: null, nextAttemptAt: at(30) });
        assert.deepStrictEqual(await store.targetCounts('conn-1'), { pending: 1, dead: 0 });
        assert.deepStrictEqual(await claim('w2', at(29), at(40)), []);
        assert.deepStrictEqual(sessionsOf(await claim('w2', at(30), at(40))), ['sess-1']);
      });
    });

    describe('nextDueAt', () => {
      it('when nothing is pending, then it is null', async () => {
        await seedActive();
        assert.equal(await store.nextDueAt(), null);

        await store.transaction((tx) => tx.recordTargetSynced('conn-1', 'prov-1', 'sess-1', { generation: 0, externalId: 'ev-1', syncedRevision: 'r1', at: at(1) }));

        assert.equal(await store.nextDueAt(), null);
      });

      it('when targets are pending, then it is the earliest due time among active connections, a leased one counting from its lease end', async () => {
        await seed({
          providers: [aProvider()],
          connections: [aConnection({ id: 'conn-1' }), aConnection({ id: 'conn-paused', status: 'needs_reauth' })],
        });
        await deadTarget('conn-1', 's-dead', at(0));
        await dirty('conn-paused', ['s-paused'], at(1));
        await dirty('conn-1', ['s-later'], at(5));
        await dirty('conn-1', ['s-first'], at(3));

        assert.equal(await store.nextDueAt(), at(3));

        assert.deepStrictEqual(sessionsOf(await claim('w1', at(3), at(50), 1)), ['s-first']);
        assert.equal(await store.nextDueAt(), at(5));

        assert.deepStrictEqual(sessionsOf(await claim('w1', at(5), at(40), 1)), ['s-later']);
        assert.equal(await store.nextDueAt(), at(40));
      });

      it('when another worker holds the account, then for this owner the work is due when that lease ends', async () => {
        await seedActive();
        await dirty('conn-1', ['s-1'], at(1));
        await claim('w1', at(1), at(10), 1);
        await dirty('conn-1', ['s-2'], at(2));

        assert.equal(await store.nextDueAt('w1'), at(2));
        assert.equal(await store.nextDueAt('w2'), at(10));
        assert.equal(await store.nextDueAt(), at(2));
      });
    });

    describe('recording resync writes', () => {
      it('when a resync wrote an event with no target yet, then a synced target is created', async () => {
        await seedActive();

        await store.transaction((tx) => tx.recordTargetSynced('conn-1', 'prov-1', 'sess-1', { generation: 0, externalId: 'ev-1', syncedRevision: 'rev-1', at: at(1) }));

        const target = await targetOf('conn-1', 'sess-1');
        assert.deepStrictEqual(
          target,
          aSyncTarget({
            id: target.id,
            generation: 1,
            syncedGeneration: 1,
            externalId: 'ev-1',
            syncedRevision: 'rev-1',
            nextAttemptAt: at(1),
            createdAt: at(1),
            updatedAt: at(1),
          }),
        );
        assert.deepStrictEqual(await store.targetCounts('conn-1'), { pending: 0, dead: 0 });
        assert.deepStrictEqual(await claim('w1', FAR, FAR), []);
      });

      it('when a resync repaired a dead target, then it is synced, un-dead and its error cleared', async () => {
        await seedActive();
        const dead = await deadTarget('conn-1', 'sess-1', at(1));

        await store.transaction((tx) =>
          tx.recordTargetSynced('conn-1', 'prov-1', 'sess-1', { generation: dead.generation, externalId: null, syncedRevision: null, at: at(4) }),
        );

        assert.deepStrictEqual(await store.getTarget(dead.id), {
          ...dead,
          syncedGeneration: dead.generation,
          externalId: null,
          syncedRevision: null,
          attempts: 0,
          deadAt: null,
          lastErrorCode: null,
          updatedAt: at(4),
        });
        assert.deepStrictEqual(await store.targetCounts('conn-1'), { pending: 0, dead: 0 });
      });
    });

    it('when a change was marked after the resync read the session, then that change stays pending', async () => {
      await seedActive();
      await store.transaction((tx) => tx.markConnectionTargetsDirty('conn-1', ['sess-1'], at(1)));
      const seen = await targetOf('conn-1', 'sess-1');
      await store.transaction((tx) => tx.markConnectionTargetsDirty('conn-1', ['sess-1'], at(2)));

      await store.transaction((tx) =>
        tx.recordTargetSynced('conn-1', 'prov-1', 'sess-1', { generation: seen.generation, externalId: 'ev-1', syncedRevision: 'r1', at: at(3) }),
      );

      const after = await targetOf('conn-1', 'sess-1');
      assert.equal(after.syncedGeneration, seen.generation);
      assert.equal(after.generation, seen.generation + 1);
      assert.deepStrictEqual(await store.targetCounts('conn-1'), { pending: 1, dead: 0 });
    });

    describe('deleting', () => {
      it('when a connection\'s targets are deleted, then only that connection loses them', async () => {
        await seed({ providers: [aProvider()], connections: [aConnection({ id: 'conn-1' }), aConnection({ id: 'conn-2' })] });
        await store.transaction((tx) => tx.markSessionsDirty('prov-1', ['sess-1', 'sess-2'], at(1)));

        await store.transaction((tx) => tx.deleteTargets('conn-1'));

        assert.deepStrictEqual(await store.listTargets('conn-1'), []);
        assert.deepStrictEqual(sessionsOf(await store.listTargets('conn-2')), ['sess-1', 'sess-2']);
      });

      it('when a provider is deleted, then its connections and their targets go with it and others stay', async () => {
        await seed({
          providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })],
          connections: [aConnection({ id: 'conn-1' }), aConnection({ id: 'conn-2', providerId: 'prov-2' })],
        });
        await store.transaction(async (tx) => {
          await tx.markSessionsDirty('prov-1', ['sess-1'], at(1));
          await tx.markSessionsDirty('prov-2', ['sess-1'], at(1));
        });
        const gone = await targetOf('conn-1', 'sess-1');

        assert.equal(await store.transaction((tx) => tx.deleteProvider('prov-1')), true);

        assert.equal(await store.getConnection('conn-1'), null);
        assert.deepStrictEqual(await store.listConnections('prov-1'), []);
        assert.equal(await store.getTarget(gone.id), null);
        assert.deepStrictEqual(await store.listTargets('conn-1'), []);
        assert.deepStrictEqual(await store.listAllConnections(), [aConnection({ id: 'conn-2', providerId: 'prov-2' })]);
        assert.deepStrictEqual(sessionsOf(await store.listTargets('conn-2')), ['sess-1']);
      });
    });

    describe('resync jobs', () => {
      it('when jobs are put, then getJob returns each one exactly, and the second put replaces the first', async () => {
        const queued = aResyncJob({ id: 'job-1', request: { providerIds: ['prov-1', 'prov-2'], connectionIds: null, dryRun: true } });
        const finished = aResyncJob({
          id: 'job-2',
          status: 'failed',
          request: { providerIds: null, connectionIds: ['conn-1'], dryRun: false },
          progress: { total: 5, done: 5, created: 1, updated: 1, deleted: 1, unchanged: 1, failed: 1 },
          plan: [
            { connectionId: 'conn-1', action: 'create', sessionId: 'sess-1', externalId: null, reason: 'missing' },
            { connectionId: 'conn-1', action: 'delete', sessionId: null, externalId: 'ev-9', reason: 'duplicate' },
          ],
          error: 'INVALID_GRANT',
          leaseOwner: 'resync-1',
          leaseUntil: at(10),
          startedAt: at(1),
          finishedAt: at(2),
        });
        await store.transaction(async (tx) => {
          await tx.putJob(queued);
          await tx.putJob(finished);
        });
        assert.deepStrictEqual(await store.getJob('job-1'), queued);
        assert.deepStrictEqual(await store.getJob('job-2'), finished);
        assert.equal(await store.getJob('job-404'), null);

        const running = { ...queued, status: 'running' as const, startedAt: at(3), plan: [], progress: { ...queued.progress, total: 2 } };
        await store.transaction((tx) => tx.putJob(running));

        assert.deepStrictEqual(await store.getJob('job-1'), running);
      });

      it('when claiming jobs, then queued ones come oldest first, each once, and null when none is left', async () => {
        assert.equal(await store.claimJob({ owner: 'r1', now: at(0), leaseUntil: at(10) }), null);
        await store.transaction(async (tx) => {
          await tx.putJob(aResyncJob({ id: 'job-b', createdAt: at(2) }));
          await tx.putJob(aResyncJob({ id: 'job-a', createdAt: at(1) }));
          await tx.putJob(aResyncJob({ id: 'job-done', status: 'succeeded', createdAt: at(0), finishedAt: at(0) }));
          await tx.putJob(aResyncJob({ id: 'job-failed', status: 'failed', createdAt: at(0), finishedAt: at(0) }));
        });

        const first = await store.claimJob({ owner: 'r1', now: at(5), leaseUntil: at(10) });
        const second = await store.claimJob({ owner: 'r2', now: at(5), leaseUntil: at(11) });
        const third = await store.claimJob({ owner: 'r3', now: at(5), leaseUntil: at(12) });

        assert.deepStrictEqual(first, aResyncJob({ id: 'job-a', createdAt: at(1), leaseOwner: 'r1', leaseUntil: at(10) }));
        assert.deepStrictEqual(second, aResyncJob({ id: 'job-b', createdAt: at(2), leaseOwner: 'r2', leaseUntil: at(11) }));
        assert.equal(third, null);
        assert.deepStrictEqual(await store.getJob('job-a'), first);
      });

      it('when a running job\'s lease is live, then it is not claimed; once expired, another runner takes it', async () => {
        const running = aResyncJob({ id: 'job-1', status: 'running', leaseOwner: 'r1', leaseUntil: at(10), startedAt: at(1) });
        await store.transaction((tx) => tx.putJob(running));

        assert.equal(await store.claimJob({ owner: 'r2', now: at(9), leaseUntil: at(19) }), null);
        const taken = await store.claimJob({ owner: 'r2', now: at(11), leaseUntil: at(21) });

        assert.deepStrictEqual(taken, { ...running, leaseOwner: 'r2', leaseUntil: at(21) });
      });
    });

    describe('audit log', () => {
      const entry = (n: number): Omit<AuditEntry, 'id'> => ({
        at: at(n),
        actor: `admin-${n}`,
        action: 'resync.run',
        target: `job:job-${n}`,
        details: { n, dryRun: n % 2 === 0, providerIds: 'all', connectionIds: null },
      });

      it('when entries are appended, then they list newest first with growing ids and details as written', async () => {
        await store.transaction(async (tx) => {
          await tx.appendAudit(entry(1));
          await tx.appendAudit(entry(2));
        });
        await store.transaction((tx) => tx.appendAudit(entry(3)));

        const listed = await store.listAudit({ limit: 10 });

        assert.deepStrictEqual(
          listed.map(({ id: _id, ...rest }) => rest),
          [entry(3), entry(2), entry(1)],
        );
        const ids = listed.map((e) => e.id);
        assert.ok(ids[0]! > ids[1]! && ids[1]! > ids[2]!, `ids not descending: ${ids.join(',')}`);
      });

      it('when listing with a limit and beforeId, then pages follow each other without gaps or repeats', async () => {
        await store.transaction(async (tx) => {
          for (const n of [1, 2, 3, 4, 5]) await tx.appendAudit(entry(n));
        });

        const page1 = await store.listAudit({ limit: 2 });
        const page2 = await store.listAudit({ limit: 2, beforeId: page1.at(-1)!.id });
        const page3 = await store.listAudit({ limit: 2, beforeId: page2.at(-1)!.id });

        assert.deepStrictEqual(page1.map((e) => e.actor), ['admin-5', 'admin-4']);
        assert.deepStrictEqual(page2.map((e) => e.actor), ['admin-3', 'admin-2']);
        assert.deepStrictEqual(page3.map((e) => e.actor), ['admin-1']);
        assert.deepStrictEqual(await store.listAudit({ limit: 2, beforeId: page3[0]!.id }), []);
      });
    });

    describe('sync health', () => {
      it('when the store is empty, then every count is zero and nothing is listed', async () => {
        assert.deepStrictEqual(await store.syncHealth(T0), {
          targets: { pending: 0, synced: 0, dead: 0, retrying: 0 },
          connectionsNeedingReauth: [],
          oldestPendingSince: null,
          deadTargets: [],
        });
      });

      it('when targets are in every state, then each is counted once, reauth connections and dead targets are listed', async () => {
        await seed({
          providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })],
          connections: [
            aConnection({ id: 'conn-1' }),
            aConnection({ id: 'conn-r2', providerId: 'prov-2', kind: 'outlook', status: 'needs_reauth' }),
            aConnection({ id: 'conn-r1', status: 'needs_reauth' }),
            aConnection({ id: 'conn-err', status: 'error' }),
          ],
        });
        const deadOld = await deadTarget('conn-1', 's-dead-old', at(1));
        const deadNew = await deadTarget('conn-1', 's-dead-new', at(2));
        await dirty('conn-1', ['s-retrying'], at(3));
        const [retrying] = await claim('w1', at(3), at(10));
        assert.ok(retrying);
        assert.equal(retrying.sessionId, 's-retrying');
        await store.failTarget(retrying.id, 'w1', { errorCode: 'HTTP_503', nextAttemptAt: at(20), dead: false, at: at(6) });
        await dirty('conn-1', ['s-pending-a'], at(4));
        await dirty('conn-r1', ['s-pending-b'], at(5));
        await store.transaction((tx) => tx.recordTargetSynced('conn-1', 'prov-1', 's-synced', { generation: 0, externalId: 'ev-1', syncedRevision: 'r1', at: at(1) }));

        const health = await store.syncHealth(at(7));

        assert.deepStrictEqual(health, {
          targets: { pending: 2, synced: 1, dead: 2, retrying: 1 },
          connectionsNeedingReauth: [
            { id: 'conn-r1', providerId: 'prov-1', kind: 'google' },
            { id: 'conn-r2', providerId: 'prov-2', kind: 'outlook' },
          ],
          oldestPendingSince: at(4),
          deadTargets: [
            { id: deadNew.id, connectionId: 'conn-1', sessionId: 's-dead-new', lastErrorCode: 'HTTP_400', deadAt: at(2) },
            { id: deadOld.id, connectionId: 'conn-1', sessionId: 's-dead-old', lastErrorCode: 'HTTP_400', deadAt: at(1) },
          ],
        });
        assert.deepStrictEqual(await store.targetCounts('conn-1'), { pending: 2, dead: 2 });
        assert.deepStrictEqual(await store.targetCounts('conn-r1'), { pending: 1, dead: 0 });
      });
    });
  });
}
