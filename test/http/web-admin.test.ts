import assert from 'node:assert/strict';
import supertest from 'supertest';
import { ADMIN_TOKEN, createTestApp, PLATFORM_TOKEN, type TestApp } from '../support/test-app.js';
import { aDeadTarget, resyncRunnerOf, signedInAdmin } from '../support/admin-web.js';
import { aProviderNamed, assertPageHygiene, browserWith, csrfOf, setCookie, setCookieLine, signedInProvider, type Browser } from '../support/web.js';

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

describe('Web: admin console pages', () => {
  let t: TestApp;
  let admin: Browser;
  beforeEach(async () => {
    t = await createTestApp();
    admin = await signedInAdmin(t);
  });
  afterEach(() => t.close());

  const PAGES = ['/admin', '/admin/resync', '/admin/providers', '/admin/providers?q=p', '/admin/audit'];

  it('when any console page is opened without a session, then it redirects to sign-in; its JSON answers 401', async () => {
    for (const path of [...PAGES, '/admin/providers/p1', `/admin/jobs/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`]) {
      const res = await supertest(t.app).get(path).expect(303);
      assert.equal(res.headers['location'], '/admin/sign-in', path);
    }
    const json = await supertest(t.app).get('/admin/jobs/00000000-0000-4000-8000-000000000000.json').expect(401);
    assert.equal(json.body.error.code, 'UNAUTHENTICATED');
    // A portal (provider) session opens none of them either.
    const provider = await signedInProvider(t, 'p1');
    assert.equal((await provider.get('/admin/audit').expect(303)).headers['location'], '/admin/sign-in');
  });

  it('when each console page is opened, then it has the CSP, no inline script or style, landmarks, one h1, the nav and a generic title', async () => {
    for (const path of PAGES) {
      const res = await admin.get(path).expect(200);
      assertPageHygiene(res);
      assert.match(res.text, /<nav aria-label="Main">/, path);
      assert.equal(res.text.match(/<h1>/g)?.length, 1, path);
      assert.match(res.text, /<title>[A-Z][a-z ]+ – sessionsync<\/title>/, path);
      assert.match(res.text, /<script src="\/web\/admin\.js\?v=[0-9a-f]{12}" defer><\/script>/, path);
    }
    const js = await supertest(t.app).get('/web/admin.js').expect(200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.match(js.text, /aria|data-job-poll/);
  });

  it('when a target is dead-lettered, then the health page lists it with its error code and a Retry button that re-queues it (CSRF required)', async () => {
    const dead = await aDeadTarget(t, { errorCode: 'HTTP_400' });
    const health = await admin.get('/admin').expect(200);
    assert.match(health.text, new RegExp(`<code id="target-${dead.id}">${dead.id}</code>`));
    assert.match(health.text, /<td>HTTP_400<\/td>/);
    assert.match(health.text, new RegExp(`<form method="post" action="/admin/targets/${dead.id}/retry" class="inline">`));
    assert.match(health.text, /<button type="submit" class="secondary" aria-describedby="target-[^"]+">Retry<\/button>/);

    await admin.post(`/admin/targets/${dead.id}/retry`, { back: '/admin' }).expect(403);
    await supertest(t.app).post(`/admin/targets/${dead.id}/retry`).type('form').send({ _csrf: csrfOf(health) }).expect(401);
    const retried = await admin.post(`/admin/targets/${dead.id}/retry`, { _csrf: csrfOf(health), back: '/admin' }).expect(303);
    assert.equal(retried.headers['location'], '/admin?retried=1');
    assert.equal((await t.store.getTarget(dead.id))?.deadAt, null);
    const after = await admin.get('/admin?retried=1').expect(200);
    assert.match(after.text, /class="notice" role="status">The event was queued again/);
    assert.doesNotMatch(after.text, new RegExp(`target-${dead.id}`));
    const audit = await t.admin.get('/api/v1/admin/audit').expect(200);
    assert.deepEqual(audit.body.entries[0], { ...audit.body.entries[0], actor: 'admin-console', action: 'target.retry', target: `target:${dead.id}` });
  });

  it('when a retry form names somewhere else to go back to, then it goes back to /admin', async () => {
    const dead = await aDeadTarget(t);
    const csrf = csrfOf(await admin.get('/admin').expect(200));
    const res = await admin.post(`/admin/targets/${dead.id}/retry`, { _csrf: csrf, back: 'https://evil.example/' }).expect(303);
    assert.equal(res.headers['location'], '/admin?retried=1');
    await admin.post('/admin/targets/not-a-uuid/retry', { _csrf: csrf }).expect(404);
  });

  it('when the resync form is opened, then it has the labelled provider id field, the Dry run checkbox and the Resync button', async () => {
    const res = await admin.get('/admin/resync').expect(200);
    assert.match(res.text, /<label for="resync-provider">Provider id<\/label>/);
    assert.match(res.text, /<input type="text" id="resync-provider" name="providerId"/);
    assert.match(res.text, /<input type="checkbox" id="resync-dry-run" name="dryRun" value="true"><label class="inline" for="resync-dry-run">Dry run<\/label>/);
    assert.match(res.text, /<button type="submit">Resync<\/button>/);
    assert.match(res.text, /Leave empty to resync every provider/);
  });

  it('when a dry-run resync of one provider is posted, then it redirects to the job page, which polls until the runner finishes and then shows the plan', async () => {
    await aProviderNamed(t, 'p1');
    const csrf = csrfOf(await admin.get('/admin/resync').expect(200));
    await admin.post('/admin/resync', { providerId: 'p1', dryRun: 'true' }).expect(403);
    const started = await admin.post('/admin/resync', { _csrf: csrf, providerId: 'p1', dryRun: 'true' }).expect(303);
    const location = String(started.headers['location']);
    const id = /^\/admin\/jobs\/([0-9a-f-]{36})$/.exec(location)?.[1];
    assert.ok(id, location);

    const queued = await admin.get(location).expect(200);
    assertPageHygiene(queued);
    assert.match(queued.text, /<title>Resync job – sessionsync<\/title>/);
    assert.match(queued.text, new RegExp(`<p id="job-live" role="status" aria-live="polite" data-job-poll="/admin/jobs/${id}\\.json">Queued: 0 of 0`));
    assert.match(queued.text, new RegExp(`<a href="/admin/jobs/${id}">Refresh</a>`));
    assert.match(queued.text, /provider <code>p1<\/code>/);
    assert.match(queued.text, /Dry run/);
    const polled = await admin.get(`/admin/jobs/${id}.json`).expect(200);
    assert.deepEqual(polled.body, { id, status: 'queued', finished: false, progress: { total: 0, done: 0, created: 0, updated: 0, deleted: 0, unchanged: 0, failed: 0 } });
    assert.equal(polled.headers['cache-control'], 'no-store');

    assert.equal(await resyncRunnerOf(t).runOnce(), true);
    assert.equal((await admin.get(`/admin/jobs/${id}.json`).expect(200)).body.finished, true);
    const done = await admin.get(location).expect(200);
    assert.doesNotMatch(done.text, /data-job-poll/);
    assert.match(done.text, /<span id="job-status">Finished<\/span>/);
    assert.match(done.text, /<h2>Result of the dry run<\/h2>/);
    assert.match(done.text, /<h2>Plan<\/h2>\s*<p>Nothing to change\.<\/p>/);

    const job = await t.admin.get(`/api/v1/admin/jobs/${id}`).expect(200);
    assert.deepEqual(job.body.request, { providerIds: ['p1'], connectionIds: null, dryRun: true });
  });

  it('when a real resync of all providers is posted with an empty provider id, then the job covers all providers and shows its result', async () => {
    const csrf = csrfOf(await admin.get('/admin/resync').expect(200));
    const started = await admin.post('/admin/resync', { _csrf: csrf, providerId: '' }).expect(303);
    const location = String(started.headers['location']);
    await resyncRunnerOf(t).runOnce();
    const done = await admin.get(location).expect(200);
    assert.match(done.text, /all providers/);
    assert.match(done.text, /Resync \(writes changes\)/);
    assert.match(done.text, /<h2>Result<\/h2>/);
    assert.doesNotMatch(done.text, /<h2>Plan<\/h2>/);
    const audit = await t.admin.get('/api/v1/admin/audit').expect(200);
    assert.equal(audit.body.entries[0].action, 'resync.run');
    assert.equal(audit.body.entries[0].actor, 'admin-console');
  });

  it('when the provider id is not an id, then the form answers 400 with the reason and queues nothing', async () => {
    const csrf = csrfOf(await admin.get('/admin/resync').expect(200));
    const res = await admin.post('/admin/resync', { _csrf: csrf, providerId: 'p 1/<x>' }).expect(400);
    assertPageHygiene(res);
    assert.match(res.text, /role="alert" id="resync-error">A provider id is 1 to 64 characters/);
    assert.match(res.text, /value="p 1\/&lt;x&gt;"/);
    assert.equal((await t.admin.get('/api/v1/admin/audit').expect(200)).body.entries.length, 0);
  });

  it('when an unknown or malformed job is opened, then 404', async () => {
    await admin.get('/admin/jobs/00000000-0000-4000-8000-000000000000').expect(404);
    await admin.get('/admin/jobs/00000000-0000-4000-8000-000000000000.json').expect(404);
    await admin.get('/admin/jobs/not-a-job').expect(404);
  });

  it('when providers are searched by part of the id or the name, then matches link to their pages; the search field is labelled', async () => {
    await aProviderNamed(t, 'p-ada', 'Dr. Ada Lovelace');
    await aProviderNamed(t, 'p-bob', 'Dr. Bob 100%_sure');
    const form = await admin.get('/admin/providers').expect(200);
    assert.match(form.text, /<form method="get" action="\/admin\/providers" role="search">/);
    assert.match(form.text, /<label for="provider-search">Search providers<\/label>/);
    const byName = await admin.get('/admin/providers?q=LOVELACE').expect(200);
    assert.match(byName.text, /<a href="\/admin\/providers\/p-ada"><code>p-ada<\/code><\/a>/);
    assert.doesNotMatch(byName.text, /p-bob/);
    const byId = await admin.get('/admin/providers?q=p-b').expect(200);
    assert.match(byId.text, /p-bob/);
    assert.doesNotMatch(byId.text, /p-ada/);
    // LIKE wildcards are literal.
    assert.match((await admin.get('/admin/providers?q=%25_').expect(200)).text, /p-bob/);
    assert.match((await admin.get('/admin/providers?q=nobody').expect(200)).text, /No provider matches/);
    assert.equal((await admin.get('/admin/providers?q=a&q=b')).status, 400);
  });

  it('when a provider has left, then its page says when and shows the offboarding with its counts per calendar', async () => {
    const dead = await aDeadTarget(t, { providerId: 'p1', errorCode: 'HTTP_403_FORBIDDEN' });
    await t.platform.post('/api/v1/providers/p1/feeds', {}).expect(201);
    const offboarded = await t.platform.post('/api/v1/providers/p1/offboard', {});
    const res = await admin.get('/admin/providers/p1').expect(200);
    assertPageHygiene(res);
    assert.match(res.text, new RegExp(`<th scope="row">Left the practice</th><td>${offboarded.body.requestedAt}</td>`));
    assert.match(res.text, /<h2>Offboarding<\/h2><p>Requested [^<]+ by <code>platform<\/code> \(keep the record\); (under way|finished [^;]+); 1 feed URL tombstoned\.<\/p>/);
    assert.match(res.text, new RegExp(`<td><code>${dead.connectionId}</code></td><td>google</td><td>(removing|done|incomplete)</td>`));
  });

  it('when a provider is opened, then it shows its feeds, connections and dead targets with codes and a Retry that comes back here', async () => {
    const dead = await aDeadTarget(t, { providerId: 'p1', errorCode: 'HTTP_403_FORBIDDEN' });
    await t.platform.post('/api/v1/providers/p1/feeds', { label: 'iPhone' }).expect(201);
    const res = await admin.get('/admin/providers/p1').expect(200);
    assertPageHygiene(res);
    assert.match(res.text, /<title>Provider – sessionsync<\/title>/);
    assert.match(res.text, /<h2>Calendar feeds<\/h2>[\s\S]*<td>iPhone<\/td><td>never<\/td>/);
    assert.match(res.text, new RegExp(`<td><code>${dead.connectionId}</code></td><td>google</td><td>active</td>`));
    assert.match(res.text, /<h2>Recent sync errors<\/h2>[\s\S]*HTTP_403_FORBIDDEN/);
    assert.match(res.text, /<input type="hidden" name="back" value="\/admin\/providers\/p1">/);
    assert.doesNotMatch(res.text, /ada@example\.org/);
    const retried = await admin.post(`/admin/targets/${dead.id}/retry`, { _csrf: csrfOf(res), back: '/admin/providers/p1' }).expect(303);
    assert.equal(retried.headers['location'], '/admin/providers/p1?retried=1');
    await admin.get('/admin/providers/nobody').expect(404);
    await admin.get('/admin/providers/bad%20id').expect(404);
  });

  it('when the audit log has more than a page, then it is newest first with an Older link that pages with before=', async () => {
    const csrf = csrfOf(await admin.get('/admin/resync').expect(200));
    for (let i = 0; i < 52; i++) await admin.post('/admin/resync', { _csrf: csrf, providerId: `p${i}`, dryRun: 'true' }).expect(303);
    const first = await admin.get('/admin/audit').expect(200);
    assertPageHygiene(first);
    assert.equal(first.text.match(/<tr><td>/g)?.length, 50);
    assert.ok(first.text.indexOf('providerIds=p51') < first.text.indexOf('providerIds=p50'), 'newest first');
    const older = /<a href="(\/admin\/audit\?before=\d+)">Older<\/a>/.exec(first.text)?.[1];
    assert.ok(older);
    const second = await admin.get(older).expect(200);
    assert.equal(second.text.match(/<tr><td>/g)?.length, 2);
    assert.match(second.text, /providerIds=p0/);
    assert.match(second.text, /<a href="\/admin\/audit">Newest<\/a>/);
    assert.doesNotMatch(second.text, />Older</);
    await admin.get('/admin/audit?before=0x10').expect(400);
  });
});
