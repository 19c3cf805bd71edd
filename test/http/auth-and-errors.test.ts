import assert from 'node:assert/strict';
import supertest from 'supertest';
import { ADMIN_TOKEN, PLATFORM_TOKEN, createTestApp, type TestApp } from '../support/test-app.js';

describe('HTTP: auth, health and error responses', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  const provider = { name: 'Dr. Ada Byron', timezone: 'America/New_York' };

  it('when no bearer token is sent, then 401 with a JSON error and a WWW-Authenticate challenge', async () => {
    const res = await supertest(t.app).get('/api/v1/providers/p1');
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'UNAUTHENTICATED');
    assert.match(res.headers['www-authenticate'] ?? '', /^Bearer/);
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  it('when the token is wrong or the scheme is not Bearer, then 401', async () => {
    for (const header of [`Bearer ${ADMIN_TOKEN}x`, `Basic ${ADMIN_TOKEN}`, 'Bearer', `Bearer ${PLATFORM_TOKEN.slice(0, -1)}`]) {
      const res = await supertest(t.app).get('/api/v1/providers/p1').set('Authorization', header);
      assert.equal(res.status, 401, header);
    }
  });

  it('when the platform token calls an admin route, then 403; the admin token passes', async () => {
    const platform = await supertest(t.app).get('/api/v1/admin/anything').set('Authorization', `Bearer ${PLATFORM_TOKEN}`);
    assert.equal(platform.status, 403);
    assert.equal(platform.body.error.code, 'FORBIDDEN');
    const admin = await t.admin.get('/api/v1/admin/anything');
    assert.equal(admin.status, 404);
  });

  it('when either token calls the platform API, then it is served', async () => {
    assert.equal((await t.platform.put('/api/v1/providers/p1', provider)).status, 201);
    assert.equal((await t.admin.get('/api/v1/providers/p1')).status, 200);
  });

  it('when the body is not JSON, then 415 and nothing is stored', async () => {
    const res = await t.platform.put('/api/v1/providers/p1').set('Content-Type', 'text/plain').send('name=x');
    assert.equal(res.status, 415);
    assert.equal(res.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.equal((await t.platform.get('/api/v1/providers/p1')).status, 404);
  });

  it('when the JSON is malformed, then 400 MALFORMED_JSON', async () => {
    const res = await t.platform.put('/api/v1/providers/p1').set('Content-Type', 'application/json').send('{"name": ');
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'MALFORMED_JSON');
  });

  it('when the body is over 100 kB, then 413', async () => {
    const res = await t.platform.put('/api/v1/providers/p1', { ...provider, name: 'x'.repeat(110_000) });
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'PAYLOAD_TOO_LARGE');
  });

  it('when the body is a JSON array or a scalar, then 400 naming the body, never 500', async () => {
    const array = await t.platform.put('/api/v1/providers/p1', [provider]);
    assert.equal(array.status, 400);
    assert.equal(array.body.error.code, 'VALIDATION_FAILED');
    const empty = await t.platform.put('/api/v1/providers/p1').set('Content-Type', 'application/json').send('');
    assert.equal(empty.status, 400);
  });

  it('when the body nests 40,000 arrays deep, then 400 naming the nesting, never 500', async () => {
    const deep = '['.repeat(40_000) + ']'.repeat(40_000);
    const res = await t.platform.put('/api/v1/providers/p1').set('Content-Type', 'application/json').send(deep);
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'VALIDATION_FAILED');
    assert.match(res.body.error.details[0].message, /nest deeper/);
  });

  it('when a query string has an unknown parameter or a number not in plain decimal, then 400 naming it', async () => {
    await t.platform.put('/api/v1/providers/p1', provider);
    const cases: [supertest.Test, string][] = [
      [t.platform.get('/api/v1/providers/p1/sessions?form=2026-11-01T00:00:00Z'), '(body)'],
      [t.platform.delete('/api/v1/providers/p1/connections/0b6e4f3a-8d2c-4b1e-9f7a-2c3d4e5f6a7b?removeEvent=true'), '(body)'],
      [t.admin.get('/api/v1/admin/audit?limit=0x10'), 'limit'],
      [t.admin.get('/api/v1/admin/audit?limit=1e2'), 'limit'],
      [t.admin.get('/api/v1/admin/audit?before=+5'), 'before'],
      [t.admin.get('/api/v1/admin/audit?limit=501'), 'limit'],
    ];
    for (const [request, path] of cases) {
      const res = await request;
      const label = `${path}: ${JSON.stringify(res.body)}`;
      assert.equal(res.status, 400, label);
      assert.equal(res.body.error.code, 'VALIDATION_FAILED', label);
      assert.equal(res.body.error.details[0].path, path, label);
    }
    assert.equal((await t.admin.get('/api/v1/admin/audit?limit=20&before=7')).status, 200);
  });

  it('when a route does not exist, then a JSON 404', async () => {
    const res = await t.platform.get('/api/v1/nowhere');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'NOT_FOUND');
    const outside = await supertest(t.app).get('/nowhere');
    assert.equal(outside.status, 404);
  });

  it('when an id has characters outside [A-Za-z0-9_-] or is too long, then 400 naming the parameter', async () => {
    for (const id of ['a.b', 'x'.repeat(65), 'caf%C3%A9']) {
      const res = await t.platform.put(`/api/v1/providers/${id}`, provider);
      assert.equal(res.status, 400, id);
      assert.equal(res.body.error.details[0].path, 'providerId');
    }
  });

  it('when /healthz and /readyz are asked, then both answer without auth', async () => {
    assert.deepEqual((await supertest(t.app).get('/healthz')).body, { status: 'ok' });
    assert.deepEqual((await supertest(t.app).get('/readyz')).body, { status: 'ready' });
  });

  it('when the database is gone, then /readyz answers 503', async () => {
    await t.store.close();
    const res = await supertest(t.app).get('/readyz');
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'SERVICE_UNAVAILABLE');
    t = await createTestApp();
  });

  it('when requests are logged, then no token and no URL path with secrets reaches the log', async () => {
    await t.platform.put('/api/v1/providers/p1', provider);
    await supertest(t.app).get('/feeds/not-a-real-token-but-secret-looking.ics');
    const all = t.rawLogs.join('');
    assert.ok(all.includes('"route"'), 'requests are logged');
    assert.ok(!all.includes(PLATFORM_TOKEN));
    assert.ok(!all.includes('secret-looking'));
  });
});
