import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { parseFeed, type ParsedEvent } from '../support/parse-ics.js';
import { createSchema, describePostgres, dropSchema, schemaDatabaseUrl } from '../support/postgres.js';
import { ServerGroup, type ServerProcess } from '../support/processes.js';
import { logServersOnFailure } from '../support/scale-rig.js';

// Two API processes of the real server (ROLE=api, no worker) on one PostgreSQL schema, talked to
// over HTTP only. Whatever a process keeps in memory about feeds (token -> feed, rendered body and
// its gzip per provider revision), no process may serve a stale feed: every write below goes
// through one process and is checked on the VERY NEXT request to the other one (and to the
// writer), with no sleep, no polling until true and no retry in between. A poll that checks a
// change sends the ETag the process gave before the change, so that a stale cache fails either
// way: by answering 304 (status) or by answering 200 with the old body (content, ETag).

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const SESSION_MINUTES = 50;
const LOOP_ITERATIONS = 20;
const CLIENT = { id: 'c-77', firstName: 'Jane', lastName: 'Doe' };

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The bytes on the wire (gzip when Content-Encoding says so). */
  raw: Buffer;
  /** The body as text, gunzipped first when Content-Encoding is gzip. */
  text: string;
}

interface Session {
  id: string;
  uid: string;
  start: string;
  end: string;
}

interface Provider {
  id: string;
  name: string;
  link: string;
  sessions: Session[];
}

interface Feed {
  id: string;
  /** /feeds/<token>.ics */
  path: string;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
/** A Doxy.me room of its own per call: same length and lower case, so no link contains another. */
const newLink = () => `https://doxy.me/room${hex(6)}`;
/** Sessions start on the day after tomorrow (UTC) or later: inside the feed window, never past. */
const firstDay = () => Math.floor(Date.now() / DAY_MS) * DAY_MS + 2 * DAY_MS;
const iso = (ms: number) => new Date(ms).toISOString();
const unfold = (ics: string) => ics.replace(/\r\n[ \t]/g, '');

describePostgres('feeds across two API processes on one database (PostgreSQL)', (url) => {
  const group = new ServerGroup();
  // Keep-alive to each process, so that the request after a write goes out at once.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const platformToken = randomBytes(32).toString('base64url');
  let schema: string | undefined;
  let a: ServerProcess;
  let b: ServerProcess;
  /** What both processes answer for a well-formed token that was never issued. */
  let unknown: Answer;
  let providers = 0;

  function request(server: ServerProcess, method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Answer> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: server.port,
          method,
          path,
          agent,
          headers: { ...headers, ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            try {
              const raw = Buffer.concat(chunks);
              const text = res.headers['content-encoding'] === 'gzip' && raw.length > 0 ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
              resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, text });
            } catch (error) {
              reject(error instanceof Error ? error : new Error(String(error)));
            }
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** A platform API call that must answer one of `expected`; returns the JSON body. */
  async function api(server: ServerProcess, method: string, path: string, expected: readonly number[], body?: unknown): Promise<Record<string, unknown>> {
    const reply = await request(server, method, `/api/v1${path}`, { authorization: `Bearer ${platformToken}` }, body);
    assert.ok(expected.includes(reply.status), `${server.name} ${method} ${path}: HTTP ${reply.status} ${reply.text.slice(0, 600)}`);
    return reply.text === '' ? {} : (JSON.parse(reply.text) as Record<string, unknown>);
  }

  /** One poll of a feed, as a calendar app sends it: identity unless gzip, conditional if etag is given. */
  function poll(server: ServerProcess, feed: Feed | string, options: { etag?: string; gzip?: boolean } = {}): Promise<Answer> {
    const headers: Record<string, string> = { 'accept-encoding': options.gzip === true ? 'gzip' : 'identity', 'user-agent': 'feeds-across-processes' };
    if (options.etag !== undefined) headers['if-none-match'] = options.etag;
    return request(server, 'GET', typeof feed === 'string' ? feed : feed.path, headers);
  }

  /** A 200 with a calendar: returns its ETag. */
  function expectCalendar(reply: Answer, what: string, options: { gzip?: boolean } = {}): string {
    assert.equal(reply.status, 200, `${what}: HTTP ${reply.status} ${reply.text.slice(0, 300)}`);
    assert.equal(reply.headers['content-type'], 'text/calendar; charset=utf-8', `${what}: content type`);
    assert.equal(reply.headers['content-encoding'], options.gzip === true ? 'gzip' : undefined, `${what}: content encoding`);
    assert.match(reply.text, /^BEGIN:VCALENDAR\r\n/, `${what}: a calendar`);
    const etag = reply.headers['etag'];
    assert.ok(typeof etag === 'string' && /^"[A-Za-z0-9_-]+"$/.test(etag), `${what}: ETag ${String(etag)}`);
    return etag;
  }

  function expectNotModified(reply: Answer, etag: string, what: string): void {
    assert.equal(reply.status, 304, `${what}: HTTP ${reply.status} ${reply.text.slice(0, 300)}`);
    assert.equal(reply.raw.length, 0, `${what}: a 304 has no body`);
    assert.equal(reply.headers['etag'], etag, `${what}: 304 ETag`);
  }

  /** Exactly what an unknown token gets: a revoked feed must not be told apart from one. */
  function expectGone(reply: Answer, what: string): void {
    assert.equal(reply.status, 404, `${what}: HTTP ${reply.status} (a stale cache would still serve the feed)`);
    assert.equal(reply.text, unknown.text, `${what}: the body of an unknown token`);
    assert.equal(reply.headers['content-type'], unknown.headers['content-type'], `${what}: content type`);
    assert.equal(reply.headers['etag'], undefined, `${what}: no ETag`);
  }

  /** Polls 200 then 304 on `server`: whatever it caches for the feed is now cached. Returns the ETag. */
  async function prime(server: ServerProcess, feed: Feed, what: string, options: { gzip?: boolean } = {}): Promise<string> {
    const etag = expectCalendar(await poll(server, feed, options), `${what}: priming poll on ${server.name}`, options);
    expectNotModified(await poll(server, feed, { ...options, etag }), etag, `${what}: priming revalidation on ${server.name}`);
    return etag;
  }

  /** A provider with a default Doxy.me location and `count` sessions one day apart at 15:00 UTC. */
  async function newProvider(via: ServerProcess, count: number, options: { client?: boolean } = {}): Promise<Provider> {
    providers += 1;
    const id = `p${providers}-${hex(4)}`;
    const name = `Dr. Test ${hex(3)}`;
    const link = newLink();
    await api(via, 'PUT', `/providers/${id}`, [201], { name, timezone: 'America/New_York', joinLink: 'direct' });
    await api(via, 'PUT', `/providers/${id}/locations/video`, [201], { kind: 'virtual', name: 'Video', url: link, waitingRoom: true, isDefault: true });
    const sessions: Session[] = [];
    const day = firstDay();
    for (let j = 0; j < count; j++) {
      const start = iso(day + j * DAY_MS + 15 * HOUR_MS);
      const body = await api(via, 'PUT', `/providers/${id}/sessions/s${j}`, [201], {
        start,
        durationMinutes: SESSION_MINUTES,
        ...(options.client === true ? { client: CLIENT } : {}),
      });
      sessions.push({ id: `s${j}`, uid: String(body['uid']), start, end: String(body['end']) });
    }
    return { id, name, link, sessions };
  }

  async function newFeed(via: ServerProcess, providerId: string): Promise<Feed> {
    const body = await api(via, 'POST', `/providers/${providerId}/feeds`, [201], { label: `made on ${via.name}` });
    return { id: String(body['id']), path: new URL(String(body['url'])).pathname };
  }

  /** Moves a session to `start` (same length) through `via`. */
  async function reschedule(via: ServerProcess, provider: Provider, session: Session, startMs: number): Promise<void> {
    const start = iso(startMs);
    const end = iso(startMs + SESSION_MINUTES * 60_000);
    const body = await api(via, 'PUT', `/providers/${provider.id}/sessions/${session.id}`, [200], { start, end });
    assert.equal(body['start'], start);
    session.start = start;
    session.end = end;
  }

  /**
   * Runs `write` while `server` is polled back to back with `etag`, so that the last poll it
   * answered before the write's answer is as late as it can be (a cache filled by a poll that
   * read the database just before the commit is the race an invalidation must win). Those polls
   * may see the feed before or after the write; what counts is the request sent after `write`
   * resolves, which the caller makes at once: this returns without waiting for a poll in flight.
   */
  async function whilePolling(server: ServerProcess, feed: Feed, etag: string, write: () => Promise<void>): Promise<() => Promise<number>> {
    let writing = true;
    const background = (async () => {
      let polls = 0;
      while (writing) {
        const reply = await poll(server, feed, { etag });
        assert.ok([200, 304, 404].includes(reply.status), `${server.name} poll during a write: HTTP ${reply.status} ${reply.text.slice(0, 300)}`);
        polls += 1;
      }
      return polls;
    })();
    // Settled later by the caller; a failure in the meantime must not go unhandled.
    background.catch(() => undefined);
    try {
      await write();
    } finally {
      writing = false;
    }
    return () => background;
  }

  function eventOf(events: readonly ParsedEvent[], session: Session, what: string): ParsedEvent {
    const event = events.find((e) => e.uid === session.uid);
    assert.ok(event, `${what}: event ${session.uid} is in the feed (UIDs: ${events.map((e) => e.uid).join(', ')})`);
    return event;
  }

  /** The feed's event for `session` (by UID) has its current DTSTART and DTEND. */
  function expectAt(reply: Answer, session: Session, what: string): void {
    const event = eventOf(parseFeed(reply.text), session, what);
    assert.equal(event.start, session.start, `${what}: DTSTART of ${session.uid} (a stale body shows the old time)`);
    assert.equal(event.end, session.end, `${what}: DTEND of ${session.uid}`);
  }

  before(async function () {
    this.timeout(60_000);
    schema = await createSchema(url);
    const env: Record<string, string> = {
      NODE_ENV: 'production',
      ROLE: 'api',
      DATABASE_URL: schemaDatabaseUrl(url, schema),
      ADMIN_TOKEN: randomBytes(32).toString('base64url'),
      PLATFORM_API_TOKEN: platformToken,
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      PUBLIC_BASE_URL: 'https://sessionsync.example.test',
      LOG_LEVEL: 'info',
    };
    [a, b] = await Promise.all([group.start({ name: 'api-a', env, keepRecords: 500 }), group.start({ name: 'api-b', env, keepRecords: 500 })]);
    assert.deepEqual([a.role, b.role], ['api', 'api']);
    assert.notEqual(a.pid, b.pid);
    const never = `/feeds/${'A'.repeat(43)}.ics`;
    unknown = await poll(a, never);
    assert.equal(unknown.status, 404);
    const unknownOnB = await poll(b, never);
    assert.equal(unknownOnB.status, 404);
    assert.equal(unknownOnB.text, unknown.text, 'both processes answer an unknown token alike');
  });

  logServersOnFailure(group, { recordChars: 2000 });

  after(async function () {
    this.timeout(30_000);
    // Children first: the schema cannot be dropped while their connections hold locks in it.
    await group.cleanup();
    agent.destroy();
    if (schema !== undefined) await dropSchema(url, schema);
  });

  it('when a feed is created through one process, then its URL answers 200 from the other at once, with the body the provider\'s other feed has there', async () => {
    const provider = await newProvider(a, 2);
    const first = await newFeed(a, provider.id);
    // Each process has the provider's body cached (through the first feed) before the second
    // feed exists: a token cache that remembered "no such feed" or a per-feed body must not leak.
    const etagB = await prime(b, first, 'first feed');
    const etagA = await prime(a, first, 'first feed');
    assert.equal(etagA, etagB, 'both processes render the same bytes');

    const viaA = await newFeed(a, provider.id);
    assert.equal(expectCalendar(await poll(b, viaA), 'feed made on A, first poll on B'), etagB);
    assert.equal(expectCalendar(await poll(a, viaA), 'feed made on A, first poll on A'), etagA);

    const viaB = await newFeed(b, provider.id);
    assert.equal(expectCalendar(await poll(a, viaB), 'feed made on B, first poll on A'), etagA);
    assert.equal(expectCalendar(await poll(b, viaB), 'feed made on B, first poll on B'), etagB);
  });

  it('when a session is rescheduled through A after B answered 304, then the next poll with the old ETag gets 200, a new ETag and the new time, on B and on A', async () => {
    const provider = await newProvider(a, 3);
    const feed = await newFeed(a, provider.id);
    const session = provider.sessions[1]!;
    const old = await prime(b, feed, 'before the reschedule');
    assert.equal(await prime(a, feed, 'before the reschedule'), old);
    expectAt(await poll(b, feed), session, 'B before the reschedule');

    await reschedule(a, provider, session, Date.parse(session.start) + 2 * HOUR_MS);

    const onB = await poll(b, feed, { etag: old });
    const etagB = expectCalendar(onB, 'B right after the reschedule on A');
    assert.notEqual(etagB, old, 'B: the ETag changed with the feed');
    expectAt(onB, session, 'B right after the reschedule on A');
    const onA = await poll(a, feed, { etag: old });
    assert.equal(expectCalendar(onA, 'A right after its own reschedule'), etagB, 'A and B serve the same new feed');
    expectAt(onA, session, 'A right after its own reschedule');
    // And the new ETag is the one that now revalidates.
    expectNotModified(await poll(b, feed, { etag: etagB }), etagB, 'B revalidating the new ETag');
  });

  it('when a session is cancelled through A, then the next poll to B (and A) no longer lists its UID', async () => {
    const provider = await newProvider(a, 3);
    const feed = await newFeed(a, provider.id);
    const [keep1, cancelled, keep2] = provider.sessions as [Session, Session, Session];
    const old = await prime(b, feed, 'before the cancellation');
    await prime(a, feed, 'before the cancellation');
    const before = parseFeed((await poll(b, feed)).text).map((e) => e.uid);
    assert.deepEqual(before, [keep1.uid, cancelled.uid, keep2.uid]);

    const body = await api(a, 'PUT', `/providers/${provider.id}/sessions/${cancelled.id}`, [200], { start: cancelled.start, end: cancelled.end, status: 'cancelled' });
    assert.equal(body['status'], 'cancelled');

    const onB = await poll(b, feed, { etag: old });
    assert.notEqual(expectCalendar(onB, 'B right after the cancellation on A'), old);
    assert.deepEqual(parseFeed(onB.text).map((e) => e.uid), [keep1.uid, keep2.uid], 'B: the cancelled UID is gone, the others stay');
    assert.ok(!onB.text.includes(cancelled.uid), 'B: the cancelled UID appears nowhere');
    // An unconditional poll too: a stale body must not come back to a client without an ETag.
    const onA = await poll(a, feed);
    expectCalendar(onA, 'A right after its own cancellation');
    assert.deepEqual(parseFeed(onA.text).map((e) => e.uid), [keep1.uid, keep2.uid], 'A: the cancelled UID is gone');
  });

  it('when the provider\'s virtual location link changes through A, then the next poll to B (and A) carries the new link and not the old', async () => {
    const provider = await newProvider(a, 2);
    const feed = await newFeed(a, provider.id);
    const old = await prime(b, feed, 'before the relink');
    await prime(a, feed, 'before the relink');
    const before = (await poll(b, feed)).text;
    assert.ok(before.includes(provider.link), 'the feed carries the first link');

    const link = newLink();
    const body = await api(a, 'PUT', `/providers/${provider.id}/locations/video`, [200], { kind: 'virtual', name: 'Video', url: link, waitingRoom: true, isDefault: true });
    assert.equal(body['url'], link);

    for (const [server, reply] of [
      [b, await poll(b, feed, { etag: old })],
      [a, await poll(a, feed)],
    ] as const) {
      const what = `${server.name} right after the relink on A`;
      assert.notEqual(expectCalendar(reply, what), old, `${what}: ETag changed`);
      const events = parseFeed(reply.text);
      assert.equal(events.length, provider.sessions.length);
      for (const event of events) {
        assert.equal(event.url, link, `${what}: URL of ${event.uid}`);
        assert.equal(event.location, link, `${what}: LOCATION of ${event.uid}`);
      }
      assert.ok(!unfold(reply.text).includes(provider.link), `${what}: the old link ${provider.link} is gone`);
    }
  });

  it('when the provider\'s name and then privacy mode change through A, then the next poll to B (and A) shows the new calendar name and titles', async () => {
    const provider = await newProvider(a, 2, { client: true });
    const feed = await newFeed(a, provider.id);
    let old = await prime(b, feed, 'before the rename');
    await prime(a, feed, 'before the rename');
    const calname = (reply: Answer) => /^X-WR-CALNAME:(.*)$/m.exec(unfold(reply.text).replace(/\r/g, ''))?.[1];
    assert.equal(calname(await poll(b, feed)), `Sessions – ${provider.name}`);

    const renamed = `Dr. Renamed ${hex(3)}`;
    await api(a, 'PUT', `/providers/${provider.id}`, [200], { name: renamed, timezone: 'America/New_York' });
    const onB = await poll(b, feed, { etag: old });
    const etag = expectCalendar(onB, 'B right after the rename on A');
    assert.notEqual(etag, old);
    assert.equal(calname(onB), `Sessions – ${renamed}`, 'B: X-WR-CALNAME carries the new name');
    assert.ok(!onB.text.includes(provider.name), 'B: the old name is gone');
    const onA = await poll(a, feed);
    assert.equal(expectCalendar(onA, 'A right after its own rename'), etag);
    assert.equal(calname(onA), `Sessions – ${renamed}`, 'A: X-WR-CALNAME carries the new name');

    // Prime the new body on both, then privacy: titles gain the client's initials.
    old = await prime(b, feed, 'before the privacy change');
    await prime(a, feed, 'before the privacy change');
    assert.deepEqual(parseFeed((await poll(b, feed)).text).map((e) => e.summary), ['Telehealth session', 'Telehealth session']);
    await api(a, 'PUT', `/providers/${provider.id}`, [200], { name: renamed, timezone: 'America/New_York', privacy: { mode: 'initials', baaAttested: true } });
    for (const [server, reply] of [
      [b, await poll(b, feed, { etag: old })],
      [a, await poll(a, feed, { etag: old })],
    ] as const) {
      const what = `${server.name} right after the privacy change on A`;
      assert.notEqual(expectCalendar(reply, what), old, `${what}: ETag changed`);
      assert.deepEqual(parseFeed(reply.text).map((e) => e.summary), ['Telehealth session with J.D.', 'Telehealth session with J.D.'], `${what}: SUMMARY`);
      assert.doesNotMatch(reply.text, /Jane|Doe/, `${what}: initials only`);
    }
  });

  it('when a feed both processes just served (200 and 304) is revoked through A, then the very next request to B and to A answers 404 like an unknown token; and so through B, checked on A', async () => {
    const provider = await newProvider(a, 2);
    const first = await newFeed(a, provider.id);
    const second = await newFeed(b, provider.id);
    const etag = await prime(b, first, 'first feed');
    await prime(a, first, 'first feed');
    await prime(a, second, 'second feed');
    await prime(b, second, 'second feed');

    await api(a, 'DELETE', `/providers/${provider.id}/feeds/${first.id}`, [204]);
    // Conditional on B: a cached token would answer 304 here; unconditional on A: 200.
    expectGone(await poll(b, first, { etag }), 'B right after the revoke on A (If-None-Match)');
    expectGone(await poll(a, first), 'A right after its own revoke');
    expectGone(await poll(b, first, { etag, gzip: true }), 'B, gzip accepted');

    await api(b, 'DELETE', `/providers/${provider.id}/feeds/${second.id}`, [204]);
    expectGone(await poll(a, second, { etag }), 'A right after the revoke on B (If-None-Match)');
    expectGone(await poll(b, second), 'B right after its own revoke');
    const head = await request(a, 'HEAD', second.path);
    assert.equal(head.status, 404, 'A, HEAD: 404');
    assert.equal(head.headers['etag'], undefined, 'A, HEAD: no ETag');
  });

  it('when one of two feeds of a provider is revoked, then the other still answers 200 and 304 on both processes', async () => {
    const provider = await newProvider(b, 2);
    const revoked = await newFeed(a, provider.id);
    const kept = await newFeed(b, provider.id);
    const etag = await prime(a, kept, 'kept feed');
    assert.equal(await prime(b, kept, 'kept feed'), etag);
    await prime(a, revoked, 'revoked feed');
    await prime(b, revoked, 'revoked feed');

    await api(a, 'DELETE', `/providers/${provider.id}/feeds/${revoked.id}`, [204]);
    // A cache that dropped the provider (not the one token) must not lose or change the other feed.
    expectNotModified(await poll(b, kept, { etag }), etag, 'B: the kept feed right after the revoke on A');
    expectNotModified(await poll(a, kept, { etag }), etag, 'A: the kept feed right after its own revoke');
    assert.equal(expectCalendar(await poll(b, kept), 'B: the kept feed, unconditional'), etag);
    assert.equal(expectCalendar(await poll(a, kept), 'A: the kept feed, unconditional'), etag);
    expectGone(await poll(b, revoked), 'B: the revoked feed');
    expectGone(await poll(a, revoked), 'A: the revoked feed');
  });

  it('when a change is made through A after B served the feed gzipped (200 and 304), then the next gzip poll to B (and A) gets a fresh gzip body that decodes to the new feed', async () => {
    const provider = await newProvider(a, 2);
    const feed = await newFeed(a, provider.id);
    const session = provider.sessions[0]!;
    const oldGzip = await prime(b, feed, 'gzip', { gzip: true });
    assert.match(oldGzip, /-gzip"$/, 'the gzip body has an ETag of its own');
    assert.equal(await prime(a, feed, 'gzip', { gzip: true }), oldGzip);
    const oldPlain = await prime(b, feed, 'identity');
    const oldRaw = (await poll(b, feed, { gzip: true })).raw;

    await reschedule(a, provider, session, Date.parse(session.start) + 3 * HOUR_MS);

    const onB = await poll(b, feed, { etag: oldGzip, gzip: true });
    const etag = expectCalendar(onB, 'B gzip right after the reschedule on A', { gzip: true });
    assert.notEqual(etag, oldGzip, 'B: the gzip ETag changed');
    assert.match(etag, /-gzip"$/);
    assert.ok(!onB.raw.equals(oldRaw), 'B: not the gzip bytes from before');
    expectAt(onB, session, 'B gzip right after the reschedule on A (decoded)');
    const onA = await poll(a, feed, { gzip: true });
    assert.equal(expectCalendar(onA, 'A gzip right after its own reschedule', { gzip: true }), etag);
    expectAt(onA, session, 'A gzip right after its own reschedule (decoded)');
    // The identity body on B, cached separately, moved too, and decodes to the same text as gzip.
    const plain = await poll(b, feed, { etag: oldPlain });
    assert.notEqual(expectCalendar(plain, 'B identity after the reschedule'), oldPlain);
    assert.equal(plain.text, onB.text, 'gzip and identity carry the same calendar');
  });

  it(`when reschedules and revokes alternate between A and B for ${LOOP_ITERATIONS} rounds, then each is seen by the very next request to the other process and the writer`, async function () {
    this.timeout(60_000);
    const provider = await newProvider(a, 1);
    const session = provider.sessions[0]!;
    const base = Date.parse(session.start);
    const feed = await newFeed(a, provider.id);
    let etagB = await prime(b, feed, 'loop');
    let etagA = await prime(a, feed, 'loop');
    let backgroundPolls = 0;
    for (let i = 0; i < LOOP_ITERATIONS; i++) {
      const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a];
      const round = `round ${i + 1}, written on ${writer.name}`;
      assert.equal(etagA, etagB, `${round}: both processes start from the same feed`);
      const old = etagA;

      // Step 2: reschedule (to a different hour every round), checked with the old ETag; the
      // reader is polled while the write runs, so its cache is as fresh as it can be before it.
      const during = await whilePolling(reader, feed, old, () => reschedule(writer, provider, session, base + ((i % 6) + 1) * HOUR_MS));
      const read = await poll(reader, feed, { etag: old });
      const etag = expectCalendar(read, `${round}: ${reader.name} right after the reschedule`);
      assert.notEqual(etag, old, `${round}: ${reader.name} ETag changed`);
      expectAt(read, session, `${round}: ${reader.name} right after the reschedule`);
      const own = await poll(writer, feed, { etag: old });
      assert.equal(expectCalendar(own, `${round}: ${writer.name} right after its own reschedule`), etag);
      expectAt(own, session, `${round}: ${writer.name} right after its own reschedule`);
      backgroundPolls += await during();
      // Both processes have the new body cached and say so with a 304.
      expectNotModified(await poll(reader, feed, { etag }), etag, `${round}: ${reader.name} revalidating`);
      expectNotModified(await poll(writer, feed, { etag }), etag, `${round}: ${writer.name} revalidating`);
      etagA = etagB = etag;

      // Step 6: a feed made on the writer is served by the reader at once; revoked on the writer,
      // it is gone on the reader at once, after both served it 200 and 304.
      const extra = await newFeed(writer, provider.id);
      assert.equal(expectCalendar(await poll(reader, extra), `${round}: ${reader.name} first poll of a new feed`), etag);
      expectNotModified(await poll(reader, extra, { etag }), etag, `${round}: ${reader.name} revalidating the new feed`);
      await prime(writer, extra, `${round}: new feed`);
      const revoking = await whilePolling(reader, extra, etag, async () => {
        await api(writer, 'DELETE', `/providers/${provider.id}/feeds/${extra.id}`, [204]);
      });
      expectGone(await poll(reader, extra, { etag }), `${round}: ${reader.name} right after the revoke`);
      expectGone(await poll(writer, extra), `${round}: ${writer.name} right after its own revoke`);
      backgroundPolls += await revoking();
    }
    // The long-lived feed kept working through it all.
    expectNotModified(await poll(a, feed, { etag: etagA }), etagA, 'A: the feed after the loop');
    expectNotModified(await poll(b, feed, { etag: etagB }), etagB, 'B: the feed after the loop');
    // Each write overlapped at least one poll of the other process (the first starts before it).
    assert.ok(backgroundPolls >= 2 * LOOP_ITERATIONS, `polls during the writes: ${backgroundPolls}`);
  });
});
