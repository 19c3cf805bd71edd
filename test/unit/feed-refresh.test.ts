import { testJoinLinks } from '../support/builders.js';
import assert from 'node:assert/strict';
import { FeedService, type FeedServiceOptions } from '../../feeds/index.js';
import type { Store } from '../../src/domain/index.js';
import { LocationService } from '../../src/services/location-service.js';
import { ProviderService } from '../../src/services/provider-service.js';
import { SessionService } from '../../src/services/session-service.js';
import { createSqliteStore } from '../../src/store/index.js';

// A feed in the cache is rendered again just after a write of this process changed it, so that the
// calendar app's next poll is a cache hit (FeedService refreshOnChange).

const now = new Date('2026-11-02T12:00:00.000Z');
const clock = { now: () => now };
const base = { joinLinks: testJoinLinks, clock, publicBaseUrl: 'https://x', pastDays: 60, futureDays: 365 };

const sessionAt = (start: string) => ({
  start,
  end: new Date(Date.parse(start) + 50 * 60_000).toISOString(),
  locationId: null,
  telehealthUrl: null,
  client: null,
  status: 'scheduled' as const,
});

describe('FeedService refresh after a change', () => {
  let store: Store;
  let sessions: SessionService;
  const tokens = { p1: '', p2: '' };

  beforeEach(async () => {
    store = await createSqliteStore({ filename: ':memory:' });
    sessions = new SessionService({ joinLinks: testJoinLinks, store, clock, uidDomain: 'test.example' });
    for (const [id, count] of [['p1', 30], ['p2', 10]] as const) {
      await new ProviderService({ joinLinks: testJoinLinks, store, clock }).put(id, { name: `Dr. ${id}`, email: null, timezone: 'America/New_York', privacy: { mode: 'none', baaAttested: false } });
      await new LocationService({ joinLinks: testJoinLinks, store, clock }).put(id, 'video', { kind: 'virtual', name: null, url: `https://doxy.me/${id}`, instructions: null, waitingRoom: true });
      for (let i = 0; i < count; i++) await sessions.put(id, `s${i}`, sessionAt(new Date(Date.parse('2026-11-03T14:00:00Z') + i * 86_400_000).toISOString()));
      const created = await new FeedService({ ...base, store, cacheMaxBytes: 0 }).create(id, null);
      tokens[id] = new URL(created.url).pathname.slice('/feeds/'.length, -'.ics'.length);
    }
  });
  afterEach(() => store.close());

  /** A service that refreshes on change, counting its renders, cache hits and the store reads it makes. */
  function service(options: Partial<FeedServiceOptions> = {}) {
    const counts = { renders: 0, hits: 0 };
    const feeds = new FeedService({
      ...base,
      store,
      cacheMaxBytes: 1e9,
      refreshOnChange: true,
      metrics: { feedRendered: () => void (counts.renders += 1), feedCacheHit: () => void (counts.hits += 1) },
      ...options,
    });
    return { feeds, counts };
  }

  /** What a service that never saw the feed before renders now (body and gzip). */
  async function cold(token: string): Promise<{ body: Buffer; gzip: Buffer }> {
    const fresh = (await new FeedService({ ...base, store, cacheMaxBytes: 1e9 }).render(token))!;
    return { body: Buffer.concat(fresh.parts), gzip: fresh.gzipped() };
  }

  it('when a session of a polled feed changes, then it is rendered just after the write, and the next poll is answered from memory with no query', async () => {
    const { feeds, counts } = service();
    const before = (await feeds.render(tokens.p1))!;
    await sessions.put('p1', 's3', sessionAt('2026-11-06T16:00:00.000Z'));
    assert.equal(counts.renders, 1, 'not within the write');
    await feeds.refreshed();
    assert.equal(counts.renders, 2, 'rendered once, after it');

    const asked: string[] = [];
    for (const name of ['getProvider', 'findFeedRevision', 'listSessionChanges', 'listSessionVersions'] as const) {
      const original = (store[name] as (...args: unknown[]) => Promise<unknown>).bind(store);
      Object.assign(store, { [name]: (...args: unknown[]) => (asked.push(name), original(...args)) });
    }
    const after = feeds.peek(tokens.p1);
    assert.ok(after, 'peek answers: the lookup was brought up to date with the body');
    assert.deepStrictEqual(asked, []);
    assert.equal(counts.renders, 2);
    assert.notEqual(after.etag, before.etag);
    assert.ok(Buffer.concat(after.parts).equals((await cold(tokens.p1)).body), 'the same bytes as a render from nothing');
    assert.match(Buffer.concat(after.parts).toString(), /DTSTART;TZID=America\/New_York:20261106T110000/);
  });

  it('when the feed had been asked for in gzip, then its gzip is made too, the same bytes as a cold gzip', async () => {
    const { feeds, counts } = service();
    (await feeds.render(tokens.p1))!.gzipped();
    await sessions.put('p1', 's5', sessionAt('2026-11-08T18:00:00.000Z'));
    await feeds.refreshed();
    // Made as an edit of the gzip before, then joined into one buffer in the turn after.
    await new Promise((resolve) => setImmediate(resolve));
    const answer = feeds.peek(tokens.p1)!.gzipAnswer();
    assert.ok(Buffer.isBuffer(answer), 'one buffer, made before the poll');
    assert.ok(answer.equals((await cold(tokens.p1)).gzip));
    assert.equal(counts.renders, 2);
  });

  it('when writes follow one another with no poll between, then only the first is refreshed, and the poll after them renders the rest', async () => {
    const { feeds, counts } = service();
    await feeds.render(tokens.p1);
    await sessions.put('p1', 's3', sessionAt('2026-11-06T16:00:00.000Z'));
    await feeds.refreshed();
    assert.equal(counts.renders, 2, 'the first write is refreshed');
    for (const [id, start] of [['s4', '2026-11-07T16:00:00.000Z'], ['s5', '2026-11-08T16:00:00.000Z']] as const) {
      await sessions.put('p1', id, sessionAt(start));
      await feeds.refreshed();
    }
    assert.equal(counts.renders, 2, 'nobody saw the refreshed body: the writes after it wait for a poll');
    const polled = (await feeds.render(tokens.p1))!;
    assert.equal(counts.renders, 3);
    assert.ok(Buffer.concat(polled.parts).equals((await cold(tokens.p1)).body));
    await sessions.put('p1', 's6', sessionAt('2026-11-09T16:00:00.000Z'));
    await feeds.refreshed();
    assert.equal(counts.renders, 4, 'polled since: refreshed again');
  });

  it('when a feed nobody polled changes, or a write moves no feed, then nothing is rendered', async () => {
    const { feeds, counts } = service();
    await feeds.render(tokens.p2);
    await sessions.put('p1', 's3', sessionAt('2026-11-06T16:00:00.000Z'));
    await store.recordFeedFetch('nope', now.toISOString(), null);
    await feeds.refreshed();
    assert.equal(counts.renders, 1, 'p1 is not in the cache: its next poll renders it');
    assert.ok(await feeds.render(tokens.p2));
    assert.equal(counts.renders, 1, 'p2 is still a hit');
  });

  it('when a refreshed feed was the least recently polled, then it stays so and is the one a fuller cache drops', async () => {
    const sized = service();
    await sized.feeds.render(tokens.p1);
    const p1Bytes = sized.feeds.cachedBytes;
    const p2 = (await sized.feeds.render(tokens.p2))!;
    const bothBytes = sized.feeds.cachedBytes;
    const p2Gzip = p2.gzipped().length;

    // Room for both bodies and a little more, not for p2's gzip besides.
    const { feeds, counts } = service({ cacheMaxBytes: bothBytes + Math.floor(p2Gzip / 2) });
    await feeds.render(tokens.p1);
    const polled = (await feeds.render(tokens.p2))!;
    await sessions.put('p1', 's3', sessionAt('2026-11-06T16:00:00.000Z'));
    await feeds.refreshed();
    assert.equal(counts.renders, 3);
    assert.ok(feeds.cachedBytes > p1Bytes, 'both kept');
    // p2's gzip (asked for by the poll before, no poll since) needs room: the oldest goes, which
    // is still p1, refreshed in its place.
    polled.gzipped();
    await feeds.render(tokens.p2);
    assert.equal(counts.renders, 3, 'p2 kept');
    await feeds.render(tokens.p1);
    assert.equal(counts.renders, 4, 'p1 dropped');
  });

  it('when a refresh fails, then nothing is thrown into the event loop and the next poll renders the change', async () => {
    const { feeds, counts } = service();
    await feeds.render(tokens.p1);
    const original = store.getProvider.bind(store);
    let failures = 0;
    Object.assign(store, { getProvider: () => (failures++ === 0 ? Promise.reject(new Error('database away')) : Promise.resolve(null)) });
    await sessions.put('p1', 's3', sessionAt('2026-11-06T16:00:00.000Z'));
    await feeds.refreshed();
    assert.equal(failures, 1);
    assert.equal(counts.renders, 1);
    Object.assign(store, { getProvider: original });
    const after = (await feeds.render(tokens.p1))!;
    assert.equal(counts.renders, 2);
    assert.ok(Buffer.concat(after.parts).equals((await cold(tokens.p1)).body));
  });

  it('when the service is stopped, or made without refreshOnChange, then a change is left to the next poll', async () => {
    const stopped = service();
    const plain = service({ refreshOnChange: false });
    await stopped.feeds.render(tokens.p1);
    await plain.feeds.render(tokens.p1);
    await stopped.feeds.stop();
    await sessions.put('p1', 's3', sessionAt('2026-11-06T16:00:00.000Z'));
    await stopped.feeds.refreshed();
    await plain.feeds.refreshed();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stopped.counts.renders, 1);
    assert.equal(plain.counts.renders, 1);
    assert.equal(plain.feeds.peek(tokens.p1), undefined, 'the next poll renders');
  });
});
