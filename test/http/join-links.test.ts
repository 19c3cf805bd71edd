import assert from 'node:assert/strict';
import { joinLinksFor } from '../../src/app.js';
import type { JoinLinks } from '../../src/domain/index.js';
import { CLIENT, seedProvider, VIDEO_INSTRUCTIONS, VIDEO_URL } from '../support/seed.js';
import { createTestApp, PUBLIC_BASE_URL, type TestApp } from '../support/test-app.js';

// Sessions used below: 2026-11-10 10:00-10:50 in the provider's zone unless a test says otherwise.
const HOUR = 3_600_000;

describe('HTTP: stable join links (/j/<token>)', () => {
  let t: TestApp;
  let links: JoinLinks;

  async function setUp(options: { timezone?: string; joinLink?: 'stable' | 'direct' } = {}) {
    t = await createTestApp({ now: '2026-11-02T12:00:00.000Z' });
    links = joinLinksFor(t.secrets, PUBLIC_BASE_URL);
    await seedProvider(t, { joinLink: options.joinLink ?? 'stable', ...(options.timezone ? { timezone: options.timezone } : {}) });
  }
  afterEach(async () => t.close());

  async function putSession(id: string, start: string, extra: Record<string, unknown> = {}) {
    const res = await t.platform.put(`/api/v1/providers/p1/sessions/${id}`, { start, durationMinutes: 50, client: CLIENT, ...extra });
    assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body));
    return res.body as { start: string; end: string };
  }
  const joinPath = (id: string) => new URL(links.url({ providerId: 'p1', id })).pathname;
  const open = (id: string) => t.platform.get(joinPath(id)).redirects(0);

  function assertJoinHeaders(res: { headers: Record<string, string | undefined> }) {
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    assert.equal(res.headers['x-robots-tag'], 'noindex');
    assert.match(res.headers['content-security-policy'] ?? '', /default-src 'none'/);
  }
  function assertNoClient(text: string) {
    for (const part of [CLIENT.firstName, CLIENT.lastName, CLIENT.id]) assert.ok(!text.includes(part), `page names the client (${part})`);
  }

  describe('the join window', () => {
    for (const zone of ['America/New_York', 'Asia/Kolkata']) {
      it(`when clicked exactly JOIN_OPENS_MINUTES before, one ms before, at the end and after it (${zone}), then only the window redirects`, async () => {
        await setUp({ timezone: zone });
        const s = await putSession('s1', zone === 'Asia/Kolkata' ? '2026-11-10T10:00:00+05:30' : '2026-11-10T10:00:00-05:00');
        const startMs = Date.parse(s.start);
        const endMs = Date.parse(s.end);

        t.clock.set(new Date(startMs - HOUR - 1).toISOString());
        const early = await open('s1').expect(200);
        assertJoinHeaders(early);
        assert.match(early.text, /10:00/);
        assert.match(early.text, /The room opens/);
        assert.match(early.text, /Dr\. Ada Byron/);
        assertNoClient(early.text);

        t.clock.set(new Date(startMs - HOUR).toISOString());
        const first = await open('s1').expect(302);
        assertJoinHeaders(first);
        assert.equal(first.headers.location, VIDEO_URL);

        t.clock.set(new Date(endMs - 1).toISOString());
        assert.equal((await open('s1').expect(302)).headers.location, VIDEO_URL);

        t.clock.set(new Date(endMs).toISOString());
        const ended = await open('s1').expect(200);
        assert.match(ended.text, /has ended/);
        t.clock.set(new Date(endMs + HOUR).toISOString());
        assert.match((await open('s1').expect(200)).text, /has ended/);
      });
    }

    it('when a session sits on the day clocks fall back (2026-11-01, America/New_York), then the window is an hour of real time before the start', async () => {
      await setUp();
      // 01:30 EST, the second 01:30 of that night; the window opens at 00:30 EST = 01:30 EDT.
      const s = await putSession('dst', '2026-11-01T01:30:00-05:00');
      const startMs = Date.parse(s.start);
      t.clock.set(new Date(startMs - HOUR - 1).toISOString());
      const early = await open('dst').expect(200);
      assert.match(early.text, /1:30/);
      assert.match(early.text, /EST/);
      assert.match(early.text, /opens Sunday, November 1(?: at|,) 1:30\s?AM EDT/);
      t.clock.set(new Date(startMs - HOUR).toISOString());
      await open('dst').expect(302);
    });
  });

  it('when the session is rescheduled after the link was shared, then the same link shows the new time and opens at the new time', async () => {
    await setUp();
    await putSession('s1', '2026-11-10T10:00:00-05:00');
    const s = await putSession('s1', '2026-11-12T15:00:00-05:00');
    t.clock.set('2026-11-10T15:05:00.000Z'); // inside the old window
    const page = await open('s1').expect(200);
    assert.match(page.text, /Thursday, November 12, 2026, 3:00/);
    assert.match(page.text, new RegExp(`href="${joinPath('s1')}"`));
    t.clock.set(new Date(Date.parse(s.start) - 10 * 60_000).toISOString());
    await open('s1').expect(302);
  });

  it('when the session is cancelled, then a page says so and never sends to the room, even inside the window', async () => {
    await setUp();
    await putSession('s1', '2026-11-10T10:00:00-05:00', { status: 'cancelled' });
    t.clock.set('2026-11-10T15:05:00.000Z');
    const res = await open('s1').expect(200);
    assertJoinHeaders(res);
    assert.match(res.text, /cancelled/);
    assert.ok(!res.text.includes(VIDEO_URL));
    assertNoClient(res.text);
  });

  it('when the session was deleted, then the answer is byte for byte the 404 of an unknown token', async () => {
    await setUp();
    await putSession('s1', '2026-11-10T10:00:00-05:00');
    await t.platform.delete('/api/v1/providers/p1/sessions/s1').expect(204);
    t.clock.set('2026-11-10T15:05:00.000Z');
    const deleted = await open('s1').expect(404);
    const unknown = await t.platform.get(`/j/${'A'.repeat(32)}`).expect(404);
    const junk = await t.platform.get('/j/not-a-token').expect(404);
    assertJoinHeaders(deleted);
    assert.equal(deleted.text, unknown.text);
    assert.equal(deleted.text, junk.text);
    assert.match(deleted.text, /cancelled/);
    assert.equal(deleted.headers['content-type'], unknown.headers['content-type']);
  });

  it('when the provider has left (offboarded), then a link inside the window answers the 404 of an unknown token, never the room', async () => {
    await setUp();
    await putSession('s1', '2026-11-10T10:00:00-05:00');
    t.clock.set('2026-11-10T15:05:00.000Z');
    await open('s1').expect(302);
    await t.platform.post('/api/v1/providers/p1/offboard', {}).expect(200);
    const left = await open('s1').expect(404);
    const unknown = await t.platform.get(`/j/${'A'.repeat(32)}`).expect(404);
    assert.equal(left.text, unknown.text);
    assert.ok(!left.text.includes(VIDEO_URL));
  });

  it('when the location link changes, then an old join link redirects to the new room at once', async () => {
    await setUp();
    await putSession('s1', '2026-11-10T10:00:00-05:00');
    t.clock.set('2026-11-10T15:05:00.000Z');
    assert.equal((await open('s1').expect(302)).headers.location, VIDEO_URL);
    await t.platform
      .put('/api/v1/providers/p1/locations/video', { kind: 'virtual', name: 'Video', url: 'https://doxy.me/drbyron-new', instructions: VIDEO_INSTRUCTIONS, waitingRoom: true, isDefault: true })
      .expect(200);
    assert.equal((await open('s1').expect(302)).headers.location, 'https://doxy.me/drbyron-new');
  });

  it('when join links are opened in every state, then the database is left as it was', async () => {
    await setUp();
    await putSession('s1', '2026-11-10T10:00:00-05:00');
    await putSession('s2', '2026-11-10T12:00:00-05:00', { status: 'cancelled' });
    const snapshot = async () =>
      JSON.stringify([await t.store.getProvider('p1'), await t.store.listSessions('p1'), await t.store.listLocations('p1'), await t.store.listFeeds('p1'), await t.store.listSessionsWithoutJoinToken('p1')]);
    const before = await snapshot();
    for (const at of ['2026-11-02T12:00:00.000Z', '2026-11-10T15:05:00.000Z', '2026-11-11T00:00:00.000Z']) {
      t.clock.set(at);
      await open('s1');
      await open('s2');
      await t.platform.get(`/j/${'B'.repeat(32)}`);
    }
    assert.equal(await snapshot(), before);
  });

  describe('what calendars carry', () => {
    async function feedText(): Promise<string> {
      const created = await t.platform.post('/api/v1/providers/p1/feeds', {}).expect(201);
      return (await t.platform.get(new URL(created.body.url as string).pathname).expect(200)).text.replace(/\r\n[ \t]/g, '');
    }

    it('when the provider is on stable, then the feed and the invite carry the /j/ link and not the room', async () => {
      await setUp();
      await putSession('s1', '2026-11-10T10:00:00-05:00');
      const url = links.url({ providerId: 'p1', id: 's1' });
      const feed = await feedText();
      assert.ok(feed.includes(`LOCATION:${url}`));
      assert.ok(feed.includes(`URL:${url}`) || feed.includes(`URL;VALUE=URI:${url}`));
      assert.ok(feed.includes(`Join: ${url}`));
      assert.ok(!feed.includes(VIDEO_URL));
      const invite = await t.platform.get('/api/v1/providers/p1/sessions/s1/invite.ics').expect(200);
      assert.ok(invite.text.replace(/\r\n[ \t]/g, '').includes(url));
    });

    it('when the provider is on direct, then the feed carries the raw link, and switching to stable re-renders with a higher SEQUENCE', async () => {
      await setUp({ joinLink: 'direct' });
      await putSession('s1', '2026-11-10T10:00:00-05:00');
      const direct = await feedText();
      assert.ok(direct.includes(`LOCATION:${VIDEO_URL}`));
      assert.match(direct, /SEQUENCE:0/);
      const res = await t.platform.put('/api/v1/providers/p1', { name: 'Dr. Ada Byron', timezone: 'America/New_York', joinLink: 'stable' }).expect(200);
      assert.equal(res.body.joinLink, 'stable');
      const stable = await feedText();
      assert.ok(stable.includes(`LOCATION:${links.url({ providerId: 'p1', id: 's1' })}`));
      assert.match(stable, /SEQUENCE:1/);
      t.clock.set('2026-11-10T15:05:00.000Z');
      assert.equal((await open('s1').expect(302)).headers.location, VIDEO_URL);
    });

    it('when a provider is created without joinLink, then it is stable, and a later PUT without it keeps the setting', async () => {
      t = await createTestApp();
      const created = await t.platform.put('/api/v1/providers/p9', { name: 'Dr. Nine', timezone: 'America/New_York' }).expect(201);
      assert.equal(created.body.joinLink, 'stable');
      await t.platform.put('/api/v1/providers/p9', { name: 'Dr. Nine', timezone: 'America/New_York', joinLink: 'direct' }).expect(200);
      const renamed = await t.platform.put('/api/v1/providers/p9', { name: 'Dr. 9', timezone: 'America/New_York' }).expect(200);
      assert.equal(renamed.body.joinLink, 'direct');
    });
  });
});
