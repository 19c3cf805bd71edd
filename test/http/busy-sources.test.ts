import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createIcsReader, type IcsReader } from '../../busy/index.js';
import { createBusyService } from '../../src/app.js';
import { seedProvider } from '../support/seed.js';
import { createSyncHarness, googleVendor, type SyncHarness, type VendorRig } from '../support/sync-harness.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

// A provider's other calendar read as busy time, end to end: the API, the guarded fetch against a
// local calendar server (allowed by BUSY_ALLOW_HOSTS' mechanism, as the only private host), the
// ICS reading, the store, the merged busy answer and the warning on a session written over it.

const SECRET = 'private-8f2a9c1d7e';
const TITLE = 'Dentist with Dr Who';

/** A small calendar as Google exports one, times in UTC. */
function calendar(events: readonly [start: string, end: string][]): string {
  const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Google Inc//Google Calendar 70.9054//EN', 'X-WR-CALNAME:ada@example.com'];
  events.forEach(([start, end], i) => {
    lines.push('BEGIN:VEVENT', `DTSTART:${start}`, `DTEND:${end}`, `UID:e${i}@google.com`, 'DTSTAMP:20261101T000000Z', `SUMMARY:${TITLE}`, 'LOCATION:12 Harley Street', 'END:VEVENT');
  });
  lines.push('END:VCALENDAR');
  return `${lines.join('\r\n')}\r\n`;
}

interface CalendarServer {
  base: string;
  requests: { path: string; ifNoneMatch: string | undefined }[];
  /** What the next requests get. */
  answer: { status: number; body: string; etag: string };
  close(): Promise<void>;
}

async function calendarServer(): Promise<CalendarServer> {
  const state: CalendarServer = {
    base: '',
    requests: [],
    answer: { status: 200, body: calendar([['20261103T150000Z', '20261103T160000Z']]), etag: '"v1"' },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = http.createServer((req, res) => {
    state.requests.push({ path: req.url ?? '', ifNoneMatch: req.headers['if-none-match'] });
    const { status, body, etag } = state.answer;
    if (status === 200 && req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ETag: etag }).end();
      return;
    }
    res.writeHead(status, { 'Content-Type': 'text/calendar', ETag: etag }).end(status === 200 ? body : 'oops');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

describe('HTTP: busy sources', () => {
  let t: TestApp;
  let cal: CalendarServer;
  let url: string;
  let reader: IcsReader;
  beforeEach(async () => {
    cal = await calendarServer();
    url = `${cal.base}/calendar/ical/ada%40example.com/${SECRET}/basic.ics`;
    const host = new URL(cal.base).host;
    reader = createIcsReader({ allowHosts: new Set([host]), maxBytes: 1024 * 1024, uidDomain: 'sync.example.test' });
    t = await createTestApp({ now: '2026-11-02T12:00:00.000Z', busy: { ics: reader, refreshMinutes: 15 } });
    await seedProvider(t);
  });
  afterEach(async () => {
    await t.close();
    await cal.close();
  });

  const putSource = (id: string, body: unknown) => t.platform.put(`/api/v1/providers/p1/busy-sources/${id}`, body);
  const refresh = (id: string) => t.platform.post(`/api/v1/providers/p1/busy-sources/${id}/refresh`);
  const busy = (from: string, to: string) => t.platform.get(`/api/v1/providers/p1/busy?from=${from}&to=${to}`);

  it('when an ICS address is added, then it is pending, shows its host only, and is sealed at rest', async () => {
    const res = await putSource('personal', { kind: 'ics', url });
    assert.equal(res.status, 201);
    assert.deepEqual(
      { ...res.body, createdAt: undefined, updatedAt: undefined },
      { id: 'personal', kind: 'ics', host: new URL(cal.base).host, status: 'pending', lastFetchedAt: null, lastError: null, intervals: 0, createdAt: undefined, updatedAt: undefined },
    );
    const stored = await t.store.getBusySource('p1', 'personal');
    assert.ok(stored?.urlSealed);
    assert.ok(!JSON.stringify(stored).includes(SECRET), 'the address is not stored in the clear');
    const list = await t.platform.get('/api/v1/providers/p1/busy-sources');
    assert.deepEqual(list.body.busySources.map((s: { id: string }) => s.id), ['personal']);
    assert.ok(!JSON.stringify(list.body).includes(SECRET));
  });

  it('when it is read, then its busy time is answered merged, in UTC, with its source, and nothing of the events is kept', async () => {
    await putSource('personal', { kind: 'ics', url });
    const read = await refresh('personal');
    assert.equal(read.status, 200);
    assert.equal(read.body.status, 'ok');
    assert.equal(read.body.intervals, 1);
    assert.equal(read.body.lastFetchedAt, '2026-11-02T12:00:00.000Z');
    const res = await busy('2026-11-01T00:00:00Z', '2026-11-10T00:00:00Z');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { busy: [{ start: '2026-11-03T15:00:00.000Z', end: '2026-11-03T16:00:00.000Z', sourceIds: ['personal'] }] });
    const everything = JSON.stringify([read.body, res.body, await t.store.listBusyIntervals('p1', '2026-01-01T00:00:00Z', '2028-01-01T00:00:00Z'), t.rawLogs]);
    for (const secret of [TITLE, 'Harley', SECRET, 'e0@google.com']) assert.ok(!everything.includes(secret), `${secret} leaked`);
  });

  it('when it is read again unchanged, then the request is conditional and the busy time stays', async () => {
    await putSource('personal', { kind: 'ics', url });
    await refresh('personal');
    const again = await refresh('personal');
    assert.equal(again.body.status, 'ok');
    assert.equal(cal.requests.at(-1)?.ifNoneMatch, '"v1"');
    assert.equal((await busy('2026-11-01T00:00:00Z', '2026-11-10T00:00:00Z')).body.busy.length, 1);
  });

  it('when the calendar server fails, then the source says so with a code and the last busy time stays', async () => {
    await putSource('personal', { kind: 'ics', url });
    await refresh('personal');
    cal.answer = { ...cal.answer, status: 500, etag: '"v2"' };
    const failed = await refresh('personal');
    assert.equal(failed.body.status, 'error');
    assert.equal(failed.body.lastError, 'SOURCE_HTTP_500');
    assert.equal((await busy('2026-11-01T00:00:00Z', '2026-11-10T00:00:00Z')).body.busy.length, 1);
  });

  it('when a session is written over busy time, then it is accepted with a BUSY_CONFLICT warning; beside it, without', async () => {
    await putSource('personal', { kind: 'ics', url });
    await refresh('personal');
    const over = await t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-03T15:30:00Z', durationMinutes: 50 });
    assert.equal(over.status, 201);
    assert.deepEqual(
      over.body.warnings.filter((w: unknown) => typeof w === 'object'),
      [{ code: 'BUSY_CONFLICT', message: over.body.warnings.find((w: unknown) => typeof w === 'object').message, from: '2026-11-03T15:30:00.000Z', to: '2026-11-03T16:00:00.000Z', sourceIds: ['personal'] }],
    );
    const beside = await t.platform.put('/api/v1/providers/p1/sessions/s2', { start: '2026-11-03T16:30:00Z', durationMinutes: 50 });
    assert.equal(beside.status, 201);
    assert.deepEqual(beside.body.warnings.filter((w: unknown) => typeof w === 'object'), []);
  });

  it('when a source is removed, then its busy time goes with it, and removing it again is a 404', async () => {
    await putSource('personal', { kind: 'ics', url });
    await refresh('personal');
    assert.equal((await t.platform.delete('/api/v1/providers/p1/busy-sources/personal')).status, 204);
    assert.deepEqual((await busy('2026-11-01T00:00:00Z', '2026-11-10T00:00:00Z')).body.busy, []);
    const again = await t.platform.delete('/api/v1/providers/p1/busy-sources/personal');
    assert.equal(again.status, 404);
    assert.equal(again.body.error.code, 'BUSY_SOURCE_NOT_FOUND');
  });

  it('when the address is another one, then what was read from the old one is dropped', async () => {
    await putSource('personal', { kind: 'ics', url });
    await refresh('personal');
    const moved = await putSource('personal', { kind: 'ics', url: `${url}?v=2` });
    assert.equal(moved.status, 200);
    assert.equal(moved.body.status, 'pending');
    assert.deepEqual((await busy('2026-11-01T00:00:00Z', '2026-11-10T00:00:00Z')).body.busy, []);
  });

  for (const [name, body, field] of [
    ['a private host not allowed', { kind: 'ics', url: 'https://10.0.0.7/cal.ics' }, 'url'],
    ['the metadata address', { kind: 'ics', url: 'https://169.254.169.254/latest/meta-data' }, 'url'],
    ['an IPv6 loopback', { kind: 'ics', url: 'https://[::1]:8443/cal.ics' }, 'url'],
    ['plain http to a public host', { kind: 'ics', url: 'http://calendar.example.com/cal.ics' }, 'url'],
    ['credentials in the address', { kind: 'ics', url: 'https://user:pw@calendar.example.com/cal.ics' }, 'url'],
    ['an unknown kind', { kind: 'caldav', url: 'https://calendar.example.com/' }, 'kind'],
    ['an unknown key', { kind: 'ics', url: 'https://calendar.example.com/cal.ics', label: 'x' }, 'label'],
  ] as const) {
    it(`when the source has ${name}, then 400 names ${field} and nothing is stored`, async () => {
      const res = await putSource('bad', body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.ok(JSON.stringify(res.body.error.details).includes(field), JSON.stringify(res.body));
      assert.equal(await t.store.getBusySource('p1', 'bad'), null);
    });
  }

  it('when a connected calendar is asked for that the provider does not have, then 404 CONNECTION_NOT_FOUND and nothing is stored', async () => {
    const res = await putSource('work', { kind: 'connection', connectionId: 'c1' });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'CONNECTION_NOT_FOUND');
    assert.equal(await t.store.getBusySource('p1', 'work'), null);
  });

  it('when busy time is asked for over more than 90 days, or without a window, then 400 names the field', async () => {
    const long = await busy('2026-11-01T00:00:00Z', '2027-02-01T00:00:00Z');
    assert.equal(long.status, 400);
    assert.equal(long.body.error.details[0].path, 'to');
    const missing = await t.platform.get('/api/v1/providers/p1/busy?to=2026-11-10T00:00:00Z');
    assert.equal(missing.status, 400);
    assert.ok(JSON.stringify(missing.body.error.details).includes('from'));
  });

  it('when sources are due, then a worker round reads each once, and again BUSY_REFRESH_MINUTES later', async () => {
    const worker = createBusyService({ store: t.store, clock: t.clock, logger: t.logger, uidDomain: 'sync.example.test', secrets: t.secrets, busy: { ics: reader, refreshMinutes: 15 } });
    await putSource('personal', { kind: 'ics', url });
    assert.equal(await worker.refreshDue(10), 1);
    assert.equal((await t.store.getBusySource('p1', 'personal'))?.status, 'ok');
    assert.equal(await worker.refreshDue(10), 0, 'not due again yet');
    t.clock.advance(15 * 60_000);
    assert.equal(await worker.refreshDue(10), 1);
    assert.equal(cal.requests.length, 2);
  });

  it('when our own events are in the calendar, then they are not busy time again', async () => {
    cal.answer = {
      ...cal.answer,
      body: calendar([['20261103T150000Z', '20261103T160000Z']]).replace('UID:e0@google.com', 'UID:p1.s9@sync.example.test'),
    };
    await putSource('personal', { kind: 'ics', url });
    assert.equal((await refresh('personal')).body.intervals, 0);
  });

  it('when the provider does not exist, then 404', async () => {
    assert.equal((await t.platform.put('/api/v1/providers/nobody/busy-sources/x', { kind: 'ics', url })).status, 404);
    assert.equal((await t.platform.get('/api/v1/providers/nobody/busy?from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z')).status, 404);
  });
});

describe('HTTP: busy sources from a connected calendar', () => {
  let h: SyncHarness;
  let google: VendorRig;
  let cal: CalendarServer;
  let url: string;
  let reader: IcsReader;
  let connectionId: string;
  beforeEach(async () => {
    cal = await calendarServer();
    url = `${cal.base}/calendar/ical/ada%40example.com/${SECRET}/basic.ics`;
    reader = createIcsReader({ allowHosts: new Set([new URL(cal.base).host]), maxBytes: 1024 * 1024, uidDomain: 'sync.example.test' });
    h = await createSyncHarness([googleVendor], { busy: { ics: reader, refreshMinutes: 15 } });
    google = h.vendors[0]!;
    await seedProvider(h.t);
    connectionId = await h.connect(google);
  });
  afterEach(async () => {
    await h.close();
    await cal.close();
  });

  const putSource = (id: string, body: unknown) => h.t.platform.put(`/api/v1/providers/p1/busy-sources/${id}`, body);
  const refresh = (id: string) => h.t.platform.post(`/api/v1/providers/p1/busy-sources/${id}/refresh`);
  const busy = () => h.t.platform.get('/api/v1/providers/p1/busy?from=2026-11-01T00:00:00Z&to=2026-11-10T00:00:00Z');
  const googleReads = () => google.fake.requestCount('list');

  it('when an ICS source and a connected Google calendar are read by a worker round, then busy time is merged with both sources, and nothing of the events is kept', async () => {
    // The ICS calendar is busy 15:00-16:00 on 3 November; the Google one overlaps it and has another event.
    google.fake.addUntaggedEvent('primary', TITLE, '2026-11-03T15:30:00.000Z', '2026-11-03T16:30:00.000Z');
    google.fake.addUntaggedEvent('primary', TITLE, '2026-11-04T15:00:00.000Z', '2026-11-04T16:00:00.000Z');
    assert.equal((await putSource('personal', { kind: 'ics', url })).status, 201);
    const added = await putSource('work', { kind: 'connection', connectionId });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.deepEqual([added.body.kind, added.body.connectionId, added.body.status], ['connection', connectionId, 'pending']);

    const worker = createBusyService({ store: h.t.store, clock: h.t.clock, logger: h.t.logger, uidDomain: 'sync.example.test', secrets: h.t.secrets, busy: { ics: reader, refreshMinutes: 15 }, connectors: new Map([[google.kind, google.connector]]) });
    assert.equal(await worker.refreshDue(10), 2);

    const work = await h.t.store.getBusySource('p1', 'work');
    assert.deepEqual([work?.status, work?.lastErrorCode, work?.intervalCount], ['ok', null, 2]);
    const res = await busy();
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.busy, [
      { start: '2026-11-03T15:00:00.000Z', end: '2026-11-03T16:30:00.000Z', sourceIds: ['personal', 'work'] },
      { start: '2026-11-04T15:00:00.000Z', end: '2026-11-04T16:00:00.000Z', sourceIds: ['work'] },
    ]);
    const everything = JSON.stringify([res.body, await h.t.store.listBusySources('p1'), await h.t.store.listBusyIntervals('p1', '2026-01-01T00:00:00Z', '2028-01-01T00:00:00Z'), h.t.rawLogs]);
    assert.ok(!everything.includes(TITLE), 'no title is kept or logged');
    assert.equal(await worker.refreshDue(10), 0, 'not due again yet');
  });

  it('when a session is written over the connected calendar\'s busy time, then it is accepted with a BUSY_CONFLICT naming that source', async () => {
    google.fake.addUntaggedEvent('primary', TITLE, '2026-11-04T15:00:00.000Z', '2026-11-04T16:00:00.000Z');
    await putSource('work', { kind: 'connection', connectionId });
    assert.equal((await refresh('work')).body.status, 'ok');

    const over = await h.t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-04T15:30:00Z', durationMinutes: 50 });

    assert.equal(over.status, 201);
    const conflicts = over.body.warnings.filter((w: unknown) => typeof w === 'object').map(({ message: _message, ...rest }: { message: string }) => rest);
    assert.deepEqual(conflicts, [{ code: 'BUSY_CONFLICT', from: '2026-11-04T15:30:00.000Z', to: '2026-11-04T16:00:00.000Z', sourceIds: ['work'] }]);
  });

  it('when the sessions we pushed are in that calendar, then they are not busy time again', async () => {
    assert.equal((await h.t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-05T15:00:00Z', durationMinutes: 50 })).status, 201);
    await h.settle();
    assert.equal(h.live(google).length, 1, 'the session was pushed to Google');
    await putSource('work', { kind: 'connection', connectionId });

    const read = await refresh('work');

    assert.deepEqual([read.body.status, read.body.intervals], ['ok', 0]);
  });

  it('when that Google calendar is also added by its secret ICS address, then the sessions we pushed there are not busy time in it', async () => {
    assert.equal((await h.t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-05T15:00:00Z', durationMinutes: 50 })).status, 201);
    await h.settle();
    const [pushed] = h.live(google);
    assert.ok(pushed?.id);
    // Google exports an event made with a client-chosen id under <id>@google.com.
    cal.answer = {
      ...cal.answer,
      body: calendar([['20261105T150000Z', '20261105T155000Z'], ['20261106T150000Z', '20261106T160000Z']]).replace('UID:e0@google.com', `UID:${pushed.id}@google.com`),
    };
    await putSource('google-ics', { kind: 'ics', url });

    const read = await refresh('google-ics');

    assert.deepEqual([read.body.status, read.body.intervals], ['ok', 1]);
    assert.deepEqual((await busy()).body.busy, [{ start: '2026-11-06T15:00:00.000Z', end: '2026-11-06T16:00:00.000Z', sourceIds: ['google-ics'] }]);
  });

  it('when the grant is gone (invalid_grant), then the connection needs re-authorisation, the source says so, the last busy time stays, and Google is not asked again', async () => {
    google.fake.addUntaggedEvent('primary', TITLE, '2026-11-04T15:00:00.000Z', '2026-11-04T16:00:00.000Z');
    await putSource('work', { kind: 'connection', connectionId });
    await refresh('work');
    google.fake.expireAccessTokens();
    google.fake.revokeGrants();

    const failed = await refresh('work');

    assert.equal(failed.status, 200);
    assert.deepEqual([failed.body.status, failed.body.lastError, failed.body.intervals], ['error', 'CONNECTION_NEEDS_REAUTH', 1]);
    const connection = await h.t.store.getConnection(connectionId);
    assert.deepEqual([connection?.status, connection?.lastErrorCode], ['needs_reauth', 'INVALID_GRANT']);
    assert.equal((await busy()).body.busy.length, 1, 'stale busy time hides a slot rather than offering a taken one');
    const before = googleReads();
    const again = await refresh('work');
    assert.deepEqual([again.body.status, again.body.lastError], ['error', 'CONNECTION_NEEDS_REAUTH']);
    assert.equal(googleReads(), before, 'a connection that is not active is not read');
  });

  it('when Google fails for a while, then the source says why with a SOURCE_ code and the connection stays active', async () => {
    await putSource('work', { kind: 'connection', connectionId });
    google.fake.inject({ operation: 'list', status: 503 });

    const failed = await refresh('work');

    assert.deepEqual([failed.body.status, failed.body.lastError], ['error', 'SOURCE_HTTP_503']);
    assert.equal((await h.t.store.getConnection(connectionId))?.status, 'active');
  });

  it('when the connection is not the provider\'s, or was disconnected, then 404 CONNECTION_NOT_FOUND', async () => {
    await seedProvider(h.t, { providerId: 'p2' });
    const other = await h.t.platform.put(`/api/v1/providers/p2/busy-sources/work`, { kind: 'connection', connectionId });
    assert.deepEqual([other.status, other.body.error.code], [404, 'CONNECTION_NOT_FOUND']);

    assert.equal((await h.t.platform.delete(`/api/v1/providers/p1/connections/${connectionId}`)).status, 202);
    const going = await putSource('work', { kind: 'connection', connectionId });
    assert.deepEqual([going.status, going.body.error.code], [404, 'CONNECTION_NOT_FOUND'], 'a calendar being disconnected is no source');
    await h.settle();
    const gone = await putSource('work', { kind: 'connection', connectionId });
    assert.deepEqual([gone.status, gone.body.error.code], [404, 'CONNECTION_NOT_FOUND']);
  });

  it('when the same connection is put again, then what was read stays; another source kind starts over', async () => {
    google.fake.addUntaggedEvent('primary', TITLE, '2026-11-04T15:00:00.000Z', '2026-11-04T16:00:00.000Z');
    await putSource('work', { kind: 'connection', connectionId });
    await refresh('work');

    const same = await putSource('work', { kind: 'connection', connectionId });
    assert.deepEqual([same.status, same.body.status, same.body.intervals], [200, 'ok', 1]);

    const moved = await putSource('work', { kind: 'ics', url });
    assert.deepEqual([moved.status, moved.body.status, moved.body.intervals], [200, 'pending', 0]);
    assert.deepEqual((await busy()).body.busy, []);
  });
});
