import assert from 'node:assert/strict';
import supertest from 'supertest';
import { ADMIN_TOKEN, createTestApp, PLATFORM_TOKEN, type TestApp } from '../support/test-app.js';
import { assertPageHygiene, browserWith, csrfOf, setCookie, setCookieLine } from '../support/web.js';

/** GET the sign-in form: its nonce cookie and CSRF token. */
async function signInForm(t: TestApp): Promise<{ nonce: string; csrf: string; res: supertest.Response }> {
  const res = await supertest(t.app).get('/admin/sign-in').expect(200);
  const nonce = setCookie(res, 'ss_signin');
  assert.ok(nonce);
  return { nonce, csrf: csrfOf(res), res };
}

async function signIn(t: TestApp, token: string): Promise<supertest.Response> {
  const { nonce, csrf } = await signInForm(t);
  return supertest(t.app).post('/admin/sign-in').set('Cookie', `ss_signin=${nonce}`).type('form').send({ _csrf: csrf, token });
}

describe('Web: admin console', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  it('when the sign-in page is opened, then it has the labelled password field and button, and no token', async () => {
    const { res } = await signInForm(t);
    assertPageHygiene(res);
    assert.match(res.text, /<label for="admin-token">Admin token<\/label>/);
    assert.match(res.text, /<input type="password" id="admin-token" name="token"/);
    assert.match(res.text, /<button type="submit">Sign in<\/button>/);
    assert.match(res.text, /<form method="post" action="\/admin\/sign-in">/);
    assert.match(setCookieLine(res, 'ss_signin'), /; HttpOnly.*; SameSite=Strict/);
  });

  it('when the right token is posted, then 303 to /admin with a Secure httpOnly session cookie, and the health page opens', async () => {
    const res = await signIn(t, ADMIN_TOKEN);
    assert.equal(res.status, 303);
    assert.equal(res.headers['location'], '/admin');
    const line = setCookieLine(res, 'ss_session');
    assert.match(line, /; HttpOnly/);
    assert.match(line, /; Secure/);
    assert.match(line, /; SameSite=Lax/);
    const admin = browserWith(t, setCookie(res, 'ss_session') ?? '');
    const health = await admin.get('/admin').expect(200);
    assertPageHygiene(health);
    assert.match(health.text, /<title>Sync health – sessionsync<\/title>/);
    assert.match(health.text, /Needing reauthorization/);
    assert.match(health.text, /Dead-lettered/);
    assert.match(health.text, /Pending changes/);
  });

  it('when a wrong token (or the platform token) is posted, then 401, no session, and the token appears in no answer or log', async () => {
    for (const wrong of ['not-the-admin-token-0123456789', PLATFORM_TOKEN]) {
      const res = await signIn(t, wrong);
      assert.equal(res.status, 401);
      assertPageHygiene(res);
      assert.match(res.text, /not valid/);
      assert.equal(setCookie(res, 'ss_session'), null);
      assert.ok(!res.text.includes(wrong));
    }
    const ok = await signIn(t, ADMIN_TOKEN);
    assert.ok(!ok.text.includes(ADMIN_TOKEN) && !JSON.stringify(ok.headers).includes(ADMIN_TOKEN));
    const logs = t.rawLogs.join('');
    assert.ok(!logs.includes(ADMIN_TOKEN) && !logs.includes('not-the-admin-token'));
  });

  it('when sign-in is posted without the form\'s CSRF token or from another site, then 403', async () => {
    const { nonce, csrf } = await signInForm(t);
    const post = () => supertest(t.app).post('/admin/sign-in').type('form');
    assert.equal((await post().set('Cookie', `ss_signin=${nonce}`).send({ token: ADMIN_TOKEN })).status, 403);
    assert.equal((await post().send({ _csrf: csrf, token: ADMIN_TOKEN })).status, 403);
    assert.equal((await post().set('Cookie', `ss_signin=${nonce}`).set('Origin', 'https://evil.example').send({ _csrf: csrf, token: ADMIN_TOKEN })).status, 403);
  });

  it('when no admin session is held, then /admin redirects to the sign-in page', async () => {
    const res = await supertest(t.app).get('/admin').expect(303);
    assert.equal(res.headers['location'], '/admin/sign-in');
    assertPageHygiene(res);
  });

  it('when the admin signs out, then the session is revoked: /admin redirects to sign-in again', async () => {
    const admin = browserWith(t, setCookie(await signIn(t, ADMIN_TOKEN), 'ss_session') ?? '');
    const csrf = csrfOf(await admin.get('/admin').expect(200));
    await admin.post('/admin/sign-out', {}).expect(403);
    const res = await admin.post('/admin/sign-out', { _csrf: csrf }).expect(303);
    assert.equal(res.headers['location'], '/admin/sign-in');
    assert.equal(setCookie(res, 'ss_session'), '');
    await admin.get('/admin').expect(303);
  });

  it('when an admin session is shown to /portal, then it opens nothing there', async () => {
    const admin = browserWith(t, setCookie(await signIn(t, ADMIN_TOKEN), 'ss_session') ?? '');
    await admin.get('/portal').expect(401);
  });
});
