import { testJoinLinks } from '../support/builders.js';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FeedService, generateFeedToken } from '../../feeds/index.js';
import type { Store } from '../../src/domain/index.js';
import { LocationService } from '../../src/services/location-service.js';
import { ProviderService } from '../../src/services/provider-service.js';
import { SessionService } from '../../src/services/session-service.js';
import { createSqliteStore } from '../../src/store/index.js';
import { FakeClock } from '../support/fake-clock.js';

// On SQLite a poll whose answer is in memory is answered without a query (FeedService.peek);
// nothing it keeps may outlive a revocation, a change or a write by another connection.

describe('feed lookups kept in memory (SQLite)', () => {
  let dir: string;
  let store: Store;
  let clock: FakeClock;
  let feeds: FeedService;
  let sessions: SessionService;
  let token: string;
  let feedId: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sessionsync-lookup-'));
    store = await createSqliteStore({ filename: join(dir, 'db.sqlite') });
    clock = new FakeClock('2026-11-02T12:00:00.000Z');
    await new ProviderService({ joinLinks: testJoinLinks, store, clock }).put('p1', { name: 'Dr. Ada Byron', email: null, timezone: 'America/New_York', privacy: { mode: 'none', baaAttested: false } });
    await new LocationService({ joinLinks: testJoinLinks, store, clock }).put('p1', 'video', { kind: 'virtual', name: null, url: 'https://doxy.me/ada', instructions: null, waitingRoom: true });
    sessions = new SessionService({ joinLinks: testJoinLinks, store, clock, uidDomain: 'test.example' });
    await sessions.put('p1', 's1', { start: '2026-11-03T15:00:00.000Z', end: '2026-11-03T15:50:00.000Z', locationId: null, telehealthUrl: null, client: null, status: 'scheduled' });
    feeds = new FeedService({ joinLinks: testJoinLinks, store, clock, publicBaseUrl: 'https://x', pastDays: 60, futureDays: 365, cacheMaxBytes: 1e8 });
    const created = await feeds.create('p1', null);
    feedId = created.feed.id;
    token = new URL(created.url).pathname.slice('/feeds/'.length, -'.ics'.length);
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('when a feed was rendered and nothing changed, then peek answers it from memory with the same ETag', async () => {
    assert.equal(feeds.peek(token), undefined, 'nothing known before the first poll');
    const first = await feeds.render(token);
    assert.ok(first);
    assert.equal(feeds.peek(token)?.etag, first.etag);
    assert.equal(feeds.peek(token)?.feedId, feedId);
  });

  it('when the feed is revoked, then peek no longer answers and render answers null at once', async () => {
    await feeds.render(token);
    await feeds.revoke('p1', feedId, 'test');
    assert.equal(feeds.peek(token), undefined);
    assert.equal(await feeds.render(token), null);
  });

  it('when a session changes, then peek steps aside and the next render carries the change', async () => {
    const before = await feeds.render(token);
    clock.advance(60_000);
    await sessions.put('p1', 's1', { start: '2026-11-03T16:00:00.000Z', end: '2026-11-03T16:50:00.000Z', locationId: null, telehealthUrl: null, client: null, status: 'scheduled' });
    assert.equal(feeds.peek(token), undefined);
    const after = await feeds.render(token);
    assert.ok(before && after);
    assert.notEqual(after.etag, before.etag);
    assert.equal(feeds.peek(token)?.etag, after.etag);
  });

  it('when only a session changed, then the next render reads the provider row alone, and once a feed is revoked it asks for the token again', async () => {
    await feeds.render(token);
    const asked: string[] = [];
    const counted = <K extends 'findFeedRevision' | 'getProvider'>(name: K) => {
      const original = store[name].bind(store) as (...args: unknown[]) => Promise<unknown>;
      Object.assign(store, { [name]: (...args: unknown[]) => (asked.push(name), original(...args)) });
    };
    counted('findFeedRevision');
    counted('getProvider');
    clock.advance(60_000);
    await sessions.put('p1', 's1', { start: '2026-11-03T16:00:00.000Z', end: '2026-11-03T16:50:00.000Z', locationId: null, telehealthUrl: null, client: null, status: 'scheduled' });
    asked.length = 0;
    const after = await feeds.render(token);
    assert.match(Buffer.concat(after?.parts ?? []).toString(), /DTSTART;TZID=America\/New_York:20261103T110000/);
    assert.deepStrictEqual(asked, ['getProvider'], 'one provider read: it names the revision and starts the render');

    const other = await feeds.create('p1', 'another');
    await feeds.revoke('p1', other.feed.id, 'test');
    asked.length = 0;
    assert.ok(await feeds.render(token));
    assert.deepStrictEqual(asked, ['findFeedRevision'], 'a revocation anywhere: the token is asked for again');
    asked.length = 0;
    const otherToken = new URL(other.url).pathname.slice('/feeds/'.length, -'.ics'.length);
    assert.equal(await feeds.render(otherToken), null);
  });

  it('when another connection to the database file revokes the feed, then peek no longer answers and render answers null', async () => {
    await feeds.render(token);
    const other = await createSqliteStore({ filename: join(dir, 'db.sqlite') });
    try {
      await other.transaction((tx) => tx.revokeFeed('p1', feedId, '2026-11-02T12:01:00.000Z'));
    } finally {
      await other.close();
    }
    assert.equal(feeds.peek(token), undefined);
    assert.equal(await feeds.render(token), null);
  });

  it('when the day changes, then peek steps aside (the window moved)', async () => {
    await feeds.render(token);
    clock.advance(86_400_000);
    assert.equal(feeds.peek(token), undefined);
    assert.ok(await feeds.render(token));
  });

  it('when a token is unknown or malformed, then peek does not answer and render answers null', async () => {
    for (const t of [generateFeedToken(), 'junk', `${token}x`]) {
      assert.equal(feeds.peek(t), undefined, t);
      assert.equal(await feeds.render(t), null, t);
    }
  });
});
