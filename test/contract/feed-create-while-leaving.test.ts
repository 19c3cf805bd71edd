import assert from 'node:assert/strict';
import pg from 'pg';
import { FeedService } from '../../feeds/index.js';
import { AppError, type Store } from '../../src/domain/index.js';
import { aProvider, testJoinLinks } from '../support/builders.js';
import { createSchema, createTestPostgresStore, describePostgres, dropSchema } from '../support/postgres.js';

// A feed URL asked for while the provider is being offboarded (PostgreSQL, where reads outside a
// transaction do not wait for one): the offboarding tombstones the feeds it finds under the
// provider's lock, so the check that the provider may still be written for must be made under
// that lock too, or a feed made meanwhile would be left live.

const AT = '2026-11-02T12:00:00.000Z';

describePostgres('feed creation while the provider leaves (PostgreSQL)', (url) => {
  let schema: string;
  let store: Store;
  let feeds: FeedService;

  beforeEach(async () => {
    schema = await createSchema(url);
    store = await createTestPostgresStore(url, { schema });
    await store.transaction((tx) => tx.putProvider(aProvider({ id: 'p1' })));
    feeds = new FeedService({ store, clock: { now: () => new Date(AT) }, publicBaseUrl: 'https://sync.example.test', joinLinks: testJoinLinks, pastDays: 60, futureDays: 365, cacheMaxBytes: 1 << 20 });
  });

  afterEach(async () => {
    await store?.close();
    await dropSchema(url, schema);
  });

  /** Resolves once a transaction of this schema waits for a lock another one holds. */
  async function someoneWaitsForALock(): Promise<void> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      for (let i = 0; i < 500; i++) {
        const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.application_name = $1`, [schema]);
        if (Number(rows[0]?.n) > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.fail('no transaction came to wait for the provider lock within 5 s');
    } finally {
      await client.end();
    }
  }

  it('when a feed is asked for while an offboarding holds the provider lock, then it is refused once that commits, and no live feed is left', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    // What OffboardingService.offboard does first, held open before it commits.
    const offboarding = store.transaction(async (tx) => {
      await tx.lockProvider('p1');
      const provider = (await tx.getProvider('p1'))!;
      await tx.putProvider({ ...provider, offboardedAt: AT, updatedAt: AT });
      await tx.tombstoneFeeds('p1', 'Sessions', AT);
      entered();
      await gate;
    });
    await inside;
    const creating = feeds.create('p1', null).then(
      () => 'created',
      (err: unknown) => (err instanceof AppError ? err.code : String(err)),
    );
    await someoneWaitsForALock();
    release();
    await offboarding;

    assert.equal(await creating, 'PROVIDER_OFFBOARDED');
    assert.deepStrictEqual((await store.listFeeds('p1')).filter((f) => f.revokedAt === null), [], 'no feed URL outlives the offboarding');
  });
});
