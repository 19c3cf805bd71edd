import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { createIcsReader } from '../../busy/index.js';
import { createGoogleConnector, createGoogleOAuth } from '../../connectors/google/index.js';
import { startFakeGoogle, type FakeGoogle } from '../fakes/fake-google.js';
import { CLIENT, seedProvider } from '../support/seed.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { browserSuite, listenLocal, screenshots } from './support/browser.js';

// The portal's calendar sections in a real headless chromium: a provider connects Google (against
// the fake Google, whose consent screen redirects straight back to our callback), chooses initials
// and watches the preview change, adds an ICS calendar as busy time and reads the next two weeks.

const BUSY_TITLE = 'Dentist with Dr Who';

browserSuite('browser: portal calendar sections', (browser) => {
  let server: http.Server;
  let ics: http.Server;
  let icsUrl: string;
  let google: FakeGoogle;
  let origin: string;
  let t: TestApp;
  let context: BrowserContext;
  let page: Page;
  beforeEach(async () => {
    ics = http.createServer((_req, res) => {
      const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//EN', 'BEGIN:VEVENT', 'DTSTART:20261103T170000Z', 'DTEND:20261103T180000Z', 'UID:b1@example.com', 'DTSTAMP:20261101T000000Z', `SUMMARY:${BUSY_TITLE}`, 'END:VEVENT', 'END:VCALENDAR', ''];
      res.writeHead(200, { 'Content-Type': 'text/calendar' }).end(lines.join('\r\n'));
    });
    await new Promise<void>((resolve) => ics.listen(0, '127.0.0.1', resolve));
    const icsHost = `127.0.0.1:${(ics.address() as AddressInfo).port}`;
    icsUrl = `http://${icsHost}/calendar/ical/secret-address/basic.ics`;

    // The app on a real port, its OAuth redirect URI that origin, so the fake's consent redirect lands on it.
    ({ server, origin } = await listenLocal());
    google = await startFakeGoogle();
    const config = {
      clientId: google.clientId,
      clientSecret: google.clientSecret,
      authUrl: google.authUrl,
      tokenUrl: google.tokenUrl,
      apiRootUrl: google.apiUrl,
      redirectUri: `${origin}/oauth/google/callback`,
    };
    t = await createTestApp({
      now: '2026-11-02T12:00:00.000Z',
      publicBaseUrl: origin,
      oauth: new Map([['google', createGoogleOAuth(config)]]),
      connectors: new Map([['google', createGoogleConnector(config)]]),
      busy: { ics: createIcsReader({ allowHosts: new Set([icsHost]), maxBytes: 1024 * 1024, uidDomain: 'sync.example.test' }), refreshMinutes: 15 },
    });
    server.on('request', t.app);
    await seedProvider(t);
    await t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-03T10:00:00-05:00', durationMinutes: 50, client: CLIENT });
    context = await browser().newContext();
    page = await context.newPage();
    const link = await t.platform.post('/api/v1/providers/p1/portal-links');
    assert.equal(link.status, 201);
    await page.goto(String(link.body.url));
  });
  afterEach(async () => {
    await context.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => ics.close(resolve));
    await t.close();
    await google.close();
  });

  it('when a provider connects Google Calendar, then the consent round trip brings it back to the page with the connection active', async () => {
    await page.getByRole('link', { name: 'Connected calendars' }).first().click();
    await screenshots(page, 'portal-calendars-empty');
    await page.getByRole('button', { name: 'Connect Google Calendar' }).click();
    await page.waitForURL(`${origin}/portal/calendars?connected=google`);
    await page.getByText('Google Calendar is connected').waitFor();
    await page.locator('.status.ok', { hasText: 'Active' }).waitFor();
    await screenshots(page, 'portal-calendars-connected');
    const [connection] = await t.store.listConnections('p1');
    assert.equal(connection?.status, 'active');
    assert.ok((await page.getByLabel('Also remove the events sessionsync wrote').count()) === 1);
  });

  it('when a provider chooses initials with the BAA attestation, then the preview changes as they choose, and the choice saves', async () => {
    await page.getByRole('link', { name: 'Privacy' }).first().click();
    const summary = page.locator('#preview-summary');
    assert.equal(await summary.textContent(), 'Telehealth session');
    await page.getByLabel('Client initials').check();
    await page.locator('#preview-needs-baa').waitFor({ state: 'visible' });
    await page.getByLabel(/My calendar service has signed a BAA/).check();
    await page.locator('#preview-summary', { hasText: /^Telehealth session with J\.D\.$/ }).waitFor();
    assert.ok(await page.locator('#preview-needs-baa').isHidden());
    await screenshots(page, 'portal-privacy-initials');
    await page.getByRole('button', { name: 'Save privacy' }).click();
    await page.getByText('Privacy saved').waitFor();
    assert.deepEqual((await t.store.getProvider('p1'))?.privacy, { mode: 'initials', baaAttested: true });
  });

  it('when a provider adds an ICS calendar, then it is read and its status shown, and the upcoming sessions shade its busy time', async () => {
    await page.getByRole('link', { name: 'Other calendars' }).first().click();
    await page.getByLabel('Calendar address (ICS)').fill(icsUrl);
    await page.getByRole('button', { name: 'Add calendar' }).click();
    await page.getByText('Calendar added').waitFor();
    assert.equal(await page.locator('.busy-status').first().textContent(), 'Read');
    assert.ok(!(await page.content()).includes('secret-address'), 'the address is not shown');
    await screenshots(page, 'portal-busy');

    await page.getByRole('link', { name: 'Upcoming sessions' }).first().click();
    const tuesday = page.getByRole('region', { name: 'Tuesday, November 3' });
    await tuesday.getByText('Telehealth session').waitFor();
    assert.match((await tuesday.locator('li.session').textContent()) ?? '', /10:00 AM – 10:50 AM/);
    assert.equal(await tuesday.getByRole('link', { name: 'Join link' }).getAttribute('href'), 'https://doxy.me/drbyron');
    assert.match((await tuesday.locator('li.busy').textContent()) ?? '', /12:00 PM – 1:00 PM Busy in another calendar/);
    assert.ok(!(await page.content()).includes(BUSY_TITLE));
    await screenshots(page, 'portal-sessions');
  });
});
