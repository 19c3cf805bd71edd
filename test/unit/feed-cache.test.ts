import { testJoinLinks } from '../support/builders.js';
import assert from 'node:assert/strict';
import { FeedService } from '../../feeds/index.js';
import type { Store } from '../../src/domain/index.js';
import { LocationService } from '../../src/services/location-service.js';
import { ProviderService } from '../../src/services/provider-service.js';
import { SessionService } from '../../src/services/session-service.js';
import { createSqliteStore } from '../../src/store/index.js';

const now = new Date('2026-11-02T12:00:00.000Z');
const clock = { now: () => now };

/** Two providers with a feed each; p1's calendar is larger than p2's. */
async function seed(store: Store): Promise<Record<'p1' | 'p2', string>> {
  const tokens = { p1: '', p2: '' };
  for (const [id, count] of [['p1', 30], ['p2', 10]] as const) {
    await new ProviderService({ joinLinks: testJoinLinks, store, clock }).put(id, { name: `Dr. ${id}`, email: null, timezone: 'America/New_York', privacy: { mode: 'none', baaAttested: false } });
    await new LocationService({ joinLinks: testJoinLinks, store, clock }).put(id, 'video', { kind: 'virtual', name: null, url: `https://doxy.me/${id}`, instructions: null, waitingRoom: true });
    const sessions = new SessionService({ joinLinks: testJoinLinks, store, clock, uidDomain: 'test.example' });
    for (let i = 0; i < count; i++) {
      const start = new Date(Date.parse('2026-11-03T14:00:00Z') + i * 86_400_000).toISOString();
      await sessions.put(id, `s${i}`, { start, end: new Date(Date.parse(start) + 50 * 60_000).toISOString(), locationId: null, telehealthUrl: null, client: null, status: 'scheduled' });
    }
    const created = await new FeedService({ joinLinks: testJoinLinks, store, clock, publicBaseUrl: 'https://x', pastDays: 60, futureDays: 365, cacheMaxBytes: 0 }).create(id, null);
    tokens[id] = new URL(created.url).pathname.slice('/feeds/'.length, -'.ics'.length);
  }
  return tokens;
}

describe('FeedService cache budget', () => {
  let store: Store;
  let tokens: Record<'p1' | 'p2', string>;
  /** body: what a cached feed counts without its gzip (more than its bytes); gzip: what its gzip adds. */
  let sizes: Record<'p1' | 'p2', { body: number; gzip: number }>;
  beforeEach(async () => {
    store = await createSqliteStore({ filename: ':memory:' });
    tokens = await seed(store);
    // What one cached feed counts (its body and the bookkeeping of its events), then its gzip.
    const size = async (token: string) => {
      const probe = new FeedService({ joinLinks: testJoinLinks, store, clock, publicBaseUrl: 'https://x', pastDays: 60, futureDays: 365, cacheMaxBytes: 1e9 });
      const feed = (await probe.render(token))!;
      const body = probe.cachedBytes;
      assert.ok(body > feed.length);
      return { body, gzip: feed.gzipped().length };
    };
    sizes = { p1: await size(tokens.p1), p2: await size(tokens.p2) };
    assert.ok(sizes.p1.body > sizes.p2.body);
  });
  afterEach(() => store.close());

  /** p1's session moved to 50 minutes from `start`: a change of one event. */
  const moveSession = (id: string, start: string) =>
    new SessionService({ joinLinks: testJoinLinks, store, clock, uidDomain: 'test.example' }).put('p1', id, {
      start,
      end: new Date(Date.parse(start) + 50 * 60_000).toISOString(),
      locationId: null,
      telehealthUrl: null,
      client: null,
      status: 'scheduled',
    });

  function service(cacheMaxBytes: number): { feeds: FeedService; renders: () => number } {
    let renders = 0;
    const feeds = new FeedService({ joinLinks: testJoinLinks, store, clock, publicBaseUrl: 'https://x', pastDays: 60, futureDays: 365, cacheMaxBytes, metrics: { feedRendered: () => void (renders += 1), feedCacheHit: () => undefined } });
    return { feeds, renders: () => renders };
  }

  it('when two feeds do not fit the byte budget together, then the least recently polled is dropped and rendered again', async () => {
    const { feeds, renders } = service(sizes.p1.body + sizes.p2.body - 1);
    await feeds.render(tokens.p1);
    await feeds.render(tokens.p1);
    assert.equal(renders(), 1, 'a hit');
    await feeds.render(tokens.p2);
    assert.equal(feeds.cachedBytes, sizes.p2.body, 'p1 made room for p2');
    await feeds.render(tokens.p1);
    assert.equal(renders(), 3, 'p1 had been dropped');
    assert.ok(feeds.cachedBytes <= sizes.p1.body + sizes.p2.body - 1);
  });

  it('when a cached feed is gzipped, then its gzip counts too and may push an older feed out', async () => {
    const { feeds, renders } = service(sizes.p1.body + sizes.p2.body + sizes.p2.gzip - 1);
    await feeds.render(tokens.p1);
    const p2 = (await feeds.render(tokens.p2))!;
    assert.equal(feeds.cachedBytes, sizes.p1.body + sizes.p2.body);
    p2.gzipped();
    assert.equal(feeds.cachedBytes, sizes.p2.body + sizes.p2.gzip, 'p1 went for the gzip');
    await feeds.render(tokens.p2);
    assert.equal(renders(), 2, 'p2 and its gzip stayed');
  });

  it('when a gzipped feed changes, then its first gzip answer is the gzip before edited, counted as that gzip, and one buffer after the poll', async () => {
    const { feeds } = service(1e9);
    (await feeds.render(tokens.p1))!.gzipped();
    await moveSession('s3', '2026-11-06T16:00:00.000Z');
    const changed = (await feeds.render(tokens.p1))!;
    const counted = feeds.cachedBytes;
    const first = changed.gzipAnswer();
    assert.ok(!Buffer.isBuffer(first), 'parts: views of the gzip before, and the chunk deflated anew');
    assert.ok(first.parts.length >= 3);
    assert.equal(feeds.cachedBytes, counted, 'what the parts keep alive is the gzip before, counted already');
    const fresh = service(1e9).feeds;
    const cold = (await fresh.render(tokens.p1))!.gzipped();
    assert.ok(Buffer.concat(first.parts).equals(cold));
    // The poll's answer is written in this turn of the event loop; the one buffer is made after it.
    await new Promise((resolve) => setImmediate(resolve));
    const later = changed.gzipAnswer();
    assert.ok(Buffer.isBuffer(later) && later.equals(cold));
    assert.equal(feeds.cachedBytes, fresh.cachedBytes, 'counted as the same feed rendered and gzipped afresh: the gzip before is gone');
  });

  it('when joining an edited gzip fails after the answer, then nothing is thrown into the event loop and the gzip is made whole', async () => {
    const { feeds } = service(1e9);
    (await feeds.render(tokens.p1))!.gzipped();
    await moveSession('s5', '2026-11-08T18:00:00.000Z');
    const changed = (await feeds.render(tokens.p1))!;
    const first = changed.gzipAnswer();
    assert.ok(!Buffer.isBuffer(first));
    // What the join places the deflated chunks from, taken away: it throws (a RangeError).
    (first as unknown as { deflated: Map<string, Buffer> }).deflated.clear();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const later = changed.gzipAnswer();
    const cold = (await service(1e9).feeds.render(tokens.p1))!.gzipped();
    assert.ok(Buffer.isBuffer(later) && later.equals(cold), 'made whole, the same bytes');
  });

  it('when one feed is larger than the whole budget, then it is served every time but never kept', async () => {
    const { feeds, renders } = service(sizes.p1.body - 1);
    assert.ok(await feeds.render(tokens.p1));
    assert.ok(await feeds.render(tokens.p1));
    assert.equal(renders(), 2);
    assert.equal(feeds.cachedBytes, 0);
  });
});
