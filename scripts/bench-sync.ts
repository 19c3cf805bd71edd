// `npm run bench` (second part): push sync against the fake Google Calendar server, with the real
// client library, the real worker loop and the real clock.
// - change-to-push latency: from the platform sending its PUT to the connector's call, p50/p95,
//   as a ratio to the same-run baseline of one direct connector call (the fake's round trip);
// - throughput: events pushed per second when N sessions are dirty at once.
import { testJoinLinks } from '../test/support/builders.js';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import supertest from 'supertest';
import { createApp } from '../src/app.js';
import { createSecretBox } from '../src/crypto/secret-box.js';
import { eventTagKey, idempotencyKeyFor } from '../src/domain/index.js';
import type { CalendarConnector } from '../src/domain/index.js';
import { createLogger } from '../src/logger.js';
import { createSqliteStore } from '../src/store/index.js';
import { SyncWorker } from '../src/sync/index.js';
import { toCalendarEvent } from '../src/domain/calendar-event.js';
import { googleVendor } from '../test/support/sync-harness.js';
import { aProvider, aSession, aVirtualLocation } from '../test/support/builders.js';

const WRITES = Number(process.env.BENCH_PUSH_WRITES ?? 100);
const BURST = Number(process.env.BENCH_PUSH_BURST ?? 300);
const TOKEN = 'bench-admin-token-0123456789abcdef';

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

// The same fake and client wiring as the sync tests.
const { fake, connector: google, oauth } = await googleVendor();
const called = new Map<string, number>();
let onCall: ((key: string) => void) | null = null;
// Records when the worker reaches the vendor for each session.
const timed: CalendarConnector = {
  kind: 'google',
  async upsert(session, target, externalId, event, tag) {
    if (!called.has(tag.key)) called.set(tag.key, performance.now());
    onCall?.(tag.key);
    return google.upsert(session, target, externalId, event, tag);
  },
  remove: (session, id) => google.remove(session, id),
  removeByKey: (session, target, key) => google.removeByKey(session, target, key),
  listTagged: (session, range) => google.listTagged(session, range),
  readBusy: (session, range) => google.readBusy(session, range),
};

const store = await createSqliteStore({ filename: ':memory:' });
const clock = { now: () => new Date() };
const logger = createLogger('silent');
const secrets = createSecretBox(randomBytes(32));
const connectors = new Map([['google' as const, timed]]);
// Pacing off: this measures the engine; in production each connection is paced (DEFAULT_RATE_LIMITS).
const unpaced = { perSecond: 1e9, burst: 1e9 };
const worker = new SyncWorker({ joinLinks: testJoinLinks, store, connectors, secrets, clock, logger, pastDays: 60, batchSize: 50, perConnectionConcurrency: 4, rateLimits: { google: unpaced } });
const app = createApp({
  store,
  clock,
  logger,
  tokens: { admin: TOKEN, platform: undefined },
  publicBaseUrl: 'http://localhost',
  uidDomain: 'bench.example',
  feed: { pastDays: 60, futureDays: 365, cacheMaxBytes: 16 * 1024 * 1024 },
  sync: { secrets, oauth: new Map([['google' as const, oauth]]), connectors },
});
const api = supertest(app);
const auth = { Authorization: `Bearer ${TOKEN}` };
const put = (path: string, body: object) => api.put(path).set(auth).send(body).expect((r) => r.status < 300 || Promise.reject(new Error(`${r.status}`)));

await put('/api/v1/providers/p1', { name: 'Dr. Bench', timezone: 'America/New_York' });
await put('/api/v1/providers/p1/locations/video', { kind: 'virtual', url: 'https://doxy.me/bench', waitingRoom: true });
const created = await api.post('/api/v1/providers/p1/connections').set(auth).send({ kind: 'google' });
const url = new URL(created.body.authorizeUrl);
const code = fake.issueAuthorizationCode(url.searchParams.get('code_challenge')!, url.searchParams.get('redirect_uri')!);
await api.get('/oauth/google/callback').query({ code, state: url.searchParams.get('state') }).expect(200);
worker.start();

// Baseline: one direct connector call against the same fake (token refresh excluded by warm-up).
const connection = (await store.listConnections('p1'))[0]!;
const { connectorSession, openTokens } = await import('../src/sync/index.js');
const session = connectorSession({ store, secrets, clock }, connection, openTokens(secrets, connection)!);
const baseline: number[] = [];
for (let i = 0; i < 30; i++) {
  const s = aSession({ id: `base${i}`, start: '2026-12-01T15:00:00.000Z', end: '2026-12-01T15:50:00.000Z' });
  const event = toCalendarEvent(s, aProvider(), aVirtualLocation(), testJoinLinks);
  const t0 = performance.now();
  await google.upsert(session, { connectionId: 'bench', calendarId: 'primary', idempotencyKey: idempotencyKeyFor('bench', 'b', s.id) }, null, event, { key: eventTagKey('b', s.id), revision: event.revision });
  baseline.push(performance.now() - t0);
}

// Latency: sequential writes, each waits for its push to start.
const latencies: number[] = [];
const startDay = Date.parse('2026-12-01T14:00:00Z');
for (let i = 0; i < WRITES; i++) {
  const key = `p1/lat${i}`;
  const reached = new Promise<void>((resolve) => {
    onCall = (k) => k === key && resolve();
  });
  // From the moment the platform sends the write: the worker is woken on commit, so the push
  // usually starts before the PUT's response is even read.
  const sent = performance.now();
  await put(`/api/v1/providers/p1/sessions/lat${i}`, { start: new Date(startDay + i * 3_600_000).toISOString(), durationMinutes: 50 });
  await reached;
  latencies.push(called.get(key)! - sent);
}
onCall = null;

// Throughput: a burst of dirty sessions (e.g. a provider's privacy change), time to drain.
await worker.stop();
for (let i = 0; i < BURST; i++) {
  await put(`/api/v1/providers/p1/sessions/burst${i}`, { start: new Date(startDay + (WRITES + i) * 3_600_000).toISOString(), durationMinutes: 50 });
}
const t0 = performance.now();
const outcomes = await worker.drain();
const seconds = (performance.now() - t0) / 1000;

const base50 = percentile(baseline, 50);
console.log(`push sync benchmark: ${WRITES} sequential writes, burst of ${BURST}, node ${process.version}`);
console.log(`baseline: direct connector upsert to the fake   p50 ${base50.toFixed(2)} ms`);
console.log(`change-to-push latency (PUT sent -> connector call) p50 ${percentile(latencies, 50).toFixed(2)} ms, p95 ${percentile(latencies, 95).toFixed(2)} ms, max ${Math.max(...latencies).toFixed(2)} ms`);
console.log(`  ratio p95 latency / baseline p50            ${(percentile(latencies, 95) / base50).toFixed(2)}x`);
console.log(`throughput: ${outcomes.filter((o) => o === 'synced').length} events pushed in ${seconds.toFixed(2)} s = ${(outcomes.length / seconds).toFixed(0)} events/s (${(1000 / base50).toFixed(0)}/s per single in-flight call)`);
await store.close();
await fake.close();
