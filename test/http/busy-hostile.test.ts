import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createIcsReader } from '../../busy/index.js';
import { createBusyService } from '../../src/app.js';
import { seedProvider } from '../support/seed.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

// Hostile and broken calendars behind a busy source: each sends the source to `error` with a
// code (or reads what is sound in it), the process keeps serving, and other sources are unaffected.

const GOOD = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'BEGIN:VEVENT', 'UID:a@example.com', 'DTSTART:20261103T150000Z', 'DTEND:20261103T160000Z', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');

type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function server(routes: Record<string, Route>): Promise<{ base: string; host: string; close(): Promise<void> }> {
  const s = http.createServer((req, res) => {
    const route = routes[req.url ?? ''];
    if (route === undefined) res.writeHead(404).end();
    else route(req, res);
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      }),
  };
}

describe('HTTP: hostile busy sources', () => {
  let t: TestApp;
  let cal: Awaited<ReturnType<typeof server>>;
  let elsewhere: Awaited<ReturnType<typeof server>>;
  const MAX_BYTES = 1024 * 1024;

  beforeEach(async () => {
    // Another local server that is NOT allowed: a redirect there must be refused.
    elsewhere = await server({ '/cal.ics': (_req, res) => res.writeHead(200, { 'Content-Type': 'text/calendar' }).end(GOOD) });
    cal = await server({
      '/good.ics': (_req, res) => res.writeHead(200, { 'Content-Type': 'text/calendar' }).end(GOOD),
      '/garbage.ics': (_req, res) => res.writeHead(200).end('\u0000\u0001<html>not a calendar</html>'),
      '/truncated.ics': (_req, res) => res.writeHead(200).end(GOOD.slice(0, GOOD.indexOf('END:VEVENT')) + 'BEGIN:VEV'),
      '/huge.ics': (_req, res) => {
        // 50 MB, streamed without a Content-Length, as a hostile server would.
        res.writeHead(200, { 'Content-Type': 'text/calendar' });
        const line = Buffer.from(`BEGIN:VCALENDAR\r\n${'X-PAD:'.padEnd(1022, 'x')}\r\n`);
        let sent = 0;
        const pump = () => {
          while (sent < 50 * 1024 * 1024) {
            sent += line.length;
            if (!res.write(line)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('error', () => undefined);
        pump();
      },
      '/endless.ics': (_req, res) =>
        res.writeHead(200).end(['BEGIN:VCALENDAR', 'VERSION:2.0', 'BEGIN:VEVENT', 'UID:r@example.com', 'DTSTART:20000101T090000Z', 'DURATION:PT30M', 'RRULE:FREQ=DAILY', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n')),
      '/to-loopback.ics': (_req, res) => res.writeHead(302, { Location: `${elsewhere.base}/cal.ics` }).end(),
      '/to-metadata.ics': (_req, res) => res.writeHead(302, { Location: 'http://169.254.169.254/latest/meta-data/' }).end(),
      // https, so the scheme passes and the address check is what refuses them.
      '/to-loopback-https.ics': (_req, res) => res.writeHead(302, { Location: `https://${elsewhere.host}/cal.ics` }).end(),
      '/to-metadata-https.ics': (_req, res) => res.writeHead(307, { Location: 'https://169.254.169.254/latest/meta-data/' }).end(),
    });
    const lookup = async (hostname: string) => (hostname === 'calendar.example.com' ? [{ address: '10.1.2.3', family: 4 }] : [{ address: '93.184.215.14', family: 4 }]);
    const reader = createIcsReader({ allowHosts: new Set([cal.host]), maxBytes: MAX_BYTES, uidDomain: 'sync.example.test', lookup });
    t = await createTestApp({ now: '2026-11-02T12:00:00.000Z', busy: { ics: reader, refreshMinutes: 15 } });
    await seedProvider(t);
  });
  afterEach(async () => {
    await t.close();
    await cal.close();
    await elsewhere.close();
  });

  const add = async (id: string, url: string) => assert.equal((await t.platform.put(`/api/v1/providers/p1/busy-sources/${id}`, { kind: 'ics', url })).status, 201);
  const refresh = async (id: string) => (await t.platform.post(`/api/v1/providers/p1/busy-sources/${id}/refresh`)).body as { status: string; lastError: string | null; intervals: number };

  for (const [name, path, expected] of [
    ['garbage', '/garbage.ics', { status: 'error', lastError: 'SOURCE_NOT_CALENDAR' }],
    ['a 50 MB body', '/huge.ics', { status: 'error', lastError: 'SOURCE_TOO_LARGE' }],
    ['a redirect to a loopback port not allowed', '/to-loopback.ics', { status: 'error', lastError: 'INVALID_SOURCE_URL' }],
    ['a redirect to the metadata address', '/to-metadata.ics', { status: 'error', lastError: 'INVALID_SOURCE_URL' }],
    ['an https redirect to a loopback port not allowed', '/to-loopback-https.ics', { status: 'error', lastError: 'SOURCE_BLOCKED_ADDRESS' }],
    ['an https redirect to the metadata address', '/to-metadata-https.ics', { status: 'error', lastError: 'SOURCE_BLOCKED_ADDRESS' }],
  ] as const) {
    it(`when a source answers ${name}, then it goes to error with ${expected.lastError}, the good source beside it reads, and the API keeps serving`, async () => {
      await add('good', `${cal.base}/good.ics`);
      await add('bad', `${cal.base}${path}`);
      const worker = createBusyService({ store: t.store, clock: t.clock, logger: t.logger, uidDomain: 'sync.example.test', secrets: t.secrets, busy: { ics: createIcsReader({ allowHosts: new Set([cal.host]), maxBytes: MAX_BYTES, uidDomain: 'sync.example.test' }), refreshMinutes: 15 } });
      assert.equal(await worker.refreshDue(10), 2);
      const listed = (await t.platform.get('/api/v1/providers/p1/busy-sources')).body.busySources as { id: string; status: string; lastError: string | null; intervals: number }[];
      const byId = new Map(listed.map((s) => [s.id, s]));
      assert.deepEqual({ status: byId.get('bad')?.status, lastError: byId.get('bad')?.lastError }, expected);
      assert.deepEqual({ status: byId.get('good')?.status, intervals: byId.get('good')?.intervals }, { status: 'ok', intervals: 1 });
      assert.equal((await t.platform.get('/api/v1/providers/p1')).status, 200, 'still serving');
    });
  }

  it('when the file is cut off inside an event, then the complete events before the cut are read', async () => {
    await add('cut', `${cal.base}/truncated.ics`);
    // The only event is the one cut off: nothing sound to read, but no failure either.
    assert.deepEqual(await refresh('cut').then((b) => [b.status, b.intervals]), ['ok', 0]);
  });

  it('when a daily RRULE from 2000 has no end, then only the kept window is expanded', async () => {
    await add('endless', `${cal.base}/endless.ics`);
    const read = await refresh('endless');
    assert.equal(read.status, 'ok');
    // From a week back to 366 days ahead: one a day, not 27 years of them.
    assert.ok(read.intervals >= 372 && read.intervals <= 374, `${read.intervals} intervals`);
  });

  it('when a host name resolves to a private address, then the read is refused before connecting', async () => {
    await add('dns', 'https://calendar.example.com/secret/basic.ics');
    assert.deepEqual(await refresh('dns').then((b) => [b.status, b.lastError]), ['error', 'SOURCE_BLOCKED_ADDRESS']);
  });
});
