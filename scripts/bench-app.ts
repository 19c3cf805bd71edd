// The sessionsync that `npm run bench` measures over HTTP: as `npm start` builds it, at the
// default log level (written nowhere), on an in-memory SQLite store, with one provider and its
// video room, on a port the OS picks.
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp, type AppDeps } from '../src/app.js';
import { createSecretBox } from '../src/crypto/secret-box.js';
import type { Store } from '../src/domain/index.js';
import { createLogger } from '../src/logger.js';
import type { Metrics } from '../src/metrics.js';
import { createSqliteStore } from '../src/store/index.js';

export const BENCH_TOKEN = 'bench-admin-token-0123456789abcdef';
export const BENCH_NOW = new Date('2026-11-02T12:00:00.000Z');

export interface BenchApp {
  base: string;
  store: Store;
  server: Server;
  /** Calls the API with the admin token; throws on any status from 300 up. */
  api(method: string, path: string, body: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** On an in-memory SQLite store, or on the store given (closed with the app). */
export async function startBenchApp(metrics?: Metrics, given?: Store, more: { busy?: AppDeps['busy'] } = {}): Promise<BenchApp> {
  const store = given ?? (await createSqliteStore({ filename: ':memory:' }));
  const app = createApp({
    ...(metrics === undefined ? {} : { metrics }),
    store,
    clock: { now: () => BENCH_NOW },
    logger: createLogger('info', { write: () => true }),
    tokens: { admin: BENCH_TOKEN, platform: undefined },
    publicBaseUrl: 'http://127.0.0.1',
    uidDomain: 'bench.example',
    // As configured by default: fetch bookkeeping coalesced, written every 5 s.
    feed: { pastDays: 60, futureDays: 365, cacheMaxBytes: 128 * 1024 * 1024, fetchFlushMs: 5000 },
    sync: { secrets: createSecretBox(Buffer.alloc(32, 7)), oauth: new Map(), connectors: new Map() },
    ...(more.busy === undefined ? {} : { busy: more.busy }),
  });
  const server = http.createServer(app).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const api = async (method: string, path: string, body: unknown): Promise<unknown> => {
    const res = await fetch(`${base}${path}`, { method, headers: { Authorization: `Bearer ${BENCH_TOKEN}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  await api('PUT', '/api/v1/providers/p1', { name: 'Dr. Ada Byron', timezone: 'America/New_York', privacy: { mode: 'initials', baaAttested: true } });
  await api('PUT', '/api/v1/providers/p1/locations/video', { kind: 'virtual', name: 'Video', url: 'https://doxy.me/drbyron', instructions: 'Check in a few minutes early.', waitingRoom: true });
  const close = async () => {
    await new Promise((resolve) => server.close(resolve));
    await store.close();
  };
  return { base, store, server, api, close };
}
