import assert from 'node:assert/strict';
import supertest from 'supertest';
import { seedProvider } from '../support/seed.js';
import { createSyncHarness, googleVendor, type SyncHarness, type VendorRig } from '../support/sync-harness.js';
import { createTestApp, PLATFORM_TOKEN } from '../support/test-app.js';

describe('HTTP: calendar connections and the OAuth callback', () => {
  let h: SyncHarness;
  let google: VendorRig;
  beforeEach(async () => {
    h = await createSyncHarness([googleVendor]);
    google = h.vendors[0]!;
    await seedProvider(h.t);
  });
  afterEach(() => h.close());

  async function begin() {
    const res = await h.t.platform.post('/api/v1/providers/p1/connections', { kind: 'google' });
    assert.equal(res.status, 201);
    const url = new URL(res.body.authorizeUrl);
    return { id: res.body.id as string, url, state: url.searchParams.get('state')!, challenge: url.searchParams.get('code_challenge')!, redirect: url.searchParams.get('redirect_uri')! };
  }
  const callback = (query: Record<string, string>) => supertest(h.t.app).get('/oauth/google/callback').query(query);

  it('when a connection is created, then it is pending with an authorize URL carrying PKCE S256, state and our redirect URI', async () => {
    const { id, url, redirect } = await begin();
    assert.ok(url.href.startsWith(google.authUrl), url.href);
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(url.searchParams.get('response_type'), 'code');
    assert.equal(redirect, 'https://sync.example.test/oauth/google/callback');
    const stored = await h.t.store.getConnection(id);
    assert.equal(stored!.status, 'pending_authorization');
    assert.equal(stored!.sealedTokens, null);
  });

  it('when the callback comes back with a valid code, then the tokens are stored sealed, never in plain text', async () => {
    const { id, state, challenge, redirect } = await begin();
    const code = google.fake.issueAuthorizationCode(challenge, redirect);
    const res = await callback({ code, state });
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] ?? '', /text\/html/);
    assert.equal(res.headers['cache-control'], 'no-store');
    const stored = (await h.t.store.getConnection(id))!;
    assert.equal(stored.status, 'active');
    assert.equal(stored.accountEmail, 'provider@example.com');
    assert.match(stored.sealedTokens!, /^v2\.default\./);
    assert.doesNotMatch(stored.sealedTokens!, /ya29|refresh/);
    assert.equal(stored.pendingAuth, null);
  });

  it('when the state is replayed, forged, expired or for the other vendor, then 400 and nothing changes', async () => {
    const { id, state, challenge, redirect } = await begin();
    const code = google.fake.issueAuthorizationCode(challenge, redirect);
    assert.equal((await callback({ code, state: `${state}x` })).status, 400, 'forged');
    assert.equal((await supertest(h.t.app).get('/oauth/microsoft/callback').query({ code, state })).status, 400, 'other vendor');
    assert.equal((await h.t.store.getConnection(id))!.status, 'pending_authorization');

    assert.equal((await callback({ code, state })).status, 200);
    const after = await h.t.store.getConnection(id);
    const replay = await callback({ code, state });
    assert.equal(replay.status, 400, 'replayed');
    assert.equal(replay.body.error.code, 'OAUTH_STATE_INVALID');
    assert.deepEqual(await h.t.store.getConnection(id), after);

    const late = await begin();
    h.t.clock.advance(16 * 60_000);
    const lateCode = google.fake.issueAuthorizationCode(late.challenge, late.redirect);
    const expired = await callback({ code: lateCode, state: late.state });
    assert.equal(expired.status, 400, 'expired');
    assert.equal((await h.t.store.getConnection(late.id))!.status, 'pending_authorization');
  });

  it('when the account refuses consent, then 400 and the connection stays inactive', async () => {
    const { id, state } = await begin();
    const res = await callback({ error: 'access_denied', state });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'OAUTH_CONSENT_DENIED');
    const stored = (await h.t.store.getConnection(id))!;
    assert.equal(stored.status, 'pending_authorization');
    assert.equal(stored.lastErrorCode, 'CONSENT_DENIED');
  });

  it('when the code is wrong, then 400 and the connection stays pending', async () => {
    const { id, state } = await begin();
    const res = await callback({ code: 'not-a-code', state });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'OAUTH_EXCHANGE_FAILED');
    assert.equal((await h.t.store.getConnection(id))!.status, 'pending_authorization');
  });

  it('when the body or ids are bad, then 400 naming the field; unknown provider 404', async () => {
    const bad = await h.t.platform.post('/api/v1/providers/p1/connections', { kind: 'icloud' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.details[0].path, 'kind');
    assert.equal((await h.t.platform.post('/api/v1/providers/nobody/connections', { kind: 'google' })).status, 404);
    assert.equal((await h.t.platform.delete('/api/v1/providers/p1/connections/not-a-uuid')).status, 400);
    assert.equal((await h.t.platform.delete('/api/v1/providers/p1/connections/00000000-0000-4000-8000-000000000000')).status, 404);
  });

  it('when a vendor is not configured on the server, then 409 CONNECTOR_NOT_CONFIGURED', async () => {
    const res = await h.t.platform.post('/api/v1/providers/p1/connections', { kind: 'outlook' });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'CONNECTOR_NOT_CONFIGURED');
  });
});

describe('HTTP: /api/v1/admin', () => {
  it('when the platform token calls any admin route, then 403', async () => {
    const t = await createTestApp();
    try {
      for (const [method, path] of [
        ['post', '/api/v1/admin/resync'],
        ['get', '/api/v1/admin/sync-health'],
        ['get', '/api/v1/admin/audit'],
        ['get', '/api/v1/admin/jobs/00000000-0000-4000-8000-000000000000'],
        ['post', '/api/v1/admin/targets/00000000-0000-4000-8000-000000000000/retry'],
      ] as const) {
        const res = await supertest(t.app)[method](path).set('Authorization', `Bearer ${PLATFORM_TOKEN}`);
        assert.equal(res.status, 403, `${method} ${path}`);
      }
    } finally {
      await t.close();
    }
  });

  it('when a resync is asked with a bad body or for an unknown job/target, then 400 or 404', async () => {
    const t = await createTestApp();
    try {
      const bad = await t.admin.post('/api/v1/admin/resync', { providerIds: ['a b'] });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.details[0].path, 'providerIds.0');
      assert.equal((await t.admin.post('/api/v1/admin/resync', { dryRun: 'yes' })).status, 400);
      assert.equal((await t.admin.get('/api/v1/admin/jobs/00000000-0000-4000-8000-000000000000')).status, 404);
      assert.equal((await t.admin.post('/api/v1/admin/targets/00000000-0000-4000-8000-000000000000/retry')).status, 404);
    } finally {
      await t.close();
    }
  });

  it('when a resync is queued, then 202 with a job id, the job is queued, the runner is woken and the audit log says who', async () => {
    const t = await createTestApp();
    try {
      const res = await t.admin.post('/api/v1/admin/resync', { providerIds: ['p1'], dryRun: true });
      assert.equal(res.status, 202);
      assert.equal(t.notified.jobs, 1);
      const job = await t.admin.get(`/api/v1/admin/jobs/${res.body.jobId}`);
      assert.equal(job.body.status, 'queued');
      assert.deepEqual(job.body.progress, { total: 0, done: 0, created: 0, updated: 0, deleted: 0, unchanged: 0, failed: 0 });
      const audit = (await t.admin.get('/api/v1/admin/audit')).body.entries;
      assert.equal(audit[0].actor, 'admin');
      assert.equal(audit[0].action, 'resync.plan');
      assert.equal(audit[0].target, `job:${res.body.jobId}`);
    } finally {
      await t.close();
    }
  });

  it('when a feed is revoked, then the audit log records it with ids only', async () => {
    const t = await createTestApp();
    try {
      await seedProvider(t);
      const feed = await t.platform.post('/api/v1/providers/p1/feeds', { label: 'Phone' });
      await t.platform.delete(`/api/v1/providers/p1/feeds/${feed.body.id}`);
      const [entry] = (await t.admin.get('/api/v1/admin/audit')).body.entries;
      assert.equal(entry.action, 'feed.revoke');
      assert.equal(entry.actor, 'platform');
      assert.equal(entry.target, `feed:${feed.body.id}`);
      assert.doesNotMatch(JSON.stringify(entry), /Phone|Byron|feeds\//);
    } finally {
      await t.close();
    }
  });
});
