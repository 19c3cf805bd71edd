import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { seedProvider } from '../support/seed.js';
import { ADMIN_TOKEN } from '../support/test-app.js';
import { browserSuite, serveApp, type ServedApp } from './support/browser.js';

// Every portal and console page, measured in the browser: WCAG AA contrast of every visible text
// (4.5:1, 3:1 for large text) computed from the colours chromium actually renders, a visible label
// for every control, landmarks and one h1, and nothing wider than a 375 px phone screen.

interface Finding {
  page: string;
  problem: string;
}

/**
 * Runs in the page (kept as JavaScript source: this project compiles without the DOM library, and
 * tsx would wrap a function in helpers the page lacks): what fails there, as short strings.
 */
// String.raw: the regular expression's backslashes reach the page as written.
const AUDIT = String.raw`function audit(requireNav) {
  const problems = [];
  const parse = (c) => {
    const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(c);
    return m === null ? [0, 0, 0, 0] : [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
  };
  const luminance = ([r, g, b]) => {
    const channel = (v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const background = (el) => {
    for (let e = el; e !== null; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0.5) return c;
    }
    return [255, 255, 255, 1];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
    const text = node.textContent?.trim() ?? '';
    const el = node.parentElement;
    if (text === '' || el === null) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.visibility === 'hidden' || style.display === 'none' || box.width === 0 || box.height === 0 || box.left < -1000) continue;
    const fg = luminance(parse(style.color));
    const bg = luminance(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push('contrast ' + ratio.toFixed(2) + ' for "' + text.slice(0, 30) + '"');
  }
  for (const control of Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))) {
    const labelled = control.labels?.length ?? 0;
    if (labelled === 0) problems.push('no label for ' + control.tagName.toLowerCase() + '#' + control.id);
  }
  for (const landmark of requireNav ? ['header', 'nav', 'main'] : ['header', 'main']) if (document.querySelector(landmark) === null) problems.push('no <' + landmark + '>');
  if (document.querySelectorAll('h1').length !== 1) problems.push(document.querySelectorAll('h1').length + ' h1 elements');
  if (document.documentElement.scrollWidth > window.innerWidth + 1) problems.push('wider than the screen: ' + document.documentElement.scrollWidth + 'px');
  return problems;
}`;

browserSuite('browser: accessibility of the portal and the console', (browser) => {
  let served: ServedApp;
  before(async () => {
    served = await serveApp({ now: '2026-11-02T12:00:00.000Z' });
    await seedProvider(served.t);
    await served.t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-03T15:00:00Z', durationMinutes: 50 });
  });
  after(async () => {
    await served.close();
  });

  /** Signed out (the sign-in page) there is nothing to navigate to: no <nav> is asked for. */
  async function check(page: Page, paths: readonly string[], requireNav = true): Promise<Finding[]> {
    const findings: Finding[] = [];
    for (const width of [1280, 375]) {
      await page.setViewportSize({ width, height: 800 });
      for (const path of paths) {
        await page.goto(`${served.origin}${path}`);
        for (const problem of (await page.evaluate(`(${AUDIT})(${JSON.stringify(requireNav)})`)) as string[]) findings.push({ page: `${path} at ${width}px`, problem });
      }
    }
    return findings;
  }

  it('when every portal page is measured at desktop and phone width, then contrast, labels, landmarks and width pass', async () => {
    const context = await browser().newContext();
    const page = await context.newPage();
    const link = await served.t.platform.post('/api/v1/providers/p1/portal-links');
    await page.goto(String(link.body.url));
    const findings = await check(page, ['/portal', '/portal/locations', '/portal/feeds', '/portal/calendars', '/portal/privacy', '/portal/busy', '/portal/sessions']);
    await context.close();
    assert.deepEqual(findings, []);
  });

  it('when every console page is measured at desktop and phone width, then contrast, labels, landmarks and width pass', async () => {
    const context = await browser().newContext();
    const page = await context.newPage();
    await page.goto(`${served.origin}/admin/sign-in`);
    const signIn = await check(page, ['/admin/sign-in'], false);
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${served.origin}/admin/sign-in`);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${served.origin}/admin`);
    const findings = [...signIn, ...(await check(page, ['/admin', '/admin/resync', '/admin/providers', '/admin/providers/p1', '/admin/audit']))];
    await context.close();
    assert.deepEqual(findings, []);
  });
});
