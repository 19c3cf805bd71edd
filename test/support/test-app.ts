import { Writable } from 'node:stream';
import supertest from 'supertest';
import { createApp, type AppDeps } from '../../src/app.js';
import type { App } from '../../src/http/app-listener.js';
import { randomBytes } from 'node:crypto';
import { createSecretBox, type SecretBox } from '../../src/crypto/secret-box.js';
import type { CalendarConnector, ConnectionKind, OAuthProvider, Store } from '../../src/domain/index.js';
import { createLogger, type Logger } from '../../src/logger.js';
import type { Metrics } from '../../src/metrics.js';
import { createSqliteStore } from '../../src/store/index.js';
import { FakeClock } from './fake-clock.js';

export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
export const PLATFORM_TOKEN = 'platform-token-for-tests-0123456789';
export const PUBLIC_BASE_URL = 'https://sync.example.test';

export interface TestApp {
  app: App;
  store: Store;
  clock: FakeClock;
  secrets: SecretBox;
  /** The app's logger (writes into logs/rawLogs), for workers the test builds beside the app. */
  logger: Logger;
  /** How often the store signalled work for the sync worker / resync runner after a commit. */
  notified: { sync: number; jobs: number };
  /** Every log line the app wrote, parsed; lets tests assert what never reaches the logs. */
  logs: Record<string, unknown>[];
  rawLogs: string[];
  /** supertest agent helpers with the platform token set. */
  platform: {
    get(path: string): supertest.Test;
    put(path: string, body?: unknown): supertest.Test;
    post(path: string, body?: unknown): supertest.Test;
    delete(path: string): supertest.Test;
  };
  admin: { get(path: string): supertest.Test; post(path: string, body?: unknown): supertest.Test };
  /** Runs what the app registered for shutdown (the coalesced feed bookkeeping). */
  shutdown(): Promise<void>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  now?: string;
  /** Byte budget of the rendered-feed cache (default 16 MiB; 0 disables it). */
  cacheMaxBytes?: number;
  store?: Store;
  secrets?: SecretBox;
  oauth?: ReadonlyMap<ConnectionKind, OAuthProvider>;
  connectors?: ReadonlyMap<ConnectionKind, CalendarConnector>;
  onNotifySync?: () => void;
  onNotifyJobs?: () => void;
  metrics?: Metrics;
  /** Coalesce feed fetch bookkeeping (default 0: written on every poll). */
  fetchFlushMs?: number;
  /** Busy sources: the ICS reader (tests point it at local servers) and the refresh interval. */
  busy?: AppDeps['busy'];
  /** Default PUBLIC_BASE_URL; browser tests give the address they really serve on. */
  publicBaseUrl?: string;
}

export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const store = options.store ?? (await createSqliteStore({ filename: ':memory:' }));
  const secrets = options.secrets ?? createSecretBox(randomBytes(32));
  const notified = { sync: 0, jobs: 0 };
  const clock = new FakeClock(options.now ?? '2026-11-02T12:00:00.000Z');
  const shutdownHooks: (() => Promise<void>)[] = [];
  const rawLogs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      rawLogs.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger('debug', sink);
  const app = createApp({
    store,
    ...(options.metrics !== undefined ? { metrics: options.metrics } : {}),
    clock,
    logger,
    tokens: { admin: ADMIN_TOKEN, platform: PLATFORM_TOKEN },
    publicBaseUrl: options.publicBaseUrl ?? PUBLIC_BASE_URL,
    uidDomain: 'sync.example.test',
    feed: { pastDays: 60, futureDays: 365, cacheMaxBytes: options.cacheMaxBytes ?? 16 * 1024 * 1024, fetchFlushMs: options.fetchFlushMs ?? 0 },
    onShutdown: (hook) => shutdownHooks.push(hook),
    ...(options.busy === undefined ? {} : { busy: options.busy }),
    sync: {
      secrets,
      oauth: options.oauth ?? new Map(),
      connectors: options.connectors ?? new Map(),
    },
  });
  // What the store signalled after commits: the wake-ups a worker or resync runner would get.
  store.onWork('sync', () => {
    notified.sync += 1;
    options.onNotifySync?.();
  });
  store.onWork('jobs', () => {
    notified.jobs += 1;
    options.onNotifyJobs?.();
  });
  const request = supertest(app);
  const auth = (token: string) => `Bearer ${token}`;
  const withBody = (t: supertest.Test, body: unknown) => (body === undefined ? t : t.send(body as object));
  return {
    app,
    store,
    clock,
    secrets,
    logger,
    notified,
    rawLogs,
    get logs() {
      return rawLogs.flatMap((l) => l.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    platform: {
      get: (path) => request.get(path).set('Authorization', auth(PLATFORM_TOKEN)),
      put: (path, body) => withBody(request.put(path).set('Authorization', auth(PLATFORM_TOKEN)), body),
      post: (path, body) => withBody(request.post(path).set('Authorization', auth(PLATFORM_TOKEN)), body),
      delete: (path) => request.delete(path).set('Authorization', auth(PLATFORM_TOKEN)),
    },
    admin: {
      get: (path) => request.get(path).set('Authorization', auth(ADMIN_TOKEN)),
      post: (path, body) => withBody(request.post(path).set('Authorization', auth(ADMIN_TOKEN)), body),
    },
    shutdown: async () => {
      await Promise.all(shutdownHooks.map((hook) => hook()));
    },
    close: () => store.close(),
  };
}
