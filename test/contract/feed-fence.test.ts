import assert from 'node:assert/strict';
import pg from 'pg';
import { FeedService } from '../../feeds/index.js';
import type { Store } from '../../src/domain/index.js';
import { FeedFence } from '../../src/store/feed-fence.js';
import { aProvider, testJoinLinks } from '../support/builders.js';
import { createSchema, createTestPostgresStore, describePostgres, dropSchema } from '../support/postgres.js';

// The feed fence on PostgreSQL (src/store/feed-fence.ts): two stores on one schema stand for two
// processes. Once the fence holds, a poll answered from memory asks the database nothing, and a
// change committed through one store is seen by the very next poll of the other, because the
// writer waits for the other's acknowledgement (or for its lease to run out) before it returns.

const NOW = new Date('2026-11-02T12:00:00.000Z');
const LEASE_MS = 400;

/** Polls fn every 10 ms until it is true; fails after `ms`. */
async function eventually(fn: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = performance.now() + ms;
  while (!(await fn())) {
    if (performance.now() > until) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describePostgres('feed fence (PostgreSQL)', (url) => {
  let schema: string;
  let a: Store;
  let b: Store;
  let lookups: number;
  let feeds: FeedService;
  const token = 'A'.repeat(43);

  beforeEach(async () => {
    schema = await createSchema(url);
    a = await createTestPostgresStore(url, { schema, feedLeaseMs: LEASE_MS, applicationName: 'fence-a' });
    b = await createTestPostgresStore(url, { schema, feedLeaseMs: LEASE_MS, applicationName: 'fence-b' });
    const { hashFeedToken } = await import('../../feeds/index.js');
    await a.transaction(async (tx) => {
      await tx.putProvider(aProvider({ id: 'p1' }));
      await tx.putFeed({ id: 'f1', providerId: 'p1', label: null, tokenHash: hashFeedToken(token), createdAt: NOW.toISOString(), revokedAt: null, lastFetchedAt: null, lastUserAgent: null, fetchCount: 0 });
    });
    // Every lookup B makes, counted: a poll answered from memory makes none.
    lookups = 0;
    const counted = b as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const name of ['findFeedRevision', 'findFeedRevisions'] as const) {
      const original = counted[name]!.bind(b);
      counted[name] = (...args) => {
        lookups += 1;
        return original(...args);
      };
    }
    feeds = new FeedService({ store: b, clock: { now: () => NOW }, publicBaseUrl: 'https://sync.example.test', joinLinks: testJoinLinks, pastDays: 60, futureDays: 365, cacheMaxBytes: 1 << 24 });
  });

  afterEach(async () => {
    await b?.close();
    await a?.close();
    await dropSchema(url, schema);
  });

  it('when the fence holds, then polls ask the database nothing, and a revocation through the other store is seen by the very next poll', async () => {
    assert.ok(await feeds.render(token), 'the feed answers');
    await eventually(() => b.feedLookupEpoch() !== null, 5000, 'B listens and holds a lease');
    assert.ok(await feeds.render(token));
    const before = lookups;
    for (let i = 0; i < 50; i++) assert.ok(feeds.peek(token) ?? (await feeds.render(token)));
    assert.equal(lookups, before, 'no lookup per poll while the fence holds');

    for (let round = 0; round < 10; round++) {
      await a.transaction(async (tx) => {
        const provider = (await tx.getProvider('p1'))!;
        await tx.putProvider({ ...provider, name: `Dr. Round ${round}` });
        await tx.bumpFeedRevision('p1', NOW.toISOString());
      });
      const seen = feeds.peek(token) ?? (await feeds.render(token));
      assert.ok(seen !== null);
      assert.match(Buffer.concat(seen.parts).toString('utf8'), new RegExp(`X-WR-CALNAME:Sessions – Dr\\. Round ${round}\r\n`), `round ${round}: the very next poll shows the change`);
    }
    await a.transaction((tx) => tx.revokeFeed('p1', 'f1', NOW.toISOString()));
    assert.equal(feeds.peek(token), undefined, 'nothing cached answers once the writer has returned');
    assert.equal(await feeds.render(token), null);
  });

  it('when the other store moves feed revisions, then this one hears which providers, and a cached feed is rendered before its next poll', async () => {
    let renders = 0;
    const refreshing = new FeedService({ store: b, clock: { now: () => NOW }, publicBaseUrl: 'https://sync.example.test', joinLinks: testJoinLinks, pastDays: 60, futureDays: 365, cacheMaxBytes: 1 << 24, refreshOnChange: true, metrics: { feedRendered: () => void (renders += 1), feedCacheHit: () => undefined } });
    const heard: string[][] = [];
    b.onFeedsChanged((ids) => heard.push([...ids].sort()));
    assert.ok(await refreshing.render(token));
    await eventually(() => b.feedLookupEpoch() !== null, 5000, 'B listens and holds a lease');
    await a.transaction(async (tx) => {
      await tx.putProvider(aProvider({ id: 'p2' }));
      await tx.bumpFeedRevision('p1', NOW.toISOString());
    });
    // The writer returned once B acknowledged; B tells its listeners just after.
    await eventually(() => heard.length === 1, 2000, 'B hears the commit');
    assert.deepStrictEqual(heard, [['p1', 'p2']]);
    await refreshing.refreshed();
    assert.equal(renders, 2, 'p1 rendered again by the refresh (p2 has no cached feed)');
    const seen = refreshing.peek(token) ?? (await refreshing.render(token));
    assert.ok(seen);
    assert.equal(renders, 2, 'the poll after it is a cache hit');
    // A commit that moves no revision names no provider (the fence still moves the epoch).
    await a.transaction((tx) => tx.putFeed({ id: 'f2', providerId: 'p1', label: null, tokenHash: 'b'.repeat(64), createdAt: NOW.toISOString(), revokedAt: null, lastFetchedAt: null, lastUserAgent: null, fetchCount: 0 }));
    await a.transaction((tx) => tx.bumpFeedRevision('p1', NOW.toISOString()));
    await eventually(() => heard.length === 2, 2000, 'B hears the second bump');
    assert.deepStrictEqual(heard[1], ['p1']);
    await refreshing.stop();
  });

  it('when a commit moved revisions of more providers than a notification holds, or of ids no API id could be, then it names none', async () => {
    const pool = new pg.Pool({ connectionString: url });
    const fence = new FeedFence({ client: { connectionString: url }, pool, channel: 'fence_ticket_test' });
    try {
      const named = (ids: string[]) => fence.ticket(new Set(ids)).payload.split(':')[2];
      assert.equal(named(['p1', 'p_2-x']), 'p1,p_2-x');
      assert.equal(named([]), undefined);
      assert.equal(named(['p1', 'a:b']), undefined, 'a colon would break the payload');
      assert.equal(named(['p1', 'a,b']), undefined);
      const many = Array.from({ length: 200 }, (_, i) => `provider-${String(i).padStart(40, '0')}`);
      assert.equal(named(many), undefined, '~10,000 characters');
      assert.equal(named(many.slice(0, 100))?.split(',').length, 100);
    } finally {
      await fence.close();
      await pool.end();
    }
  });

  it('when the listening connection is cut, then the cache is not trusted, and a writer waits at most the lease for the lost listener', async () => {
    assert.ok(await feeds.render(token));
    await eventually(() => b.feedLookupEpoch() !== null, 5000, 'B listens and holds a lease');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = 'fence-b/feed-fence'`);
      assert.equal(rows.length, 1, 'one listening connection');
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    } finally {
      await admin.end();
    }
    await eventually(() => b.feedLookupEpoch() === null, 2000, 'B stops trusting its cache');
    // The writer cannot hear B any more: it returns once B's lease has run out (the test's timeout bounds it).
    await a.transaction((tx) => tx.revokeFeed('p1', 'f1', NOW.toISOString()));
    assert.equal(await feeds.render(token), null, 'B asks the database and sees the revocation');
  });
});
