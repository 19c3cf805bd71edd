import assert from 'node:assert/strict';
import type http from 'node:http';
import type { BrowserContext, Page } from 'playwright-core';
import { aDeadTarget } from '../support/admin-web.js';
import { CLIENT, seedProvider } from '../support/seed.js';
import { createSyncHarness, googleVendor, type SyncHarness, type VendorRig } from '../support/sync-harness.js';
import { ADMIN_TOKEN } from '../support/test-app.js';
import { browserSuite, listenLocal, screenshots } from './support/browser.js';

// The admin console in a real headless chromium, against an app whose provider p1 has a Google
// calendar connected through the fake: the admin signs in, runs a dry-run and a real resync and
// watches each finish (the page's script polls the job while the test runs the resync runner),
// retries a dead-lettered event, searches providers and reads the audit log. Screenshots of each
// page (desktop and phone width) land in test/artifacts/.

browserSuite('browser: admin console', (browser) => {
  let server: http.Server;
  let origin: string;
  let h: SyncHarness;
  let vendor: VendorRig;
  let context: BrowserContext;
  let page: Page;
  beforeEach(async () => {
    ({ server, origin } = await listenLocal());
    h = await createSyncHarness([googleVendor], { publicBaseUrl: origin });
    vendor = h.vendors[0]!;
    server.on('request', h.t.app);
    await seedProvider(h.t);
    const put = await h.t.platform.put('/api/v1/providers/p1/sessions/a', { start: '2026-11-10T15:00:00Z', durationMinutes: 50, client: CLIENT });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    await h.connect(vendor);
    context = await browser().newContext();
    page = await context.newPage();
  });
  afterEach(async () => {
    await context.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await h.close();
  });

  async function signIn(): Promise<void> {
    await page.goto(`${origin}/admin/sign-in`);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${origin}/admin`);
  }

  const live = () => page.locator('#job-live');

  /** Starts a resync of p1 from the form and watches its page until the runner has finished it. */
  async function resync(dryRun: boolean, shot: string): Promise<void> {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Resync' }).click();
    await page.getByLabel('Provider id').fill('p1');
    if (dryRun) await page.getByLabel('Dry run').check();
    await page.getByRole('button', { name: 'Resync' }).click();
    await page.waitForURL(/\/admin\/jobs\/[0-9a-f-]{36}$/);
    assert.match((await live().textContent()) ?? '', /^Queued: /);
    assert.equal(await live().getAttribute('aria-live'), 'polite');
    await screenshots(page, `admin-job-${shot}-queued`);
    // The page polls while the job waits; the worker process's runner picks it up now.
    await h.runJobs();
    await page.getByText('Start another resync').waitFor();
    assert.equal(await page.locator('#job-status').textContent(), 'Finished');
    await screenshots(page, `admin-job-${shot}-finished`);
  }

  it('when an admin runs a dry-run and then a real resync of a provider, then each job page follows the job to its plan or result', async () => {
    await signIn();
    await screenshots(page, 'admin-health');

    await resync(true, 'dry-run');
    await page.getByRole('heading', { name: 'Plan' }).waitFor();
    const plan = page.locator('table').last();
    assert.match((await plan.textContent()) ?? '', /create/);
    assert.match((await live().textContent()) ?? '', /planned 1 changes over 1 connections \(1 to create/);
    assert.equal(h.live(vendor).length, 0, 'a dry run writes nothing');

    await resync(false, 'real');
    assert.match((await live().textContent()) ?? '', /Finished: 1 of 1 connections done \(1 created/);
    assert.equal(h.live(vendor).length, 1, 'the real run created the missing event');
    assert.ok(!(await page.content()).includes(CLIENT.lastName), 'no client data on the page');

    await page.getByRole('link', { name: 'Providers' }).click();
    await page.getByLabel('Search providers').fill('byron');
    await page.getByRole('button', { name: 'Search' }).click();
    await screenshots(page, 'admin-providers-search');
    await page.getByRole('link', { name: 'p1' }).click();
    await page.getByRole('heading', { name: 'Calendar connections' }).waitFor();
    assert.match((await page.locator('main').textContent()) ?? '', /google\s*active/);
    await screenshots(page, 'admin-provider');

    await page.getByRole('link', { name: 'Audit log' }).click();
    const rows = page.locator('main tbody tr');
    assert.equal(await rows.count(), 2);
    assert.match((await rows.first().textContent()) ?? '', /resync\.run/);
    assert.match((await rows.last().textContent()) ?? '', /resync\.plan/);
    await screenshots(page, 'admin-audit');
  });

  it('when an event was dead-lettered, then the admin sees its code on the health page and Retry re-queues it', async () => {
    const dead = await aDeadTarget(h.t, { providerId: 'p2', errorCode: 'HTTP_400' });
    await signIn();
    const main = page.locator('main');
    assert.match((await main.textContent()) ?? '', /HTTP_400/);
    await screenshots(page, 'admin-health-dead-letter');
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.getByRole('status').getByText('The event was queued again').waitFor();
    assert.equal((await h.t.store.getTarget(dead.id))?.deadAt, null);
    assert.doesNotMatch((await main.textContent()) ?? '', /HTTP_400/);
    await screenshots(page, 'admin-health-retried');
  });

  it('when the console is used with the keyboard, then the skip link and the forms are reachable and submit with Enter', async () => {
    await signIn();
    await page.keyboard.press('Tab');
    assert.equal(await page.locator(':focus').textContent(), 'Skip to main content');
    await page.goto(`${origin}/admin/resync`);
    await page.getByLabel('Provider id').focus();
    await page.keyboard.type('p1');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    assert.equal(await page.getByLabel('Dry run').isChecked(), true);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/admin\/jobs\/[0-9a-f-]{36}$/);
  });
});
