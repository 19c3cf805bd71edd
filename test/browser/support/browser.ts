import { existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createTestApp, type TestApp, type TestAppOptions } from '../../support/test-app.js';

// Browser tests drive Debian's chromium (apt-get install -y chromium; .ci/run installs it) through
// playwright-core against the app served on a port the OS picks. Without a browser they are
// skipped, saying why.

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Why browser tests cannot run here, or null when they can. */
export const noBrowser: string | null = existsSync(CHROMIUM) ? null : `no chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`;

// Without the background-networking flags chromium tries to reach Google's hosts at start, which
// this machine's closed network refuses.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

/**
 * A mocha suite run in one chromium (launched before, closed after), or, without a browser, one
 * skipped test saying why. `browser()` is the launched browser inside the suite's hooks and tests.
 */
export function browserSuite(title: string, body: (browser: () => Browser) => void): void {
  describe(title, function () {
    this.timeout(60_000);
    if (noBrowser !== null) {
      it(`is skipped: ${noBrowser}`, function () {
        this.skip();
      });
      return;
    }
    let browser: Browser | undefined;
    before(async () => {
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
    });
    body(() => {
      if (browser === undefined) throw new Error('the browser is not launched yet');
      return browser;
    });
  });
}

/** An http.Server on a port the OS picks, and its origin as http://localhost:<port>. */
export async function listenLocal(): Promise<{ server: http.Server; origin: string }> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // localhost, not 127.0.0.1: chromium treats it as a secure context, as https would be.
  return { server, origin: `http://localhost:${(server.address() as AddressInfo).port}` };
}

export interface ServedApp {
  t: TestApp;
  /** The origin the app is served on (also its PUBLIC_BASE_URL): http://localhost:<port>. */
  origin: string;
  close(): Promise<void>;
}

/** The test app on a real port, with PUBLIC_BASE_URL that origin (so its links point back at it). */
export async function serveApp(options: TestAppOptions = {}): Promise<ServedApp> {
  const { server, origin } = await listenLocal();
  const t = await createTestApp({ ...options, publicBaseUrl: origin });
  server.on('request', t.app);
  return {
    t,
    origin,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await t.close();
    },
  };
}

const ARTIFACTS = new URL('../../artifacts/', import.meta.url);

/** Saves a screenshot of the page at desktop and phone width under test/artifacts/ (git-ignored). */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const original = page.viewportSize();
  for (const [label, width, height] of [['desktop', 1280, 900], ['phone', 375, 812]] as const) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: new URL(`${name}-${label}.png`, ARTIFACTS).pathname, fullPage: true });
  }
  if (original !== null) await page.setViewportSize(original);
}
