import assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';
import { OFFICE_ADDRESS, seedProvider } from '../support/seed.js';
import { browserSuite, screenshots, serveApp, type ServedApp } from './support/browser.js';
import { ADMIN_TOKEN } from '../support/test-app.js';

// The provider portal and the admin console in a real headless chromium: what a provider and an
// admin do, by the labels they read. Screenshots of each page (desktop and phone width) land in
// test/artifacts/.

browserSuite('browser: provider portal and admin console', (browser) => {
  let served: ServedApp;
  let context: BrowserContext;
  let page: Page;
  beforeEach(async () => {
    served = await serveApp({ now: '2026-11-02T12:00:00.000Z' });
    await seedProvider(served.t);
    context = await browser().newContext();
    page = await context.newPage();
  });
  afterEach(async () => {
    await context.close();
    await served.close();
  });

  async function portalLink(): Promise<string> {
    const res = await served.t.platform.post('/api/v1/providers/p1/portal-links');
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.url as string;
  }

  async function enterPortal(): Promise<void> {
    await page.goto(await portalLink());
    // The link's token leaves the address bar at once.
    assert.equal(new URL(page.url()).pathname, '/portal');
    assert.equal(new URL(page.url()).search, '');
  }

  it('when a provider sets a FaceTime link, then it is refused with the reason; a doxy.me link with instructions saves', async () => {
    await enterPortal();
    await screenshots(page, 'portal-overview');
    await page.getByRole('link', { name: 'Locations' }).first().click();
    await page.getByLabel('Telehealth link').fill('https://facetime.apple.com/join#v=1&p=abc');
    await page.getByRole('button', { name: 'Save location' }).click();
    await page.locator('main').getByText(/FaceTime links are not an accepted telehealth platform/).first().waitFor();
    await screenshots(page, 'portal-locations-refused');

    await page.getByLabel('Telehealth link').fill('https://doxy.me/drbyron-new');
    await page.getByLabel('Instructions for clients').fill('Join two minutes early.');
    await page.getByRole('button', { name: 'Save location' }).click();
    await page.waitForLoadState('load');
    await screenshots(page, 'portal-locations-saved');
    const video = (await served.t.store.listLocations('p1')).find((l) => l.kind === 'virtual' && l.isDefault);
    assert.equal(video?.kind === 'virtual' ? video.url : null, 'https://doxy.me/drbyron-new');
  });

  it('when a provider adds an office "Main office" at "1 Main St", then it is listed with its address and can be removed', async () => {
    await enterPortal();
    await page.getByRole('link', { name: 'Locations' }).first().click();
    await page.getByLabel('Office name').fill('Main office');
    await page.getByLabel('Address').fill('1 Main St');
    await page.getByRole('button', { name: 'Save office' }).click();
    await page.getByRole('status').getByText('Office saved.').waitFor();
    // The seed already has an office named "Main office" (12 Example Street): the new one is a second.
    const added = page.getByRole('list', { name: 'Office locations' }).getByRole('listitem').filter({ hasText: '1 Main St' });
    await added.getByText('Main office').waitFor();
    await screenshots(page, 'portal-locations-offices');
    const officesNow = async () => (await served.t.store.listLocations('p1')).flatMap((l) => (l.kind === 'office' ? [[l.id, l.name, l.address]] : []));
    assert.deepEqual((await officesNow()).sort(), [['main-office', 'Main office', '1 Main St'], ['office', 'Main office', OFFICE_ADDRESS]].sort());

    await added.getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('status').getByText('Office removed.').waitFor();
    assert.deepEqual(await officesNow(), [['office', 'Main office', OFFICE_ADDRESS]]);
  });

  it('when a provider creates a feed URL and revokes it, then the URL is shown once and answers 404 after', async () => {
    await enterPortal();
    await page.getByRole('link', { name: 'Calendar feeds' }).first().click();
    await page.getByLabel('Feed name').fill('iPhone');
    await page.getByRole('button', { name: 'Create feed URL' }).click();
    const shown = await page.getByText(/\/feeds\/[A-Za-z0-9_-]{43}\.ics/).first().textContent();
    const feedUrl = /(https?:\/\/\S+\/feeds\/[A-Za-z0-9_-]{43}\.ics)/.exec(shown ?? '')?.[1];
    assert.ok(feedUrl, `a feed URL is shown: ${shown}`);
    await screenshots(page, 'portal-feeds-created');
    assert.equal((await fetch(feedUrl)).status, 200);

    await page.getByRole('button', { name: 'Revoke' }).first().click();
    await page.waitForLoadState('load');
    await screenshots(page, 'portal-feeds-revoked');
    assert.equal((await fetch(feedUrl)).status, 404);
  });

  it('when a portal link is used twice, or after it expired, then it is refused and opens no session', async () => {
    const link = await portalLink();
    await page.goto(link);
    const again = await (await browser().newContext()).newPage();
    const reused = await again.goto(link);
    assert.ok(reused !== null && reused.status() >= 400, `reused: ${reused?.status()}`);
    await screenshots(again, 'portal-link-refused');
    const late = await portalLink();
    served.t.clock.advance(16 * 60_000);
    const expired = await again.goto(late);
    assert.ok(expired !== null && expired.status() >= 400, `expired: ${expired?.status()}`);
    const overview = await again.goto(`${served.origin}/portal`);
    assert.ok(overview !== null && (overview.status() >= 400 || new URL(again.url()).pathname !== '/portal'), 'no session was opened');
    await again.context().close();
  });

  it('when an admin signs in with the admin token, then the console opens; a wrong token is refused', async () => {
    await page.goto(`${served.origin}/admin/sign-in`);
    await screenshots(page, 'admin-sign-in');
    await page.getByLabel('Admin token').fill('not-the-admin-token-0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.notEqual(new URL(page.url()).pathname, '/admin');
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${served.origin}/admin`);
    assert.ok(!(await page.content()).includes(ADMIN_TOKEN), 'the token is not in the page');
    await screenshots(page, 'admin-overview');
  });
});
