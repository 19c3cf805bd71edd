// Prometheus metrics (prom-client), one registry per process. What a request, a feed render or a
// sync attempt costs is counted where it happens; what the database holds (backlog, oldest pending
// change, dead letters, connections needing reauth, pool use) is read at scrape time. Labels are
// route patterns, connector kinds and outcomes only: never ids, tokens or anything a client sent.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock, ConnectionKind, Store } from './domain/index.js';

export interface Metrics {
  readonly registry: Registry;
  /** One HTTP request answered, by route pattern (never the URL: a feed URL is a secret). */
  httpRequest(method: string, route: string, status: number, seconds: number): void;
  /** One request under /feeds/ answered (200, 304, 404, or a fault), by method. */
  feedPoll(method: string, status: number, seconds: number): void;
  /** A feed body rendered (a cache miss), and how long it took. */
  feedRendered(seconds: number): void;
  /** A feed poll answered from the rendered-body cache. */
  feedCacheHit(): void;
  /** One push attempt's outcome (synced, retry, dead, paused, paced, lost-lease). */
  syncOperation(connector: ConnectionKind, outcome: string): void;
  /** One click on a /j/ join link, by what it found (open, early, ended, cancelled, no-room, unknown). */
  joinClick(outcome: string): void;
}

export interface MetricsOptions {
  store: Store;
  clock: Clock;
  role: string;
}

export function createMetrics({ store, clock, role }: MetricsOptions): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'sessionsync_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'sessionsync_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const feedPolls = new Counter({
    name: 'sessionsync_feed_polls_total',
    help: 'Feed polls answered, by status (200, 304, 404).',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const renders = new Histogram({
    name: 'sessionsync_feed_render_seconds',
    help: 'Time to render a feed body on a cache miss.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const cacheHits = new Counter({
    name: 'sessionsync_feed_cache_hits_total',
    help: 'Feed polls answered from the rendered-body cache.',
    registers: [registry],
  });
  const syncOps = new Counter({
    name: 'sessionsync_sync_operations_total',
    help: 'Push attempts, by connector and outcome.',
    labelNames: ['connector', 'outcome'] as const,
    registers: [registry],
  });
  // Clicks are counted here and nowhere else: a GET of a join link writes nothing to the database.
  const joinClicks = new Counter({
    name: 'sessionsync_join_clicks_total',
    help: 'Clicks on stable join links (/j/), by what they found.',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });

  // Database figures, read once per scrape by the first gauge collected; the others reuse it.
  let snapshot: Promise<Awaited<ReturnType<Store['syncHealth']>>> | null = null;
  const health = () => (snapshot ??= store.syncHealth(clock.now().toISOString()).finally(() => setImmediate(() => (snapshot = null))));
  new Gauge({
    name: 'sessionsync_sync_backlog',
    help: 'Push targets waiting, by state (pending: never tried; retrying: failed before).',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const { targets } = await health();
      this.set({ state: 'pending' }, targets.pending);
      this.set({ state: 'retrying' }, targets.retrying);
    },
  });
  new Gauge({
    name: 'sessionsync_sync_oldest_pending_age_seconds',
    help: 'Age of the oldest change not yet pushed (0 when none).',
    registers: [registry],
    async collect() {
      const since = (await health()).oldestPendingSince;
      this.set(since === null ? 0 : Math.max(0, (clock.now().getTime() - Date.parse(since)) / 1000));
    },
  });
  new Gauge({
    name: 'sessionsync_sync_dead_targets',
    help: 'Push targets dead-lettered (a permanent error, or retries used up).',
    registers: [registry],
    async collect() {
      this.set((await health()).targets.dead);
    },
  });
  new Gauge({
    name: 'sessionsync_connections_needing_reauth',
    help: 'Calendar connections whose grant must be renewed by the provider.',
    registers: [registry],
    async collect() {
      this.set((await health()).connectionsNeedingReauth.length);
    },
  });
  new Gauge({
    name: 'sessionsync_db_pool_connections',
    help: 'Database connections of this process, by state (in_use, idle, waiting clients).',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const pool = store.poolStats();
      this.set({ state: 'in_use' }, pool.total - pool.idle);
      this.set({ state: 'idle' }, pool.idle);
      this.set({ state: 'waiting' }, pool.waiting);
    },
  });

  // Feed polls are most requests: their label sets are resolved once, not hashed per poll.
  const FEED_ROUTE = '/feeds/:file';
  const feedChildren = new Map<string, { requests: Counter.Internal; polls: Counter.Internal; latency: Histogram.Internal<string> }>();
  const feedChild = (method: string, status: number) => {
    const key = `${method} ${status}`;
    let child = feedChildren.get(key);
    if (child === undefined) {
      child = {
        requests: requests.labels({ method, route: FEED_ROUTE, status: String(status) }),
        polls: feedPolls.labels({ status: String(status) }),
        latency: latency.labels({ method, route: FEED_ROUTE }),
      };
      feedChildren.set(key, child);
    }
    return child;
  };

  return {
    registry,
    httpRequest(method, route, status, seconds) {
      requests.inc({ method, route, status: String(status) });
      latency.observe({ method, route }, seconds);
    },
    feedPoll(method, status, seconds) {
      const child = feedChild(method, status);
      child.requests.inc();
      child.polls.inc();
      child.latency.observe(seconds);
    },
    feedRendered(seconds) {
      renders.observe(seconds);
    },
    feedCacheHit() {
      cacheHits.inc();
    },
    syncOperation(connector, outcome) {
      syncOps.inc({ connector, outcome });
    },
    joinClick(outcome) {
      joinClicks.inc({ outcome });
    },
  };
}

/** Metrics that count nothing, for tests and tools that build the app without a registry. */
export function noMetrics(): Metrics {
  const registry = new Registry();
  return { registry, httpRequest: () => undefined, feedPoll: () => undefined, feedRendered: () => undefined, feedCacheHit: () => undefined, syncOperation: () => undefined, joinClick: () => undefined };
}
