import assert from 'node:assert/strict';
import supertest from 'supertest';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { aProviderNamed, assertPageHygiene, browserWith, csrfOf, portalLinkPath, setCookie, setCookieLine, signedInProvider } from '../support/web.js';

describe('Web: provider portal', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  describe('portal links', () => {
    it('when the platform asks for a link, then 201 with an https /portal/enter?t= URL valid 15 minutes', async () => {
      await aProviderNamed(t, 'p1');
      const res = await t.platform.post('/api/v1/providers/p1/portal-links').expect(201);
      assert.deepEqual(Object.keys(res.body as object).sort(), ['expiresAt', 'url']);
      assert.match(String(res.body.url), /^https:\/\/sync\.example\.test\/portal\/enter\?t=[A-Za-z0-9_-]{43}$/);
      assert.equal(res.body.expiresAt, '2026-11-02T12:15:00.000Z');
      assert.equal(res.headers['cache-control'], 'no-store');
      await t.admin.post('/api/v1/providers/p1/portal-links').expect(201);
    });

    it('when no token or an unknown provider is given, then 401 and 404', async () => {
      await supertest(t.app).post('/api/v1/providers/p1/portal-links').expect(401);
      const res = await t.platform.post('/api/v1/providers/nobody/portal-links').expect(404);
      assert.equal(res.body.error.code, 'PROVIDER_NOT_FOUND');
    });

    it('when a link is redeemed, then 303 to /portal with an httpOnly, SameSite=Lax, Secure session cookie for 8 hours, and the portal opens', async () => {
      await aProviderNamed(t, 'p1');
      const res = await supertest(t.app).get(await portalLinkPath(t, 'p1')).expect(303);
      assert.equal(res.headers['location'], '/portal');
      assertPageHygiene(res);
      assert.equal(res.headers['referrer-policy'], 'same-origin');
      const line = setCookieLine(res, 'ss_session');
      assert.match(line, /; HttpOnly/);
      assert.match(line, /; SameSite=Lax/);
      assert.match(line, /; Secure/);
      assert.match(line, /; Path=\//);
      assert.match(line, /; Max-Age=28800/);
      const cookie = setCookie(res, 'ss_session');
      assert.ok(cookie !== null && cookie.length >= 43);
      const overview = await browserWith(t, cookie).get('/portal').expect(200);
      assertPageHygiene(overview);
      assert.match(overview.text, /Signed in as Dr\. Ada Lovelace/);
    });

    it('when a link is used a second time, then 410 with a page saying it is expired or used, and no session', async () => {
      await aProviderNamed(t, 'p1');
      const path = await portalLinkPath(t, 'p1');
      await supertest(t.app).get(path).expect(303);
      const again = await supertest(t.app).get(path).expect(410);
      assertPageHygiene(again);
      assert.match(again.text, /expired or has already been used/);
      assert.match(again.text, /Ask for a new link/);
      assert.equal(setCookie(again, 'ss_session'), null);
    });

    it('when a link is used after 15 minutes, then 410 and no session; a minute before, it works', async () => {
      await aProviderNamed(t, 'p1');
      const late = await portalLinkPath(t, 'p1');
      const inTime = await portalLinkPath(t, 'p1');
      t.clock.advance(14 * 60_000);
      await supertest(t.app).get(inTime).expect(303);
      t.clock.advance(60_000);
      const res = await supertest(t.app).get(late).expect(410);
      assert.equal(setCookie(res, 'ss_session'), null);
    });

    it('when the link token is missing or malformed, then 410', async () => {
      await supertest(t.app).get('/portal/enter').expect(410);
      await supertest(t.app).get('/portal/enter?t=abc').expect(410);
      await supertest(t.app).get(`/portal/enter?t=${'A'.repeat(43)}`).expect(410);
    });

    it('when the session is older than 8 hours, then the portal refuses it with 401', async () => {
      const browser = await signedInProvider(t, 'p1');
      t.clock.advance(8 * 3_600_000 - 1000);
      await browser.get('/portal').expect(200);
      t.clock.advance(1000);
      const res = await browser.get('/portal').expect(401);
      assertPageHygiene(res);
      assert.match(res.text, /new portal link/);
    });

    it('when there is no cookie or a made-up one, then 401', async () => {
      await supertest(t.app).get('/portal/locations').expect(401);
      await browserWith(t, 'A'.repeat(43)).get('/portal/feeds').expect(401);
    });
  });

  describe('sign-out', () => {
    it('when the provider signs out, then the cookie is cleared and the session no longer opens anything', async () => {
      const browser = await signedInProvider(t, 'p1');
      const csrf = csrfOf(await browser.get('/portal').expect(200));
      const res = await browser.post('/portal/sign-out', { _csrf: csrf }).expect(200);
      assert.equal(setCookie(res, 'ss_session'), '');
      assert.match(res.text, /signed out/);
      await browser.get('/portal').expect(401);
    });
  });

  describe('CSRF', () => {
    it('when a form is posted without _csrf, with a wrong one, or with another session\'s, then 403 and nothing changes', async () => {
      const browser = await signedInProvider(t, 'p1');
      const other = await signedInProvider(t, 'p2');
      const otherCsrf = csrfOf(await other.get('/portal').expect(200));
      const forms: Record<string, string>[] = [{ label: 'x' }, { label: 'x', _csrf: 'wrong' }, { label: 'x', _csrf: otherCsrf }];
      for (const form of forms) {
        const res = await browser.post('/portal/feeds', form).expect(403);
        assertPageHygiene(res);
      }
      assert.equal((await t.platform.get('/api/v1/providers/p1/feeds').expect(200)).body.feeds.length, 0);
    });

    it('when a form comes from another site (Origin or Sec-Fetch-Site), then 403 even with the right _csrf', async () => {
      const browser = await signedInProvider(t, 'p1');
      const csrf = csrfOf(await browser.get('/portal/feeds').expect(200));
      await browser.post('/portal/feeds', { label: 'x', _csrf: csrf }).set('Origin', 'https://evil.example').expect(403);
      await browser.post('/portal/feeds', { label: 'x', _csrf: csrf }).set('Origin', 'null').expect(403);
      await browser.post('/portal/feeds', { label: 'x', _csrf: csrf }).set('Sec-Fetch-Site', 'cross-site').expect(403);
      await browser.post('/portal/feeds', { label: 'x', _csrf: csrf }).set('Sec-Fetch-Site', 'same-site').expect(403);
      assert.equal((await t.platform.get('/api/v1/providers/p1/feeds').expect(200)).body.feeds.length, 0);
      await browser.post('/portal/feeds', { label: 'x', _csrf: csrf }).set('Origin', 'https://sync.example.test').set('Sec-Fetch-Site', 'same-origin').expect(201);
    });
  });

  describe('locations', () => {
    it('when the page is opened, then it has the labelled fields, the live verdict region and the button, and a page title without client data', async () => {
      const browser = await signedInProvider(t, 'p1');
      const res = await browser.get('/portal/locations').expect(200);
      assertPageHygiene(res);
      assert.match(res.text, /<title>Locations – sessionsync<\/title>/);
      assert.match(res.text, /<label for="telehealth-url">Telehealth link<\/label>/);
      assert.match(res.text, /<label for="instructions">Instructions for clients<\/label>/);
      assert.match(res.text, /<button type="submit">Save location<\/button>/);
      assert.match(res.text, /id="link-verdict" class="verdict" aria-live="polite"/);
      assert.match(res.text, /<a class="skip-link" href="#main">/);
      for (const id of res.text.matchAll(/<(?:input|textarea)[^>]*\sid="([^"]+)"/g)) assert.match(res.text, new RegExp(`<label[^>]* for="${id[1]}"`), `no label for ${id[1]}`);
    });

    it('when a FaceTime link is saved, then 400 with the policy\'s reason in the page, and nothing is stored', async () => {
      const browser = await signedInProvider(t, 'p1');
      const csrf = csrfOf(await browser.get('/portal/locations').expect(200));
      const res = await browser.post('/portal/locations', { _csrf: csrf, url: 'facetime://drlovelace@example.com', instructions: '' }).expect(400);
      assertPageHygiene(res);
      assert.match(res.text, /FaceTime links are not an accepted telehealth platform/);
      assert.match(res.text, /value="facetime:\/\/drlovelace@example\.com"/);
      assert.equal((await t.platform.get('/api/v1/providers/p1/locations').expect(200)).body.locations.length, 0);
    });

    it('when a Zoom link is saved, then 303 and the page shows it saved as the default with the waiting-room warning', async () => {
      const browser = await signedInProvider(t, 'p1');
      const csrf = csrfOf(await browser.get('/portal/locations').expect(200));
      const res = await browser.post('/portal/locations', { _csrf: csrf, url: 'https://zoom.us/j/123456789', instructions: 'Test your camera <first>.' }).expect(303);
      assert.equal(res.headers['location'], '/portal/locations?saved=1');
      const after = await browser.get('/portal/locations?saved=1').expect(200);
      assert.match(after.text, /Location saved/);
      assert.match(after.text, /Recognised platform: Zoom/);
      assert.match(after.text, /Zoom does not always have a waiting room by default/);
      assert.match(after.text, /Test your camera &lt;first&gt;\./);
      const [stored] = (await t.platform.get('/api/v1/providers/p1/locations').expect(200)).body.locations as Record<string, unknown>[];
      assert.equal(stored?.['url'], 'https://zoom.us/j/123456789');
      assert.equal(stored?.['isDefault'], true);
      assert.equal(stored?.['platform'], 'zoom');
    });

    it('when the waiting room is confirmed, then the saved link carries no waiting-room warning', async () => {
      const browser = await signedInProvider(t, 'p1');
      const csrf = csrfOf(await browser.get('/portal/locations').expect(200));
      await browser.post('/portal/locations', { _csrf: csrf, url: 'https://zoom.us/j/123456789', waitingRoom: 'on' }).expect(303);
      const after = await browser.get('/portal/locations').expect(200);
      assert.doesNotMatch(after.text, /waiting room by default/);
      assert.match(after.text, /id="waiting-room" name="waitingRoom" value="on" checked/);
    });

    it('when link-check is asked, then it answers the policy\'s verdict as JSON: refused, recognised with warnings, or confirmed', async () => {
      const browser = await signedInProvider(t, 'p1');
      const refused = await browser.get('/portal/link-check?url=facetime%3A%2F%2Fx%40example.com').expect(200);
      assert.match(String(refused.headers['content-type']), /application\/json/);
      assert.equal(refused.body.ok, false);
      assert.match(String(refused.body.reason), /FaceTime/);
      const zoom = await browser.get('/portal/link-check?url=https%3A%2F%2Fzoom.us%2Fj%2F1').expect(200);
      assert.equal(zoom.body.ok, true);
      assert.equal(zoom.body.platform.name, 'Zoom');
      assert.equal(zoom.body.warnings.length, 1);
      const confirmed = await browser.get('/portal/link-check?url=https%3A%2F%2Fzoom.us%2Fj%2F1&waitingRoom=true').expect(200);
      assert.deepEqual(confirmed.body.warnings, []);
      assert.equal(zoom.headers['cache-control'], 'no-store');
    });

    it('when link-check is asked without a session, then 401 JSON', async () => {
      const res = await supertest(t.app).get('/portal/link-check?url=x').expect(401);
      assert.equal(res.body.error.code, 'UNAUTHENTICATED');
    });
  });

  describe('feeds', () => {
    it('when a feed is created, then its URL and subscribe links are shown once, and never again', async () => {
      const browser = await signedInProvider(t, 'p1');
      const page = await browser.get('/portal/feeds').expect(200);
      assertPageHygiene(page);
      assert.match(page.text, /<label for="feed-name">Feed name<\/label>/);
      assert.match(page.text, /<button type="submit">Create feed URL<\/button>/);
      assert.match(page.text, /every 8 to 24 hours/);
      const res = await browser.post('/portal/feeds', { _csrf: csrfOf(page), label: 'iPhone & iPad' }).expect(201);
      assertPageHygiene(res);
      const url = /<code id="feed-url" class="url">([^<]+)<\/code>/.exec(res.text)?.[1];
      assert.ok(url !== undefined && /^https:\/\/sync\.example\.test\/feeds\/[A-Za-z0-9_-]{43}\.ics$/.test(url), `feed url ${String(url)}`);
      const webcal = url.replace(/^https:/, 'webcal:');
      assert.ok(res.text.includes(`href="${webcal}"`));
      assert.ok(res.text.includes(`href="https://calendar.google.com/calendar/r?cid=${encodeURIComponent(webcal)}"`));
      assert.ok(res.text.includes(`href="https://outlook.live.com/calendar/0/addfromweb?url=${encodeURIComponent(url)}&amp;name=${encodeURIComponent('iPhone & iPad')}"`));
      assert.match(res.text, /iPhone &amp; iPad/);
      const token = url.slice(url.lastIndexOf('/') + 1, -4);
      const later = await browser.get('/portal/feeds').expect(200);
      assert.ok(!later.text.includes(token), 'the feed token is shown again');
      assert.match(later.text, /Not fetched yet/);
      await supertest(t.app).get(`/feeds/${token}.ics`).set('User-Agent', 'Google-Calendar-Importer').expect(200);
      assert.match((await browser.get('/portal/feeds').expect(200)).text, /Last fetched 2026-11-02 12:00 UTC by Google Calendar/);
    });

    it('when a feed is revoked, then 303 back to the list without it, and its URL answers 404', async () => {
      const browser = await signedInProvider(t, 'p1');
      const csrf = csrfOf(await browser.get('/portal/feeds').expect(200));
      const created = await browser.post('/portal/feeds', { _csrf: csrf, label: 'Work' }).expect(201);
      const url = /<code id="feed-url" class="url">([^<]+)<\/code>/.exec(created.text)?.[1] ?? '';
      const feedId = /action="\/portal\/feeds\/([^/]+)\/revoke"/.exec(created.text)?.[1] ?? '';
      const res = await browser.post(`/portal/feeds/${feedId}/revoke`, { _csrf: csrf }).expect(303);
      assert.equal(res.headers['location'], '/portal/feeds?revoked=1');
      const list = await browser.get('/portal/feeds?revoked=1').expect(200);
      assert.match(list.text, /Feed revoked/);
      assert.match(list.text, /No feeds yet/);
      await supertest(t.app).get(new URL(url).pathname).expect(404);
    });
  });

  describe('scoping', () => {
    it('when provider p2 is signed in, then it sees only its own data and cannot revoke p1\'s feed', async () => {
      await aProviderNamed(t, 'p1', 'Dr. One');
      const p1feed = await t.platform.post('/api/v1/providers/p1/feeds', { label: 'P1 secret feed' }).expect(201);
      await t.platform.put('/api/v1/providers/p1/locations/video', { kind: 'virtual', url: 'https://doxy.me/drone', instructions: 'P1 instructions' }).expect(201);
      const p2 = await signedInProvider(t, 'p2');
      for (const path of ['/portal', '/portal/locations', '/portal/feeds']) {
        const res = await p2.get(path).expect(200);
        assert.ok(!res.text.includes('Dr. One') && !res.text.includes('P1 secret feed') && !res.text.includes('doxy.me/drone') && !res.text.includes('P1 instructions'), path);
      }
      const csrf = csrfOf(await p2.get('/portal/feeds').expect(200));
      await p2.post(`/portal/feeds/${String(p1feed.body.id)}/revoke`, { _csrf: csrf }).expect(404);
      assert.equal((await t.platform.get('/api/v1/providers/p1/feeds').expect(200)).body.feeds.length, 1);
      await p2.post('/portal/locations', { _csrf: csrf, url: 'https://zoom.us/j/1' }).expect(303);
      const p1locations = (await t.platform.get('/api/v1/providers/p1/locations').expect(200)).body.locations as { url: string }[];
      assert.deepEqual(p1locations.map((l) => l.url), ['https://doxy.me/drone']);
    });

    it('when a provider session is shown to /admin, then it is not an admin session', async () => {
      const p1 = await signedInProvider(t, 'p1');
      const res = await p1.get('/admin').expect(303);
      assert.equal(res.headers['location'], '/admin/sign-in');
    });

    it('when the provider is deleted, then its session opens nothing', async () => {
      const p1 = await signedInProvider(t, 'p1');
      await t.platform.delete('/api/v1/providers/p1').expect(204);
      await p1.get('/portal').expect(401);
    });
  });

  describe('pages and assets', () => {
    it('when an unknown portal page is asked, then a 404 HTML page with the CSP', async () => {
      const browser = await signedInProvider(t, 'p1');
      const res = await browser.get('/portal/nothing').expect(404);
      assertPageHygiene(res);
    });

    it('when the static files are asked, then CSS and JS come with their content types and long caching', async () => {
      const browser = await signedInProvider(t, 'p1');
      const page = await browser.get('/portal').expect(200);
      const css = /href="(\/web\/app\.css\?v=[0-9a-f]+)"/.exec(page.text)?.[1];
      const js = /<script src="(\/web\/portal\.js\?v=[0-9a-f]+)" defer><\/script>/.exec(page.text)?.[1];
      assert.ok(css !== undefined && js !== undefined);
      const cssRes = await supertest(t.app).get(css).expect(200);
      assert.equal(cssRes.headers['content-type'], 'text/css; charset=utf-8');
      assert.match(String(cssRes.headers['cache-control']), /max-age=31536000/);
      const jsRes = await supertest(t.app).get(js).expect(200);
      assert.equal(jsRes.headers['content-type'], 'text/javascript; charset=utf-8');
      assert.match(jsRes.text, /link-check/);
      assert.equal(jsRes.headers['x-content-type-options'], 'nosniff');
    });
  });
});
