// `npm run bench` (third part): sessionsync at scale, as separate server processes on PostgreSQL
// pushing to the fake Google Calendar server through the real client library, pacing off.
// - change-to-push across processes: from the platform sending a PUT to API process A until the
//   fake receives the push from worker process B, p50/p95, as a ratio to a direct connector call
//   to the fake in this process (the vendor round trip alone);
// - throughput: a backlog of dirty sessions over many accounts drained by 1 worker, then by 2.
// Needs BENCH_DATABASE_URL (or TEST_DATABASE_URL): a database it may create schemas in.
import { testJoinLinks } from '../test/support/builders.js';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { GOOGLE_DEFAULT_SCOPES } from '../connectors/google/index.js';
import { toCalendarEvent } from '../src/domain/calendar-event.js';
import { eventTagKey, idempotencyKeyFor } from '../src/domain/index.js';
import { startFakeGoogle, type FakeGoogle } from '../test/fakes/fake-google.js';
import { aProvider, aSession, aVirtualLocation } from '../test/support/builders.js';
import { createSchema, dropSchema } from '../test/support/postgres.js';
import { ServerGroup, pollUntil, type ServerProcess } from '../test/support/processes.js';
import { googleVendor } from '../test/support/sync-harness.js';

const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (url === undefined || url === '') {
  console.log('scale benchmark skipped: set BENCH_DATABASE_URL (or TEST_DATABASE_URL) to a PostgreSQL database');
  process.exit(0);
}
const WRITES = Number(process.env.BENCH_SCALE_WRITES ?? 100);
const ACCOUNTS = Number(process.env.BENCH_SCALE_ACCOUNTS ?? 20);
const PER_ACCOUNT = Number(process.env.BENCH_SCALE_SESSIONS ?? 50);
const ADMIN = `bench-admin-${randomBytes(12).toString('hex')}`;
const PLATFORM = `bench-platform-${randomBytes(12).toString('hex')}`;

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
const ms = (n: number) => `${n.toFixed(1)} ms`;

/** Pushes seen by the fake, by our tag key: performance.now() of the first create. */
const firstCreate = new Map<string, number>();
const fake: FakeGoogle = await startFakeGoogle({
  onRequest: (request) => {
    if (request.operation !== 'create') return;
    const key = (request.body as { extendedProperties?: { private?: Record<string, string> } } | null)?.extendedProperties?.private?.['sessionsyncKey'];
    if (typeof key === 'string' && !firstCreate.has(key)) firstCreate.set(key, performance.now());
  },
});

function serverEnv(databaseUrl: string, role: string): Record<string, string> {
  return {
    ROLE: role,
    DATABASE_URL: databaseUrl,
    ADMIN_TOKEN: ADMIN,
    PLATFORM_API_TOKEN: PLATFORM,
    ENCRYPTION_KEY: 'a'.repeat(64),
    PUBLIC_BASE_URL: 'https://sync.bench.test',
    // info: the ready line the process helper waits for is logged at info.
    LOG_LEVEL: 'info',
    SYNC_PACING: 'off',
    GOOGLE_CLIENT_ID: fake.clientId,
    GOOGLE_CLIENT_SECRET: fake.clientSecret,
    GOOGLE_AUTH_URL: fake.authUrl,
    GOOGLE_TOKEN_URL: fake.tokenUrl,
    GOOGLE_API_ROOT_URL: fake.apiUrl,
  };
}

async function call(server: ServerProcess, method: string, path: string, body?: unknown, token = PLATFORM): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
}

async function must(server: ServerProcess, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await call(server, method, path, body);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function connectProvider(api: ServerProcess, providerId: string): Promise<void> {
  await must(api, 'PUT', `/api/v1/providers/${providerId}`, { name: `Dr. ${providerId}`, timezone: 'America/New_York' });
  await must(api, 'PUT', `/api/v1/providers/${providerId}/locations/video`, { kind: 'virtual', url: `https://doxy.me/${providerId}`, waitingRoom: true });
  const created = (await must(api, 'POST', `/api/v1/providers/${providerId}/connections`, { kind: 'google', calendarId: `cal-${providerId}` })) as { authorizeUrl: string };
  const authorize = new URL(created.authorizeUrl);
  const code = fake.issueAuthorizationCode(authorize.searchParams.get('code_challenge') ?? '', authorize.searchParams.get('redirect_uri') ?? '');
  const callback = await fetch(`${api.url}/oauth/google/callback?code=${encodeURIComponent(code)}&state=${encodeURIComponent(authorize.searchParams.get('state') ?? '')}`);
  if (callback.status !== 200) throw new Error(`callback: ${callback.status}`);
}

const at = (i: number) => new Date(Date.parse('2027-01-04T14:00:00Z') + i * 2 * 3_600_000).toISOString();

async function withSchema<T>(fn: (databaseUrl: string) => Promise<T>): Promise<T> {
  const schema = await createSchema(url!);
  const databaseUrl = `${url}${url!.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  try {
    return await fn(databaseUrl);
  } finally {
    await dropSchema(url!, schema);
  }
}

console.log(`scale benchmark: PostgreSQL, separate processes, pacing off, node ${process.version}`);

// Ceiling: one direct upsert to the fake from this process, the vendor round trip alone.
const direct = await googleVendor();
const tokens = direct.fake.issueTokens();
const session = { connectionId: 'bench', calendarId: 'primary', tokens: { ...tokens, scope: GOOGLE_DEFAULT_SCOPES.join(' ') }, onTokens: async () => undefined };
const baseline: number[] = [];
for (let i = 0; i < 50; i++) {
  const s = aSession({ id: `d${i}`, uid: `d${i}@bench`, start: at(i), end: at(i).replace('T14', 'T15') });
  const event = toCalendarEvent(s, aProvider(), aVirtualLocation(), testJoinLinks);
  const started = performance.now();
  await direct.connector.upsert(session, { connectionId: 'bench', calendarId: 'primary', idempotencyKey: idempotencyKeyFor('bench', 'prov-1', s.id) }, null, event, { key: eventTagKey('prov-1', s.id), revision: event.revision });
  baseline.push(performance.now() - started);
}
await direct.fake.close();
const baselineP50 = percentile(baseline, 50);
console.log(`baseline: direct connector upsert to the fake             p50 ${ms(baselineP50)}`);

// 1. Change-to-push across processes: PUT to API process A, pushed by worker process B.
await withSchema(async (databaseUrl) => {
  const group = new ServerGroup();
  try {
    const api = await group.start({ name: 'api', env: serverEnv(databaseUrl, 'api') });
    await group.start({ name: 'worker', env: serverEnv(databaseUrl, 'worker') });
    await connectProvider(api, 'lat');
    const latencies: number[] = [];
    for (let i = 0; i < WRITES; i++) {
      const key = eventTagKey('lat', `w${i}`);
      const sent = performance.now();
      await must(api, 'PUT', `/api/v1/providers/lat/sessions/w${i}`, { start: at(i), durationMinutes: 50 });
      await pollUntil(() => firstCreate.has(key) || undefined, { timeoutMs: 10_000, intervalMs: 1, what: `push of ${key}` });
      latencies.push((firstCreate.get(key) ?? Number.NaN) - sent);
    }
    const p95 = percentile(latencies, 95);
    console.log(`change-to-push, API process -> worker process -> fake       p50 ${ms(percentile(latencies, 50))}, p95 ${ms(p95)}, max ${ms(Math.max(...latencies))} (n=${WRITES})`);
    console.log(`  ratio p95 latency / baseline p50            ${(p95 / baselineP50).toFixed(2)}x`);
  } finally {
    await group.stopAll();
    await group.cleanup();
  }
});

// 2. Throughput: a backlog over many accounts, drained by 1 worker, then (afresh) by 2.
for (const workers of [1, 2]) {
  await withSchema(async (databaseUrl) => {
    const group = new ServerGroup();
    try {
      const api = await group.start({ name: 'api', env: serverEnv(databaseUrl, 'api') });
      const providers = Array.from({ length: ACCOUNTS }, (_, i) => `t${workers}x${i}`);
      for (const p of providers) await connectProvider(api, p);
      const writes = providers.flatMap((p) => Array.from({ length: PER_ACCOUNT }, (_, i) => ({ p, i })));
      for (let i = 0; i < writes.length; i += 16) {
        await Promise.all(writes.slice(i, i + 16).map(({ p, i: n }) => must(api, 'PUT', `/api/v1/providers/${p}/sessions/s${n}`, { start: at(n), durationMinutes: 50 })));
      }
      const total = writes.length;
      const keys = writes.map(({ p, i }) => eventTagKey(p, `s${i}`));
      await Promise.all(Array.from({ length: workers }, (_, w) => group.start({ name: `worker-${w + 1}`, env: serverEnv(databaseUrl, 'worker') })));
      await pollUntil(() => keys.every((k) => firstCreate.has(k)) || undefined, { timeoutMs: 180_000, intervalMs: 20, what: 'the backlog drained' });
      // From the first push to the last: the drain itself, without the processes' start-up.
      const times = keys.map((k) => firstCreate.get(k) ?? Number.NaN);
      const seconds = (Math.max(...times) - Math.min(...times)) / 1000;
      console.log(`throughput, ${workers} worker process${workers > 1 ? 'es' : ''}: ${total} events over ${ACCOUNTS} accounts in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} events/s`);
    } finally {
      await group.stopAll();
      await group.cleanup();
    }
  });
}
await fake.close();
