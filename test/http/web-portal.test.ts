import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import supertest from 'supertest';
import { createIcsReader } from '../../busy/index.js';
import { CLIENT, seedProvider } from '../support/seed.js';
import { createSyncHarness, googleVendor, type SyncHarness, type VendorRig } from '../support/sync-harness.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { aProviderNamed, assertPageHygiene, browserWith, csrfOf, portalLinkPath, setCookie, setCookieLine, signedInProvider, type Browser } from '../support/web.js';

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

  describe('office locations', () => {
    type Stored = { id: string; kind: string; name: string | null; address?: string; url?: string; isDefault: boolean };
    const storedOf = async (providerId: string): Promise<Stored[]> =>
      (await t.platform.get(`/api/v1/providers/${providerId}/locations`).expect(200)).body.locations as Stored[];
    const officesOf = async (providerId: string): Promise<Stored[]> => (await storedOf(providerId)).filter((l) => l.kind === 'office');

    it('when the page is opened, then below the telehealth form it has the office form with visible labels and says there is none yet', async () => {
      const browser = await signedInProvider(t, 'p1');
      const res = await browser.get('/portal/locations').expect(200);
      assertPageHygiene(res);
      assert.match(res.text, /<h2 id="offices-heading">Office locations<\/h2>/);
      assert.match(res.text, /<label for="office-name">Office name<\/label>/);
      assert.match(res.text, /<label for="office-address">Address<\/label>/);
      assert.match(res.text, /<button type="submit">Save office<\/button>/);
      assert.match(res.text, /No office locations yet\./);
      assert.ok(res.text.indexOf('Save location') < res.text.indexOf('Save office'), 'the office form comes after the telehealth form');
    });

    it('when an office is added, then 303, it is stored with an id from its name, listed with its address, and the telehealth link stays the default', async () => {
      const browser = await signedInProvider(t, 'p1');
      const csrf = csrfOf(await browser.get('/portal/locations').expect(200));
      await browser.post('/portal/locations', { _csrf: csrf, url: 'https://zoom.us/j/123456789' }).expect(303);
      const res = await browser.post('/portal/locations/offices', { _csrf: csrf, name: '  Main Office <east>  ', address: '1 Main St\nSuite 2' }).expect(303);
      assert.equal(res.headers['location'], '/portal/locations?office=saved');
      const stored = await storedOf('p1');
      const office = stored.find((l) => l.kind === 'office');
      assert.deepEqual(office && { id: office.id, name: office.name, address: office.address, isDefault: office.isDefault }, {
        id: 'main-office-east',
        name: 'Main Office <east>',
        address: '1 Main St\nSuite 2',
        isDefault: false,
      });
      assert.equal(stored.find((l) => l.kind === 'virtual')?.isDefault, true);
      const after = await browser.get('/portal/locations?office=saved').expect(200);
      assertPageHygiene(after);
      assert.match(after.text, /Office saved\./);
      assert.match(after.text, /<strong>Main Office &lt;east&gt;<\/strong>/);
      assert.match(after.text, /<span class="address">1 Main St\nSuite 2<\/span>/);
      assert.match(after.text, /value="https:\/\/zoom\.us\/j\/123456789"/);

      // The same name again is a second office, never an overwrite of the first.
      await browser.post('/portal/locations/offices', { _csrf: csrf, name: 'Main office: East!', address: '2 Main St' }).expect(303);
      assert.deepEqual((await officesOf('p1')).map((l) => [l.id, l.address]).sort(), [['main-office-east', '1 Main St\nSuite 2'], ['main-office-east-2', '2 Main St']]);
    });

    it('when an office is edited, then the form comes filled with its hidden id and saving updates that office only; the telehealth id cannot be edited as an office', async () => {
      const browser = await signedInProvider(t, 'p1');
      const csrf = csrfOf(await browser.get('/portal/locations').expect(200));
      await browser.post('/portal/locations', { _csrf: csrf, url: 'https://zoom.us/j/123456789' }).expect(303);
      await browser.post('/portal/locations/offices', { _csrf: csrf, name: 'Main office', address: '1 Main St' }).expect(303);
      const form = await browser.get('/portal/locations?edit=main-office').expect(200);
      assertPageHygiene(form);
      assert.match(form.text, /Edit office/);
      assert.match(form.text, /<input type="hidden" name="id" value="main-office">/);
      assert.match(form.text, /id="office-name" name="name" value="Main office"/);
      assert.match(form.text, /name="address"[^>]*>1 Main St<\/textarea>/);
      await browser.post('/portal/locations/offices', { _csrf: csrf, id: 'main-office', name: 'Uptown office', address: '99 High St' }).expect(303);
      assert.deepEqual((await officesOf('p1')).map((l) => [l.id, l.name, l.address]), [['main-office', 'Uptown office', '99 High St']]);

      const telehealthId = (await storedOf('p1')).find((l) => l.kind === 'virtual')?.id ?? '';
      await browser.post('/portal/locations/offices', { _csrf: csrf, id: telehealthId, name: 'Hijack', address: 'x' }).expect(404);
      await browser.post('/portal/locations/offices', { _csrf: csrf, id: 'not a valid id!', name: 'Bad', address: 'x' }).expect(400);
      await browser.post('/portal/locations/offices', { _csrf: csrf, id: 'no-such-office', name: 'Ghost', address: 'x' }).expect(404);
      const after = await storedOf('p1');
      assert.equal(after.find((l) => l.id === telehealthId)?.kind, 'virtual');
      assert.equal(after.length, 2);
    });

    it('when an office is removed, then 303 and it is gone; the telehealth location cannot be removed as an office', async () => {
      const browser = await signedInProvider(t, 'p1');
      const csrf = csrfOf(await browser.get('/portal/locations').expect(200));
      await browser.post('/portal/locations', { _csrf: csrf, url: 'https://zoom.us/j/123456789' }).expect(303);
      await browser.post('/portal/locations/offices', { _csrf: csrf, name: 'Main office', address: '1 Main St' }).expect(303);
      const page = await browser.get('/portal/locations').expect(200);
      assert.match(page.text, /<form method="post" action="\/portal\/locations\/offices\/main-office\/remove"><input type="hidden" name="_csrf" value="[^"]+"><button type="submit" class="secondary" aria-label="Remove Main office">Remove<\/button><\/form>/);
      const res = await browser.post('/portal/locations/offices/main-office/remove', { _csrf: csrf }).expect(303);
      assert.equal(res.headers['location'], '/portal/locations?office=removed');
      assert.deepEqual(await officesOf('p1'), []);
      const after = await browser.get('/portal/locations?office=removed').expect(200);
      assert.match(after.text, /Office removed\./);
      assert.match(after.text, /No office locations yet\./);
      const telehealthId = (await storedOf('p1')).find((l) => l.kind === 'virtual')?.id ?? '';
      await browser.post(`/portal/locations/offices/${telehealthId}/remove`, { _csrf: csrf }).expect(404);
      await browser.post('/portal/locations/offices/main-office/remove', { _csrf: csrf }).expect(404);
      assert.equal((await storedOf('p1')).length, 1);
    });

    it('when an office is the location of a future session, then removing it answers 409 with the LOCATION_IN_USE reason in the page and it stays; once the session is cancelled it goes', async () => {
      const browser = await signedInProvider(t, 'p1');
      const csrf = csrfOf(await browser.get('/portal/locations').expect(200));
      await browser.post('/portal/locations/offices', { _csrf: csrf, name: 'Main office', address: '1 Main St' }).expect(303);
      await t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-03T15:00:00Z', durationMinutes: 50, locationId: 'main-office' }).expect(201);
      const api = await t.platform.delete('/api/v1/providers/p1/locations/main-office').expect(409);
      assert.equal(api.body.error.code, 'LOCATION_IN_USE');
      const res = await browser.post('/portal/locations/offices/main-office/remove', { _csrf: csrf }).expect(409);
      assertPageHygiene(res);
      assert.match(res.text, /<p class="error" role="alert" id="remove-error">Not removed: Main office is the location of 1 upcoming session\. Move it to another location or cancel it first\.<\/p>/);
      assert.match(res.text, /<strong>Main office<\/strong>/);
      assert.equal((await officesOf('p1')).length, 1);

      await t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-03T15:00:00Z', durationMinutes: 50, locationId: 'main-office', status: 'cancelled' }).expect(200);
      await browser.post('/portal/locations/offices/main-office/remove', { _csrf: csrf }).expect(303);
      assert.deepEqual(await officesOf('p1'), []);
    });

    it('when an office is refused by the API\'s rules (empty, too long, control characters), then 400 with the message next to the named field, the input kept, and nothing stored', async () => {
      const browser = await signedInProvider(t, 'p1');
      const csrf = csrfOf(await browser.get('/portal/locations').expect(200));
      const cases: { form: Record<string, string>; field: 'name' | 'address'; label: string }[] = [
        { form: { name: '   ', address: '1 Main St' }, field: 'name', label: 'Office name' },
        { form: { name: 'x'.repeat(201), address: '1 Main St' }, field: 'name', label: 'Office name' },
        { form: { name: 'Main\u0007office', address: '1 Main St' }, field: 'name', label: 'Office name' },
        { form: { name: 'Main\tOffice', address: '1 Main St' }, field: 'name', label: 'Office name' },
        { form: { name: 'Main office', address: '' }, field: 'address', label: 'Address' },
        { form: { name: 'Main office', address: `1 Main St\u0000` }, field: 'address', label: 'Address' },
        { form: { name: 'Main office', address: 'y'.repeat(501) }, field: 'address', label: 'Address' },
      ];
      for (const c of cases) {
        const api = await t.platform.put('/api/v1/providers/p1/locations/o1', { kind: 'office', ...c.form }).expect(400);
        const detail = (api.body.error.details as { path: string; message: string }[]).find((d) => d.path === c.field);
        assert.ok(detail, JSON.stringify(api.body));
        const res = await browser.post('/portal/locations/offices', { _csrf: csrf, ...c.form }).expect(400);
        assertPageHygiene(res);
        const escaped = detail.message.replace(/[()+]/g, '\\$&');
        assert.match(res.text, new RegExp(`<p class="error field-error" id="office-${c.field}-error">${c.label} ${escaped}</p>`), JSON.stringify(c.form));
        assert.match(res.text, new RegExp(`id="office-${c.field}"[^>]* aria-invalid="true" aria-describedby="office-${c.field}-error"`));
        assert.match(res.text, new RegExp(`role="alert" id="office-error"><p>Office not saved\\. Check ${c.label}\\.</p>`));
      }
      const kept = await browser.post('/portal/locations/offices', { _csrf: csrf, name: '', address: '7 Kept Rd <b>' }).expect(400);
      assert.match(kept.text, />7 Kept Rd &lt;b&gt;<\/textarea>/);
      assert.match(kept.text, /Office name must not be empty/);
      assert.deepEqual(await storedOf('p1'), []);
    });

    it('when an office form is posted without _csrf, with a wrong one, or with another session\'s, then 403 and nothing changes', async () => {
      const browser = await signedInProvider(t, 'p1');
      const other = await signedInProvider(t, 'p2');
      const otherCsrf = csrfOf(await other.get('/portal/locations').expect(200));
      await t.platform.put('/api/v1/providers/p1/locations/main-office', { kind: 'office', name: 'Main office', address: '1 Main St' }).expect(201);
      const extras: Record<string, string>[] = [{}, { _csrf: 'wrong' }, { _csrf: otherCsrf }];
      for (const extra of extras) {
        assertPageHygiene(await browser.post('/portal/locations/offices', { ...extra, name: 'New office', address: '2 Main St' }).expect(403));
        await browser.post('/portal/locations/offices', { ...extra, id: 'main-office', name: 'Changed', address: '3 Main St' }).expect(403);
        await browser.post('/portal/locations/offices/main-office/remove', extra).expect(403);
      }
      assert.deepEqual((await officesOf('p1')).map((l) => [l.id, l.name, l.address]), [['main-office', 'Main office', '1 Main St']]);
    });

    it('when p2 is signed in, then it never sees, edits or removes p1\'s offices, and its own office of the same name is its own', async () => {
      await aProviderNamed(t, 'p1', 'Dr. One');
      await t.platform.put('/api/v1/providers/p1/locations/main-office', { kind: 'office', name: 'P1 secret office', address: '9 Secret Rd' }).expect(201);
      const p2 = await signedInProvider(t, 'p2');
      const page = await p2.get('/portal/locations').expect(200);
      assert.ok(!page.text.includes('P1 secret office') && !page.text.includes('9 Secret Rd'));
      const editing = await p2.get('/portal/locations?edit=main-office').expect(200);
      assert.ok(!editing.text.includes('P1 secret office') && !editing.text.includes('name="id"'));
      const csrf = csrfOf(page);
      await p2.post('/portal/locations/offices/main-office/remove', { _csrf: csrf }).expect(404);
      await p2.post('/portal/locations/offices', { _csrf: csrf, id: 'main-office', name: 'Taken', address: '1 Evil St' }).expect(404);
      await p2.post('/portal/locations/offices', { _csrf: csrf, name: 'Main office', address: '2 Own St' }).expect(303);
      assert.deepEqual((await officesOf('p1')).map((l) => [l.id, l.name, l.address]), [['main-office', 'P1 secret office', '9 Secret Rd']]);
      assert.deepEqual((await officesOf('p2')).map((l) => [l.id, l.name, l.address]), [['main-office', 'Main office', '2 Own St']]);
      const own = await p2.get('/portal/locations').expect(200);
      assert.match(own.text, /2 Own St/);
      assert.ok(!own.text.includes('9 Secret Rd'));
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
      await t.platform.delete('/api/v1/providers/p1').expect(200);
      await p1.get('/portal').expect(401);
    });

    it('when the provider is offboarded (record kept), then its session opens nothing and no new portal link is issued', async () => {
      const p1 = await signedInProvider(t, 'p1');
      await t.platform.post('/api/v1/providers/p1/offboard', {}).expect(200);
      await p1.get('/portal').expect(401);
      const link = await t.admin.post('/api/v1/providers/p1/portal-links', {});
      assert.deepStrictEqual([link.status, link.body.error.code], [409, 'PROVIDER_OFFBOARDED']);
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

// ---- Calendar sections: connected calendars, privacy, other calendars, upcoming sessions ------

const ICS_SECRET = 'private-3c9d1e7a2b';
const BUSY_TITLE = 'Dentist with Dr Who';

async function icsServer(): Promise<{ url: string; host: string; close(): Promise<void> }> {
  const body = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Google Inc//Google Calendar 70.9054//EN',
    'BEGIN:VEVENT',
    'DTSTART:20261103T170000Z',
    'DTEND:20261103T180000Z',
    'UID:e0@google.com',
    'DTSTAMP:20261101T000000Z',
    `SUMMARY:${BUSY_TITLE}`,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/calendar' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: `http://${host}/calendar/ical/ada%40example.com/${ICS_SECRET}/basic.ics`, host, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Every visible form control of the page has a <label for> naming it. */
function assertLabelled(res: supertest.Response): void {
  for (const control of res.text.matchAll(/<(?:input|textarea|select)(?![^>]*type="hidden")[^>]*\sid="([^"]+)"/g)) {
    assert.match(res.text, new RegExp(`<label[^>]* for="${control[1]}"`), `no label for ${control[1]}`);
  }
}

describe('Web: provider portal, calendar sections', () => {
  let h: SyncHarness;
  let t: TestApp;
  let google: VendorRig;
  let ics: Awaited<ReturnType<typeof icsServer>>;
  beforeEach(async () => {
    ics = await icsServer();
    const reader = createIcsReader({ allowHosts: new Set([ics.host]), maxBytes: 1024 * 1024, uidDomain: 'sync.example.test' });
    h = await createSyncHarness([googleVendor], { busy: { ics: reader, refreshMinutes: 15 } });
    t = h.t;
    google = h.vendors[0]!;
    await seedProvider(t);
  });
  afterEach(async () => {
    await h.close();
    await ics.close();
  });

  const SECTIONS = ['/portal/calendars', '/portal/privacy', '/portal/busy', '/portal/sessions'];

  /** Connect Google from the portal page, then the vendor's redirect back with the cookie. */
  async function connectGoogle(browser: Browser): Promise<supertest.Response> {
    const csrf = csrfOf(await browser.get('/portal/calendars').expect(200));
    const started = await browser.post('/portal/calendars/connect', { _csrf: csrf, kind: 'google' }).expect(200);
    assertPageHygiene(started);
    const refresh = /^0;url=(.+)$/.exec(String(started.headers['refresh']))?.[1];
    assert.ok(refresh !== undefined && refresh.startsWith(google.authUrl), `Refresh: ${String(started.headers['refresh'])}`);
    assert.ok(started.text.includes('Continue to Google Calendar'));
    const url = new URL(refresh);
    const code = google.fake.issueAuthorizationCode(url.searchParams.get('code_challenge') ?? '', url.searchParams.get('redirect_uri') ?? '');
    return browser.get(`/oauth/google/callback?${new URLSearchParams({ code, state: url.searchParams.get('state') ?? '' }).toString()}`);
  }

  it('when a section is opened without a session, then 401 (JSON for the preview)', async () => {
    for (const path of SECTIONS) assertPageHygiene(await supertest(t.app).get(path).expect(401));
    const preview = await supertest(t.app).get('/portal/privacy/preview?mode=initials').expect(401);
    assert.equal(preview.body.error.code, 'UNAUTHENTICATED');
  });

  it('when each section is opened, then it has the CSP, no inline script or style, visible labels, its own title and a nav link', async () => {
    const browser = await signedInProvider(t, 'p1');
    const titles = ['Connected calendars', 'Privacy', 'Other calendars', 'Upcoming sessions'];
    for (const [i, path] of SECTIONS.entries()) {
      const res = await browser.get(path).expect(200);
      assertPageHygiene(res);
      assertLabelled(res);
      assert.match(res.text, new RegExp(`<title>${titles[i]} – sessionsync</title>`));
      assert.ok(res.text.includes(`<a href="${path}" aria-current="page">`), path);
    }
    const overview = await browser.get('/portal').expect(200);
    for (const path of SECTIONS) assert.ok(overview.text.includes(`href="${path}"`), `overview links ${path}`);
  });

  it('when a state-changing form of a section is posted without the right _csrf, then 403 and nothing changes', async () => {
    const browser = await signedInProvider(t, 'p1');
    for (const [path, form] of [
      ['/portal/calendars/connect', { kind: 'google' }],
      ['/portal/privacy', { mode: 'initials', baaAttested: 'on' }],
      ['/portal/busy', { url: ics.url }],
    ] as const) {
      assertPageHygiene(await browser.post(path, { ...form, _csrf: 'wrong' }).expect(403));
    }
    assert.deepEqual(await t.store.listConnections('p1'), []);
    assert.deepEqual(await t.store.listBusySources('p1'), []);
    assert.equal((await t.store.getProvider('p1'))?.privacy.mode, 'none');
  });

  describe('connected calendars', () => {
    it('when the page is opened, then it offers "Connect Google Calendar" and "Connect Outlook" and says none is connected', async () => {
      const browser = await signedInProvider(t, 'p1');
      const res = await browser.get('/portal/calendars').expect(200);
      assert.match(res.text, /<button type="submit">Connect Google Calendar<\/button>/);
      assert.match(res.text, /<button type="submit">Connect Outlook<\/button>/);
      assert.match(res.text, /No calendars connected yet/);
    });

    it('when Google is connected from the portal, then the consent page is opened and the callback sends the provider back to the page, which shows it active', async () => {
      const browser = await signedInProvider(t, 'p1');
      const callback = await connectGoogle(browser);
      assert.equal(callback.status, 303);
      assert.equal(callback.headers['location'], '/portal/calendars?connected=google');
      const page = await browser.get('/portal/calendars?connected=google').expect(200);
      assert.match(page.text, /Google Calendar is connected/);
      assert.match(page.text, /<span class="status ok">Active<\/span>/);
      assert.doesNotMatch(page.text, />Reconnect</);
      const [connection] = await t.store.listConnections('p1');
      assert.equal(connection?.status, 'active');
    });

    it('when Outlook is not configured on the server, then 409 with the page saying so', async () => {
      const browser = await signedInProvider(t, 'p1');
      const csrf = csrfOf(await browser.get('/portal/calendars').expect(200));
      const res = await browser.post('/portal/calendars/connect', { _csrf: csrf, kind: 'outlook' }).expect(409);
      assertPageHygiene(res);
      assert.match(res.text, /Outlook cannot be connected on this server yet/);
    });

    it('when the consent is refused, then the provider is sent back to the page with the reason', async () => {
      const browser = await signedInProvider(t, 'p1');
      const csrf = csrfOf(await browser.get('/portal/calendars').expect(200));
      const started = await browser.post('/portal/calendars/connect', { _csrf: csrf, kind: 'google' }).expect(200);
      const state = new URL(String(started.headers['refresh']).slice('0;url='.length)).searchParams.get('state') ?? '';
      const res = await browser.get(`/oauth/google/callback?${new URLSearchParams({ error: 'access_denied', state }).toString()}`).expect(303);
      assert.equal(res.headers['location'], '/portal/calendars?failed=denied');
      assert.match((await browser.get('/portal/calendars?failed=denied').expect(200)).text, /did not grant access/);
    });

    it('when a connection needs reauthorization, then the page says so with a "Reconnect" button that opens the consent page again', async () => {
      const browser = await signedInProvider(t, 'p1');
      await connectGoogle(browser);
      const [connection] = await t.store.listConnections('p1');
      assert.ok(connection);
      await t.store.transaction((tx) => tx.putConnection({ ...connection, status: 'needs_reauth', lastErrorCode: 'invalid_grant' }));
      const page = await browser.get('/portal/calendars').expect(200);
      assert.match(page.text, /Needs reconnecting/);
      assert.match(page.text, /Until you reconnect, changes to your sessions are not sent to it/);
      assert.ok(page.text.includes(`action="/portal/calendars/${connection.id}/reconnect"`));
      const res = await browser.post(`/portal/calendars/${connection.id}/reconnect`, { _csrf: csrfOf(page) }).expect(200);
      assert.ok(String(res.headers['refresh']).startsWith(`0;url=${google.authUrl}`));
    });

    it('when a connection is disconnected with "Also remove the events sessionsync wrote", then our events leave the calendar and the page says how many', async () => {
      const browser = await signedInProvider(t, 'p1');
      await connectGoogle(browser);
      await t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-03T10:00:00-05:00', durationMinutes: 50, client: CLIENT }).expect(201);
      await h.settle();
      assert.equal(h.live(google).length, 1);
      const page = await browser.get('/portal/calendars').expect(200);
      assert.match(page.text, /Also remove the events sessionsync wrote/);
      const [connection] = await t.store.listConnections('p1');
      assert.match(page.text, /name="removeEvents" value="on" checked/, 'removing our events is the default');
      const res = await browser.post(`/portal/calendars/${connection?.id ?? ''}/disconnect`, { _csrf: csrfOf(page), removeEvents: 'on' }).expect(303);
      assert.equal(res.headers['location'], '/portal/calendars?disconnecting=1&removeRequested=1');
      const during = await browser.get(String(res.headers['location'])).expect(200);
      assert.match(during.text, /Disconnecting: sessionsync is removing the events it wrote, then withdraws its access/);
      assert.match(during.text, /<span class="status">Disconnecting<\/span> – removing the events sessionsync wrote/);
      await h.settle();
      assert.equal(h.live(google).length, 0);
      assert.equal(google.fake.requestCount('revoke'), 1);
      const after = await browser.get('/portal/calendars').expect(200);
      assert.match(after.text, /No calendars connected yet/);
    });

    it('when a connection is disconnected without removal, then the events stay', async () => {
      const browser = await signedInProvider(t, 'p1');
      await connectGoogle(browser);
      await t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-03T10:00:00-05:00', durationMinutes: 50 }).expect(201);
      await h.settle();
      const [connection] = await t.store.listConnections('p1');
      const csrf = csrfOf(await browser.get('/portal/calendars').expect(200));
      const res = await browser.post(`/portal/calendars/${connection?.id ?? ''}/disconnect`, { _csrf: csrf }).expect(303);
      assert.match((await browser.get(String(res.headers['location'])).expect(200)).text, /the events already in the calendar stay there/);
      await h.settle();
      assert.equal(h.live(google).length, 1);
      assert.equal(google.fake.requestCount('revoke'), 1, 'the grant is revoked all the same');
      assert.equal((await t.store.getConnection(connection!.id))!.status, 'disconnected');
    });
  });

  describe('privacy', () => {
    beforeEach(async () => {
      await aProviderNamed(t, 'p1');
      await t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-03T10:00:00-05:00', durationMinutes: 50, client: CLIENT }).expect(201);
    });

    it('when the page is opened, then the three choices and the BAA box have visible labels and the preview renders the next session', async () => {
      const browser = await signedInProvider(t, 'p1');
      const res = await browser.get('/portal/privacy').expect(200);
      assert.match(res.text, /<legend>What the external calendar shows<\/legend>/);
      for (const label of ['Nothing identifying', 'Client initials', 'Client full name']) assert.match(res.text, new RegExp(`<label class="inline" for="privacy-[a-z]+">${label}</label>`));
      assert.match(res.text, /<label class="inline" for="baa-attested">My calendar service has signed a BAA/);
      assert.match(res.text, /id="privacy-preview" class="preview" aria-live="polite"/);
      assert.match(res.text, /Your next session will show as:/);
      assert.match(res.text, /<strong id="preview-summary">Telehealth session<\/strong>/);
      assert.match(res.text, /Tuesday, November 3, 10:00 AM – 10:50 AM \(America\/New_York\)/);
      assert.match(res.text, /id="privacy-none" name="mode" value="none" checked/);
    });

    it('when the preview is asked for a choice, then it answers the summary toCalendarEvent gives, initials and names only with the BAA', async () => {
      const browser = await signedInProvider(t, 'p1');
      const ask = async (query: string) => (await browser.get(`/portal/privacy/preview?${query}`).expect(200)).body as { summary: string; needsBaa: boolean; sample: boolean };
      assert.deepEqual(await ask('mode=initials&baaAttested=true').then((b) => [b.summary, b.needsBaa, b.sample]), ['Telehealth session with J.D.', false, false]);
      assert.equal((await ask('mode=full&baaAttested=true')).summary, 'Telehealth session with Jane Doe');
      assert.deepEqual(await ask('mode=initials').then((b) => [b.summary, b.needsBaa]), ['Telehealth session', true]);
      assert.equal((await ask('mode=bogus')).summary, 'Telehealth session');
      assert.equal((await t.store.getProvider('p1'))?.privacy.mode, 'none', 'nothing saved');
    });

    it('when there is no upcoming session, then the preview renders a sample one', async () => {
      const browser = await signedInProvider(t, 'p2');
      const res = await browser.get('/portal/privacy').expect(200);
      assert.match(res.text, /A sample session \(client Alex Morgan\) would show as:/);
      assert.equal((await browser.get('/portal/privacy/preview?mode=initials&baaAttested=true').expect(200)).body.summary, 'Session with A.M.');
    });

    it('when full names are chosen without the BAA attestation, then 400 with the reason and nothing saved; with it, 303 and saved', async () => {
      const browser = await signedInProvider(t, 'p1');
      const csrf = csrfOf(await browser.get('/portal/privacy').expect(200));
      const refused = await browser.post('/portal/privacy', { _csrf: csrf, mode: 'full' }).expect(400);
      assertPageHygiene(refused);
      assert.match(refused.text, /Initials or full names need the BAA attestation/);
      assert.match(refused.text, /id="privacy-full" name="mode" value="full" checked/);
      assert.equal((await t.store.getProvider('p1'))?.privacy.mode, 'none');
      const saved = await browser.post('/portal/privacy', { _csrf: csrf, mode: 'initials', baaAttested: 'on' }).expect(303);
      assert.equal(saved.headers['location'], '/portal/privacy?saved=1');
      assert.deepEqual((await t.store.getProvider('p1'))?.privacy, { mode: 'initials', baaAttested: true });
      const page = await browser.get('/portal/privacy?saved=1').expect(200);
      assert.match(page.text, /Privacy saved/);
      assert.match(page.text, /<strong id="preview-summary">Telehealth session with J\.D\.<\/strong>/);
    });
  });

  describe('other calendars', () => {
    it('when an ICS address is added, then it is read at once and listed by host with status, last read, no error and its busy periods, never its address', async () => {
      const browser = await signedInProvider(t, 'p1');
      const page = await browser.get('/portal/busy').expect(200);
      assert.match(page.text, /<label for="busy-url">Calendar address \(ICS\)<\/label>/);
      assert.match(page.text, /<button type="submit">Add calendar<\/button>/);
      const res = await browser.post('/portal/busy', { _csrf: csrfOf(page), url: ics.url }).expect(303);
      assert.equal(res.headers['location'], '/portal/busy?added=1');
      const after = await browser.get('/portal/busy?added=1').expect(200);
      assert.ok(after.text.includes(`Calendar at ${ics.host}`));
      assert.match(after.text, /<dd class="busy-status">Read<\/dd>/);
      assert.match(after.text, /<dt>Last read<\/dt><dd>2026-11-02 12:00 UTC<\/dd>/);
      assert.match(after.text, /<dt>Last error<\/dt><dd>None<\/dd>/);
      assert.match(after.text, /<dt>Busy periods<\/dt><dd>1<\/dd>/);
      assert.ok(!after.text.includes(ICS_SECRET) && !after.text.includes(BUSY_TITLE));
    });

    it('when a refused address is added, then 400 with the reason, and nothing is stored', async () => {
      const browser = await signedInProvider(t, 'p1');
      const csrf = csrfOf(await browser.get('/portal/busy').expect(200));
      const res = await browser.post('/portal/busy', { _csrf: csrf, url: 'ftp://example.com/cal.ics' }).expect(400);
      assertPageHygiene(res);
      assert.match(res.text, /Not added\. The calendar address is refused/);
      assert.deepEqual(await t.store.listBusySources('p1'), []);
    });

    it('when a connected calendar is picked, then it is listed as a source; "Remove" takes a source away', async () => {
      const browser = await signedInProvider(t, 'p1');
      await connectGoogle(browser);
      const page = await browser.get('/portal/busy').expect(200);
      assert.match(page.text, /<label for="busy-connection">Connected calendar<\/label>/);
      const [connection] = await t.store.listConnections('p1');
      await browser.post('/portal/busy/connection', { _csrf: csrfOf(page), connectionId: connection?.id ?? '' }).expect(303);
      const [source] = await t.store.listBusySources('p1');
      assert.equal(source?.connectionId, connection?.id);
      const listed = await browser.get('/portal/busy').expect(200);
      assert.match(listed.text, /<h3>Google Calendar/);
      assert.match(listed.text, /Every connected calendar is already used/);
      const removed = await browser.post(`/portal/busy/${source?.id ?? ''}/remove`, { _csrf: csrfOf(listed) }).expect(303);
      assert.equal(removed.headers['location'], '/portal/busy?removed=1');
      assert.deepEqual(await t.store.listBusySources('p1'), []);
    });
  });

  describe('upcoming sessions', () => {
    it('when the page is opened, then the next two weeks are listed day by day in the provider\'s zone, titles per the privacy mode, with the link and busy time without titles', async () => {
      await t.platform.put('/api/v1/providers/p1', { name: 'Dr. Ada Byron', timezone: 'America/New_York', privacy: { mode: 'initials', baaAttested: true } }).expect(200);
      await t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-03T10:00:00-05:00', durationMinutes: 50, client: CLIENT }).expect(201);
      await t.platform.put('/api/v1/providers/p1/sessions/late', { start: '2026-11-30T10:00:00-05:00', durationMinutes: 50, client: CLIENT }).expect(201);
      await t.platform.put('/api/v1/providers/p1/busy-sources/personal', { kind: 'ics', url: ics.url }).expect(201);
      await t.platform.post('/api/v1/providers/p1/busy-sources/personal/refresh').expect(200);
      const browser = await browserWith(t, await cookieFor(t, 'p1'));
      const res = await browser.get('/portal/sessions').expect(200);
      assertPageHygiene(res);
      assert.match(res.text, /Times are in America\/New_York/);
      // Now (Monday 7:00 AM there) to the same time two weeks on: 15 calendar days, empty ones too.
      assert.equal([...res.text.matchAll(/<section class="day"/g)].length, 15);
      assert.match(res.text, /<h2>Monday, November 2<\/h2>/);
      assert.match(res.text, /<h2>Sunday, November 8<\/h2>\n<p class="hint">Nothing scheduled\.<\/p>/);
      assert.match(res.text, /<h2>Monday, November 16<\/h2>/);
      assert.match(res.text, /10:00 AM – 10:50 AM<\/span> <strong>Telehealth session with J\.D\.<\/strong> <a href="https:\/\/doxy\.me\/drbyron"/);
      assert.match(res.text, /<li class="busy"><span class="time">12:00 PM – 1:00 PM<\/span> Busy in another calendar<\/li>/);
      assert.ok(!res.text.includes(BUSY_TITLE) && !res.text.includes('Jane'), 'no busy titles, no client name under initials');
      assert.ok(!res.text.includes('November 30'), 'only two weeks');
    });
  });

  describe('scoping', () => {
    it('when p2 is signed in, then it sees none of p1\'s connections, busy sources or sessions, and cannot disconnect or remove them', async () => {
      const p1 = await signedInProvider(t, 'p1');
      await connectGoogle(p1);
      await t.platform.put('/api/v1/providers/p1', { name: 'Dr. One', timezone: 'America/New_York', privacy: { mode: 'full', baaAttested: true } }).expect(200);
      await t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-03T10:00:00-05:00', durationMinutes: 50, client: CLIENT }).expect(201);
      await t.platform.put('/api/v1/providers/p1/busy-sources/p1-own-source', { kind: 'ics', url: ics.url }).expect(201);
      const [connection] = await t.store.listConnections('p1');
      assert.ok(connection);
      const p2 = await signedInProvider(t, 'p2');
      for (const path of [...SECTIONS, '/portal/privacy/preview?mode=full&baaAttested=true']) {
        const text = (await p2.get(path).expect(200)).text;
        for (const secret of ['Dr. One', 'Doe', 'doxy.me', ics.host, connection.id, 'p1-own-source', ...(connection.accountEmail === null ? [] : [connection.accountEmail])]) assert.ok(!text.includes(secret), `${path} shows ${secret}`);
      }
      const csrf = csrfOf(await p2.get('/portal/calendars').expect(200));
      await p2.post(`/portal/calendars/${connection.id}/disconnect`, { _csrf: csrf, removeEvents: 'on' }).expect(404);
      await p2.post(`/portal/calendars/${connection.id}/reconnect`, { _csrf: csrf }).expect(404);
      await p2.post('/portal/busy/p1-own-source/remove', { _csrf: csrf }).expect(404);
      await p2.post('/portal/busy/connection', { _csrf: csrf, connectionId: connection.id }).expect(404);
      assert.equal((await t.store.getConnection(connection.id))?.status, 'active');
      assert.equal((await t.store.listBusySources('p1')).length, 1);
      assert.deepEqual(await t.store.listBusySources('p2'), []);
    });

    it('when another provider\'s browser completes p1\'s authorization, then it is not sent into p1\'s portal page', async () => {
      const p2 = await signedInProvider(t, 'p2');
      const created = await t.platform.post('/api/v1/providers/p1/connections', { kind: 'google' }).expect(201);
      const url = new URL(String(created.body.authorizeUrl));
      const code = google.fake.issueAuthorizationCode(url.searchParams.get('code_challenge') ?? '', url.searchParams.get('redirect_uri') ?? '');
      const res = await p2.get(`/oauth/google/callback?${new URLSearchParams({ code, state: url.searchParams.get('state') ?? '' }).toString()}`).expect(200);
      assert.match(res.text, /Calendar connected/);
    });
  });
});

async function cookieFor(t: TestApp, providerId: string): Promise<string> {
  const res = await supertest(t.app).get(await portalLinkPath(t, providerId)).expect(303);
  return setCookie(res, 'ss_session') ?? '';
}
