import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import supertest from 'supertest';
import { hashFeedToken } from '../../feeds/index.js';
import { AppError, ErrorCode, type Store } from '../../src/domain/index.js';
import { noMetrics } from '../../src/metrics.js';
import { createSqliteStore } from '../../src/store/index.js';
import { parseFeed } from '../support/parse-ics.js';
import { CLIENT, OFFICE_ADDRESS, VIDEO_INSTRUCTIONS, VIDEO_URL, seedProvider } from '../support/seed.js';
import { PUBLIC_BASE_URL, createTestApp, type TestApp } from '../support/test-app.js';

/**
 * An in-memory SQLite store whose methods fail on demand: `fault` is asked before every call and
 * answers it instead (by returning or throwing) unless it returns undefined.
 */
async function storeFailing(fault: (name: string | symbol, args: unknown[]) => unknown): Promise<Store> {
  const real = await createSqliteStore({ filename: ':memory:' });
  return new Proxy(real, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => fault(name, args) ?? (value as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
}

describe('HTTP: feeds', () => {
  let t: TestApp;
  let feedPath: string;
  beforeEach(async () => {
    t = await createTestApp({ now: '2026-11-02T12:00:00.000Z' });
    await seedProvider(t);
    const created = await t.platform.post('/api/v1/providers/p1/feeds', { label: 'iPhone' });
    assert.equal(created.status, 201);
    feedPath = new URL(created.body.url).pathname;
  });
  afterEach(() => t.close());

  const put = (id: string, body: Record<string, unknown>) => t.platform.put(`/api/v1/providers/p1/sessions/${id}`, body);
  const fetchFeed = () => supertest(t.app).get(feedPath);

  describe('management', () => {
    it('when a feed is created, then the URL holds a 43-char token under PUBLIC_BASE_URL and webcal mirrors it', async () => {
      const res = await t.platform.post('/api/v1/providers/p1/feeds', {});
      assert.match(res.body.url, new RegExp(`^${PUBLIC_BASE_URL}/feeds/[A-Za-z0-9_-]{43}\\.ics$`));
      assert.equal(res.body.webcalUrl, res.body.url.replace('https:', 'webcal:'));
      assert.equal(res.body.label, null);
      assert.equal(res.headers['cache-control'], 'no-store');
    });

    it('when a feed is created, then only the SHA-256 of its token is stored', async () => {
      const res = await t.platform.post('/api/v1/providers/p1/feeds', { label: 'Outlook' });
      const token = /feeds\/(.+)\.ics$/.exec(res.body.url)![1]!;
      const feeds = await t.store.listFeeds('p1');
      const stored = feeds.find((f) => f.id === res.body.id)!;
      assert.equal(stored.tokenHash, hashFeedToken(token));
      assert.ok(!JSON.stringify(feeds).includes(token));
    });

    it('when feeds are listed, then each shows label and fetch bookkeeping but never a token', async () => {
      await fetchFeed().set('User-Agent', 'Google-Calendar-Importer');
      const res = await t.platform.get('/api/v1/providers/p1/feeds');
      assert.equal(res.body.feeds.length, 1);
      const [feed] = res.body.feeds;
      assert.deepEqual(Object.keys(feed).sort(), ['createdAt', 'fetchCount', 'id', 'label', 'lastFetchedAt', 'lastUserAgent']);
      assert.equal(feed.fetchCount, 1);
      assert.equal(feed.lastUserAgent, 'Google-Calendar-Importer');
      assert.equal(feed.lastFetchedAt, '2026-11-02T12:00:00.000Z');
    });

    it('when a feed is revoked, then its URL answers 404 exactly like an unknown token, and other feeds keep working', async () => {
      const second = await t.platform.post('/api/v1/providers/p1/feeds', { label: 'Desk' });
      const feedId = (await t.platform.get('/api/v1/providers/p1/feeds')).body.feeds.find((f: { label: string }) => f.label === 'iPhone').id;
      assert.equal((await t.platform.delete(`/api/v1/providers/p1/feeds/${feedId}`)).status, 204);
      const revoked = await fetchFeed();
      const unknown = await supertest(t.app).get(`/feeds/${'A'.repeat(43)}.ics`);
      const malformed = await supertest(t.app).get('/feeds/nope.ics');
      for (const res of [revoked, unknown, malformed]) {
        assert.equal(res.status, 404);
        assert.equal(res.text, unknown.text);
      }
      assert.equal((await supertest(t.app).get(new URL(second.body.url).pathname)).status, 200);
      assert.equal((await t.platform.get('/api/v1/providers/p1/feeds')).body.feeds.length, 1);
      assert.equal((await t.platform.delete(`/api/v1/providers/p1/feeds/${feedId}`)).status, 404);
    });

    it('when the provider does not exist, then feed routes answer 404; a bad label is 400', async () => {
      assert.equal((await t.platform.post('/api/v1/providers/nobody/feeds', {})).status, 404);
      assert.equal((await t.platform.get('/api/v1/providers/nobody/feeds')).status, 404);
      const bad = await t.platform.post('/api/v1/providers/p1/feeds', { label: 'x'.repeat(101) });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.details[0].path, 'label');
    });

    it('when the provider is deleted, then its feed URL answers an empty calendar of the same name, then 410 Gone', async () => {
      await t.platform.delete('/api/v1/providers/p1').expect(200);
      const tombstone = await fetchFeed();
      assert.equal(tombstone.status, 200);
      assert.match(tombstone.text, /X-WR-CALNAME:Sessions – /);
      assert.doesNotMatch(tombstone.text, /BEGIN:VEVENT/);
      t.clock.advance(30 * 86_400_000 - 1);
      assert.equal((await fetchFeed()).status, 200, 'an empty calendar for 30 days');
      t.clock.advance(1);
      const gone = await fetchFeed();
      assert.equal(gone.status, 410);
      assert.equal(gone.body.error.code, 'GONE');
    });
  });

  describe('GET /feeds/<token>.ics', () => {
    it('when fetched, then it is a calendar with the security and caching headers', async () => {
      const res = await fetchFeed();
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'text/calendar; charset=utf-8');
      assert.equal(res.headers['cache-control'], 'private, no-cache');
      assert.match(res.headers['x-robots-tag'] ?? '', /noindex/);
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.match(res.headers['etag'] ?? '', /^"[A-Za-z0-9_-]+"$/);
      assert.match(res.text, /^BEGIN:VCALENDAR\r\n/);
      assert.match(res.text, /X-WR-CALNAME:Sessions – Dr\. Ada Byron\r\n/);
    });

    it('when sessions exist, then virtual ones carry the link in LOCATION, URL and DESCRIPTION with the instructions', async () => {
      await put('v', { start: '2026-11-10T15:00:00Z', durationMinutes: 50, client: CLIENT });
      await put('o', { start: '2026-11-11T15:00:00Z', durationMinutes: 50, client: CLIENT, locationId: 'office' });
      const events = parseFeed((await fetchFeed()).text);
      assert.deepEqual(events.map((e) => e.summary), ['Telehealth session', 'In-person session']);
      const [virtual, office] = events;
      assert.equal(virtual!.location, VIDEO_URL);
      assert.equal(virtual!.url, VIDEO_URL);
      assert.equal(virtual!.description, `${VIDEO_INSTRUCTIONS}\n\nJoin: ${VIDEO_URL}`);
      assert.equal(virtual!.start, '2026-11-10T15:00:00.000Z');
      assert.equal(virtual!.end, '2026-11-10T15:50:00.000Z');
      assert.equal(virtual!.uid, 'p1.v@sync.example.test');
      assert.equal(office!.location, OFFICE_ADDRESS);
      assert.equal(office!.url, null);
    });

    it('when privacy mode is none, then no client identity appears anywhere in the feed', async () => {
      await put('v', { start: '2026-11-10T15:00:00Z', durationMinutes: 50, client: CLIENT });
      const body = (await fetchFeed()).text;
      assert.doesNotMatch(body, /Jane|Doe|J\.D\.|c-77/);
      assert.doesNotMatch(body, /ATTENDEE|ORGANIZER/);
    });

    it('when the provider opts into initials with a BAA, then titles carry initials only', async () => {
      await put('v', { start: '2026-11-10T15:00:00Z', durationMinutes: 50, client: CLIENT });
      await t.platform.put('/api/v1/providers/p1', { name: 'Dr. Ada Byron', timezone: 'America/New_York', privacy: { mode: 'initials', baaAttested: true } });
      const body = (await fetchFeed()).text;
      assert.deepEqual(parseFeed(body).map((e) => e.summary), ['Telehealth session with J.D.']);
      assert.doesNotMatch(body, /Jane|Doe/);
    });

    it('when sessions are cancelled, deleted or outside the window, then they are left out', async () => {
      await put('keep', { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
      await put('cancelled', { start: '2026-11-11T15:00:00Z', durationMinutes: 50, status: 'cancelled' });
      await put('deleted', { start: '2026-11-12T15:00:00Z', durationMinutes: 50 });
      await t.platform.delete('/api/v1/providers/p1/sessions/deleted');
      await put('old', { start: '2026-08-01T15:00:00Z', durationMinutes: 50 });
      await put('recent-past', { start: '2026-09-10T15:00:00Z', durationMinutes: 50 });
      await put('far', { start: '2027-12-01T15:00:00Z', durationMinutes: 50 });
      const events = parseFeed((await fetchFeed()).text);
      assert.deepEqual(events.map((e) => e.uid.split('@')[0]), ['p1.recent-past', 'p1.keep']);
    });

    it('when a session is rescheduled or relinked, then the feed shows it with the same UID and a higher SEQUENCE', async () => {
      await put('s', { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
      const [before] = parseFeed((await fetchFeed()).text);
      await put('s', { start: '2026-11-10T17:00:00Z', durationMinutes: 50 });
      const [moved] = parseFeed((await fetchFeed()).text);
      await t.platform.put('/api/v1/providers/p1/locations/video', { kind: 'virtual', name: 'Video', url: 'https://doxy.me/drbyron2', instructions: VIDEO_INSTRUCTIONS, waitingRoom: true, isDefault: true });
      const [relinked] = parseFeed((await fetchFeed()).text);
      assert.equal(moved!.uid, before!.uid);
      assert.equal(relinked!.uid, before!.uid);
      assert.ok(moved!.sequence > before!.sequence);
      assert.ok(relinked!.sequence > moved!.sequence);
      assert.equal(moved!.start, '2026-11-10T17:00:00.000Z');
      assert.equal(relinked!.url, 'https://doxy.me/drbyron2');
    });

    it('when a location is added after the feed was read and a session is put at it, then the next poll shows its link', async () => {
      await put('s', { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
      const [before] = parseFeed((await fetchFeed()).text);
      assert.equal(before!.url, 'https://doxy.me/drbyron');
      await t.platform.put('/api/v1/providers/p1/locations/annex', { kind: 'virtual', name: 'Annex', url: 'https://zoom.us/j/5550001111', isDefault: false });
      await put('s', { start: '2026-11-10T15:00:00Z', durationMinutes: 50, locationId: 'annex' });
      const [after] = parseFeed((await fetchFeed()).text);
      assert.equal(after!.url, 'https://zoom.us/j/5550001111');
      assert.match(after!.description ?? '', /Join: https:\/\/zoom\.us\/j\/5550001111/);
    });

    it('when nothing changed, then the ETag is the same and If-None-Match answers 304 without a body', async () => {
      await put('s', { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
      const first = await fetchFeed();
      const second = await fetchFeed();
      assert.equal(second.headers['etag'], first.headers['etag']);
      assert.equal(second.text, first.text);
      const notModified = await fetchFeed().set('If-None-Match', first.headers['etag']!);
      assert.equal(notModified.status, 304);
      assert.equal(notModified.text, '');
      assert.equal(notModified.headers['etag'], first.headers['etag']);
      const weak = await fetchFeed().set('If-None-Match', `"other", W/${first.headers['etag']}`);
      assert.equal(weak.status, 304);
    });

    it('when a session changes, then the ETag changes and the old one no longer matches', async () => {
      await put('s', { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
      const first = await fetchFeed();
      await put('s', { start: '2026-11-10T16:00:00Z', durationMinutes: 50 });
      const after = await fetchFeed().set('If-None-Match', first.headers['etag']!);
      assert.equal(after.status, 200);
      assert.notEqual(after.headers['etag'], first.headers['etag']);
    });

    it('when the day turns, then the window moves and a session that fell out of it is dropped', async () => {
      await put('s', { start: '2026-11-03T15:00:00Z', durationMinutes: 50 });
      assert.equal(parseFeed((await fetchFeed()).text).length, 1);
      t.clock.advance(62 * 86_400_000);
      assert.equal(parseFeed((await fetchFeed()).text).length, 0);
    });

    it('when HEAD is sent, then the headers match GET and there is no body', async () => {
      await put('s', { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
      const get = await fetchFeed().set('Accept-Encoding', 'identity');
      const head = await supertest(t.app).head(feedPath).set('Accept-Encoding', 'identity');
      assert.equal(head.status, 200);
      assert.equal(head.headers['etag'], get.headers['etag']);
      assert.equal(head.headers['content-type'], get.headers['content-type']);
      assert.equal(head.headers['content-length'], String(Buffer.byteLength(get.text)));
      assert.equal(head.text, undefined);
    });

    it('when gzip is accepted, then the body is gzipped, decodes to the same calendar and has its own ETag', async () => {
      await put('s', { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
      const plain = await fetchFeed().set('Accept-Encoding', 'identity');
      // superagent inflates gzip itself, so equal text after a gzip Content-Encoding proves the round trip.
      const gz = await fetchFeed().set('Accept-Encoding', 'gzip');
      assert.equal(gz.headers['content-encoding'], 'gzip');
      assert.equal(gz.headers['vary'], 'Accept-Encoding');
      assert.notEqual(gz.headers['etag'], plain.headers['etag']);
      assert.equal(gz.text, plain.text);
      assert.ok(Number(gz.headers['content-length']) < Buffer.byteLength(plain.text));
      const revalidated = await fetchFeed().set('Accept-Encoding', 'gzip').set('If-None-Match', gz.headers['etag']!);
      assert.equal(revalidated.status, 304);
    });

    it('when a session changes, then the first gzip poll after it sends the bytes and ETag every later poll does', async () => {
      const server = http.createServer(t.app).listen(0, '127.0.0.1');
      await once(server, 'listening');
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${feedPath}`;
      // The raw answer: superagent would inflate it.
      const poll = (encoding: string) =>
        new Promise<{ body: Buffer; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
          http.get(url, { headers: { 'Accept-Encoding': encoding } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.once('end', () => resolve({ body: Buffer.concat(chunks), headers: res.headers }));
            res.once('error', reject);
          }).once('error', reject);
        });
      try {
        for (let i = 0; i < 40; i++) await put(`s${i}`, { start: new Date(Date.parse('2026-11-10T15:00:00Z') + i * 86_400_000).toISOString(), durationMinutes: 50 });
        const before = await poll('gzip');
        await put('s7', { start: '2026-11-17T17:00:00Z', durationMinutes: 50 });
        const first = await poll('gzip');
        const next = await poll('gzip');
        const plain = await poll('identity');
        assert.notEqual(first.headers['etag'], before.headers['etag']);
        assert.equal(first.headers['etag'], next.headers['etag']);
        assert.equal(first.headers['content-length'], String(first.body.length));
        assert.ok(first.body.equals(next.body), 'one representation, one set of bytes');
        assert.ok(gunzipSync(first.body).equals(plain.body));
        assert.match(plain.body.toString('utf8'), /DTSTART;TZID=America\/New_York:20261117T120000/);
      } finally {
        server.close();
      }
    });

    it('when Accept-Encoding carries weights, then gzip is sent only where the client ranks it first', async () => {
      await put('s', { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
      const cases: [string, string | undefined][] = [
        ['gzip;q=0, identity', undefined],
        ['identity;q=0.9, gzip;q=0.1', undefined],
        ['identity;q=0.1, gzip;q=0.9', 'gzip'],
        ['br;q=1.0, gzip;q=0.5', 'gzip'],
        ['*;q=0.5, identity;q=1', undefined],
      ];
      for (const [header, encoding] of cases) {
        const res = await fetchFeed().set('Accept-Encoding', header);
        assert.equal(res.status, 200, header);
        assert.equal(res.headers['content-encoding'], encoding, header);
        assert.equal(parseFeed(res.text).length, 1, header);
      }
    });

    it('when the database fails under a poll, then 503 JSON with Retry-After, the same as any route, and neither token nor URL is logged', async () => {
      // The store fails on demand: a poll that found nothing in memory reads it (async), and a
      // poll answered from memory asks it whether anything changed (synchronously).
      let failing: 'none' | 'reads' | 'epoch' = 'none';
      const down = () => new AppError({ code: ErrorCode.SERVICE_UNAVAILABLE, status: 503, message: 'The database does not answer; try again shortly.', retryable: true });
      const store = await storeFailing((name) => {
        if (failing === 'epoch' && name === 'feedLookupEpoch') throw down();
        if (failing === 'reads' && (name === 'findFeedRevision' || name === 'getProvider')) return Promise.reject(down());
        return undefined;
      });
      const f = await createTestApp({ now: '2026-11-02T12:00:00.000Z', store });
      try {
        await seedProvider(f);
        const path = new URL((await f.platform.post('/api/v1/providers/p1/feeds', {})).body.url).pathname;
        const token = /feeds\/(.+)\.ics$/.exec(path)![1]!;
        for (const mode of ['reads', 'epoch'] as const) {
          if (mode === 'epoch') assert.equal((await supertest(f.app).get(path)).status, 200, 'cached, to be answered from memory');
          failing = mode;
          for (const method of ['get', 'head'] as const) {
            const res = await supertest(f.app)[method](path);
            assert.equal(res.status, 503, `${mode} ${method}`);
            assert.equal(res.headers['retry-after'], '2');
            assert.equal(res.headers['cache-control'], 'no-store');
            assert.match(String(res.headers['content-type']), /^application\/json; charset=utf-8$/);
            if (method === 'get') assert.equal(res.body.error.code, 'SERVICE_UNAVAILABLE');
          }
          failing = 'none';
          assert.equal((await supertest(f.app).get(path)).status, 200, `${mode}: answered again once the database is back`);
        }
        const logged = f.rawLogs.join('');
        assert.ok(!logged.includes(token) && !logged.includes(hashFeedToken(token)), 'no token in the logs');
      } finally {
        await f.close();
      }
    });

    it('when a poll fails with an error that is not ours, then 500 with a fixed message, logged by route without the token', async () => {
      let failing = false;
      const store = await storeFailing((name, args) => (failing && name === 'findFeedRevision' ? Promise.reject(new Error(`boom for ${String(args[0])}`)) : undefined));
      const f = await createTestApp({ now: '2026-11-02T12:00:00.000Z', store });
      try {
        await seedProvider(f);
        const path = new URL((await f.platform.post('/api/v1/providers/p1/feeds', {})).body.url).pathname;
        const token = /feeds\/(.+)\.ics$/.exec(path)![1]!;
        failing = true;
        const res = await supertest(f.app).get(path);
        assert.equal(res.status, 500);
        assert.deepEqual(res.body, { error: { code: 'INTERNAL', message: 'Something went wrong on our side.' } });
        const line = f.logs.find((l) => l['msg'] === 'unhandled error');
        assert.equal(line?.['route'], '/feeds/:file');
        const logged = f.rawLogs.join('');
        assert.ok(!logged.includes(token) && !logged.includes(hashFeedToken(token)), 'neither the token nor its hash in the logs');
      } finally {
        await f.close();
      }
    });

    it('when a feed is fetched, then the response is the same whether or not it came from the cache', async () => {
      const uncached = await createTestApp({ now: '2026-11-02T12:00:00.000Z', cacheMaxBytes: 0 });
      try {
        for (const app of [t, uncached]) {
          if (app !== t) await seedProvider(app);
          await app.platform.put('/api/v1/providers/p1/sessions/s', { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
        }
        const path = new URL((await uncached.platform.post('/api/v1/providers/p1/feeds', {})).body.url).pathname;
        const a = (await fetchFeed()).text;
        const b = (await supertest(uncached.app).get(path)).text;
        assert.equal(a.replace(/DTSTAMP:.*|LAST-MODIFIED:.*|CREATED:.*/g, ''), b.replace(/DTSTAMP:.*|LAST-MODIFIED:.*|CREATED:.*/g, ''));
      } finally {
        await uncached.close();
      }
    });

    it('when a feed is fetched, then neither the token nor the link reaches the logs', async () => {
      await put('s', { start: '2026-11-10T15:00:00Z', durationMinutes: 50, client: CLIENT });
      await fetchFeed();
      const logs = t.rawLogs.join('');
      assert.ok(!logs.includes(feedPath.slice('/feeds/'.length, -4)));
      assert.ok(!logs.includes(VIDEO_URL));
      assert.ok(!logs.includes('Jane'));
    });
  });

  describe('GET /api/v1/providers/:id/sessions/:sessionId/invite.ics', () => {
    it('when asked, then one event names the provider, carries link and instructions and nothing about the client', async () => {
      await put('s', { start: '2026-11-10T15:00:00Z', durationMinutes: 50, client: CLIENT });
      await put('other', { start: '2026-11-11T15:00:00Z', durationMinutes: 50, client: { firstName: 'Other', lastName: 'Person' } });
      const res = await t.platform.get('/api/v1/providers/p1/sessions/s/invite.ics');
      assert.equal(res.status, 200);
      assert.match(res.headers['content-type'] ?? '', /^text\/calendar; charset=utf-8/);
      assert.match(res.text, /METHOD:PUBLISH\r\n/);
      const events = parseFeed(res.text);
      assert.equal(events.length, 1);
      assert.equal(events[0]!.summary, 'Session with Dr. Ada Byron');
      assert.equal(events[0]!.url, VIDEO_URL);
      assert.equal(events[0]!.description, `${VIDEO_INSTRUCTIONS}\n\nJoin: ${VIDEO_URL}`);
      assert.doesNotMatch(res.text, /Jane|Doe|Other|Person/);
    });

    it('when the session does not exist, then 404', async () => {
      const res = await t.platform.get('/api/v1/providers/p1/sessions/nope/invite.ics');
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'SESSION_NOT_FOUND');
    });
  });

  describe('fetch bookkeeping', () => {
    it('when polls are coalesced, then they write nothing to the database until the flush, which shutdown runs', async () => {
      const c = await createTestApp({ now: '2026-11-02T12:00:00.000Z', fetchFlushMs: 60_000 });
      try {
        let writes = 0;
        const counting = c.store.recordFeedFetch.bind(c.store);
        c.store.recordFeedFetch = (...args) => ((writes += 1), counting(...args));
        await seedProvider(c);
        const created = await c.platform.post('/api/v1/providers/p1/feeds', {});
        const path = new URL(created.body.url).pathname;
        const first = await supertest(c.app).get(path).set('User-Agent', 'Google-Calendar-Importer');
        for (let i = 0; i < 4; i++) await supertest(c.app).get(path).set('If-None-Match', String(first.headers['etag'])).set('User-Agent', 'Microsoft Outlook');
        assert.equal(writes, 0, 'five polls, no write');
        assert.equal((await c.platform.get('/api/v1/providers/p1/feeds')).body.feeds[0].fetchCount, 0);

        await c.shutdown();

        assert.equal(writes, 1, 'one write for the feed');
        const [feed] = (await c.platform.get('/api/v1/providers/p1/feeds')).body.feeds;
        assert.equal(feed.fetchCount, 5);
        assert.equal(feed.lastUserAgent, 'Microsoft Outlook');
      } finally {
        await c.close();
      }
    });
  });
});

describe('HTTP: a polled feed refreshed after a write', () => {
  it('when a session of a polled feed changes, then the app renders it before the next poll, which is a cache hit with the change, and shutdown waits for that render', async () => {
    const counts = { renders: 0, hits: 0 };
    const t = await createTestApp({ metrics: { ...noMetrics(), feedRendered: () => void (counts.renders += 1), feedCacheHit: () => void (counts.hits += 1) } });
    try {
      await seedProvider(t);
      const created = await t.platform.post('/api/v1/providers/p1/feeds', {});
      const feedPath = new URL(created.body.url).pathname;
      assert.equal((await t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-10T15:00:00Z', durationMinutes: 50 })).status, 201);
      const first = await supertest(t.app).get(feedPath).set('Accept-Encoding', 'gzip');
      assert.equal(first.status, 200);
      assert.equal(counts.renders, 1);

      assert.equal((await t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-10T16:00:00Z', durationMinutes: 50 })).status, 200);
      // Shutdown stops the refreshes and resolves once the one under way is done.
      await t.shutdown();
      assert.equal(counts.renders, 2, 'rendered after the write, before any poll');
      const hits = counts.hits;
      const after = await supertest(t.app).get(feedPath).set('Accept-Encoding', 'gzip');
      assert.equal(after.status, 200);
      assert.equal(counts.renders, 2, 'the poll rendered nothing');
      assert.equal(counts.hits, hits + 1);
      assert.notEqual(after.headers.etag, first.headers.etag);
      assert.equal(parseFeed(after.text)[0]!.start, '2026-11-10T16:00:00.000Z');
    } finally {
      await t.close();
    }
  });
});
