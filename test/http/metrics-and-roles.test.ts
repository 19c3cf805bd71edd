import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import supertest from 'supertest';
import { createSqliteStore } from '../../src/store/index.js';
import { createOpsApp } from '../../src/http/ops-routes.js';
import { createMetrics } from '../../src/metrics.js';
import { createLogger } from '../../src/logger.js';
import { seedProvider } from '../support/seed.js';
import { ADMIN_TOKEN, PLATFORM_TOKEN, createTestApp } from '../support/test-app.js';
import { FakeClock } from '../support/fake-clock.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The value of one sample line ("name{labels} value"), or undefined when absent. */
function sample(text: string, line: RegExp): number | undefined {
  const found = text.split('\n').find((l) => line.test(l));
  return found === undefined ? undefined : Number(found.split(' ').at(-1));
}

describe('GET /metrics', () => {
  it('when asked without the admin token, then 401 (none) or 403 (platform token)', async () => {
    const store = await createSqliteStore({ filename: ':memory:' });
    const clock = new FakeClock('2026-11-02T12:00:00.000Z');
    const t = await createTestApp({ store, metrics: createMetrics({ store, clock, role: 'api' }) });
    try {
      assert.equal((await supertest(t.app).get('/metrics')).status, 401);
      assert.equal((await supertest(t.app).get('/metrics').set('Authorization', `Bearer ${PLATFORM_TOKEN}`)).status, 403);
    } finally {
      await t.close();
    }
  });

  it('when requests, feed polls and pending pushes happened, then they are counted by route pattern, never by id or token', async () => {
    const store = await createSqliteStore({ filename: ':memory:' });
    const clock = new FakeClock('2026-11-02T12:00:00.000Z');
    const t = await createTestApp({ store, metrics: createMetrics({ store, clock, role: 'api' }) });
    try {
      await seedProvider(t);
      await t.platform.put('/api/v1/providers/p1/sessions/s-secret-id', { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
      const feed = await t.platform.post('/api/v1/providers/p1/feeds', {});
      const path = new URL(String(feed.body.url)).pathname;
      assert.equal((await supertest(t.app).get(path)).status, 200);
      assert.equal((await supertest(t.app).get(path)).status, 200);
      assert.equal((await supertest(t.app).get('/feeds/unknown.ics')).status, 404);

      const res = await supertest(t.app).get('/metrics').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /^text\/plain/);
      const text = res.text;
      assert.equal(sample(text, /^sessionsync_http_requests_total\{.*route="\/api\/v1\/providers\/:providerId\/sessions\/:sessionId".*status="201"/), 1);
      assert.equal(sample(text, /^sessionsync_feed_polls_total\{.*status="200"/), 2);
      assert.equal(sample(text, /^sessionsync_feed_polls_total\{.*status="404"/), 1);
      assert.equal(sample(text, /^sessionsync_feed_cache_hits_total/), 1);
      assert.equal(sample(text, /^sessionsync_feed_render_seconds_count/), 1);
      assert.equal(sample(text, /^sessionsync_sync_backlog\{.*state="pending"/), 0);
      assert.equal(sample(text, /^sessionsync_sync_dead_targets/), 0);
      assert.equal(sample(text, /^sessionsync_db_pool_connections\{.*state="in_use"/), 1, 'the scrape itself holds the one connection');
      assert.ok(text.includes('role="api"'));
      const token = path.slice('/feeds/'.length, -'.ics'.length);
      for (const secret of ['s-secret-id', token, 'p1', ADMIN_TOKEN]) assert.ok(!text.includes(secret), `${secret} in metrics`);
    } finally {
      await t.close();
    }
  });
});

describe('ROLE=worker HTTP surface', () => {
  it('when a worker process is asked, then it serves /healthz, /readyz and /metrics, and nothing of the API or feeds', async () => {
    const store = await createSqliteStore({ filename: ':memory:' });
    const clock = new FakeClock('2026-11-02T12:00:00.000Z');
    const metrics = createMetrics({ store, clock, role: 'worker' });
    const app = createOpsApp({ store, logger: createLogger('silent'), metrics, tokens: { admin: ADMIN_TOKEN, platform: PLATFORM_TOKEN } });
    try {
      assert.deepEqual((await supertest(app).get('/healthz')).body, { status: 'ok' });
      assert.deepEqual((await supertest(app).get('/readyz')).body, { status: 'ready' });
      const scraped = await supertest(app).get('/metrics').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
      assert.equal(scraped.status, 200);
      assert.ok(scraped.text.includes('role="worker"'));
      for (const path of ['/api/v1/providers/p1', '/feeds/x.ics', '/oauth/google/callback']) {
        const res = await supertest(app).get(path).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
        assert.equal(res.status, 404, path);
        assert.equal(res.body.error.code, 'NOT_FOUND', path);
      }
    } finally {
      await store.close();
    }
  });
});

describe('Node version preflight', () => {
  it('when the running Node is older than engines.node, then it says so in one sentence and exits 1', () => {
    const script = `Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '20.20.2' } });
      Object.defineProperty(process, 'version', { value: 'v20.20.2' });
      require('./scripts/check-node.cjs');`;
    const run = spawnSync(process.execPath, ['-e', script], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(run.status, 1);
    assert.equal(run.stderr, 'sessionsync needs Node 24.15 or newer, found v20.20.2 - see .nvmrc\n');
  });

  it('when the running Node is new enough, then it passes silently', () => {
    assert.equal(execFileSync(process.execPath, ['scripts/check-node.cjs'], { cwd: repoRoot, encoding: 'utf8' }), '');
  });
});
