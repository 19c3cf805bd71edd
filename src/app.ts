import express from 'express';
import { createIcsReader, DEFAULT_MAX_BYTES } from '../busy/index.js';
import { FeedService, feedRoutes } from '../feeds/index.js';
import { createJoinLinks, JOIN_LINK_KEY_INFO } from './domain/index.js';
import type { CalendarConnector, Clock, ConnectionKind, IcsReader, JoinLinks, OAuthProvider, Store } from './domain/index.js';
import type { SecretBox } from './crypto/secret-box.js';
import { apiRouter } from './http/api-router.js';
import { authenticate, requireAdmin, type AuthTokens } from './http/auth.js';
import { appListener, type App } from './http/app-listener.js';
import { errorMiddleware, notFoundHandler, sendError } from './http/error-middleware.js';
import { opsRouter, requestLog } from './http/ops-routes.js';
import { noMetrics, type Metrics } from './metrics.js';
import { jsonBody } from './http/json-body.js';
import { joinRouter } from './http/join-routes.js';
import { adminRouter, connectionsRouter, oauthRouter } from './http/sync-routers.js';
import { AdminService } from './services/admin-service.js';
import { BusyService } from './services/busy-service.js';
import { busyRouter } from './http/busy-routes.js';
import { ConnectionService } from './services/connection-service.js';
import { loggableError, type Logger } from './logger.js';
import { LocationService } from './services/location-service.js';
import { OffboardingService } from './services/offboarding-service.js';
import { ProviderService } from './services/provider-service.js';
import { SessionService } from './services/session-service.js';
import { WebSessionService } from './services/web-session-service.js';
import { adminWebRouter } from './http/admin-web-routes.js';
import { portalLinksRouter, portalRouter } from './http/portal-routes.js';
import { webAssetsRouter } from './http/web-assets.js';

export interface AppDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  tokens: AuthTokens;
  publicBaseUrl: string;
  uidDomain: string;
  feed: { pastDays: number; futureDays: number; cacheMaxBytes: number; fetchFlushMs?: number; tombstoneDays?: number };
  /** Registers work to finish at shutdown, before the store closes (the coalesced feed bookkeeping). */
  onShutdown?: (hook: () => Promise<void>) => void;
  /** Prometheus metrics of this process (default: counted nowhere). */
  metrics?: Metrics;
  sync: {
    secrets: SecretBox;
    oauth: ReadonlyMap<ConnectionKind, OAuthProvider>;
    connectors: ReadonlyMap<ConnectionKind, CalendarConnector>;
  };
  /** The /j/ links (server.ts: from the stored join-link key); default joinLinksFor(sync.secrets, publicBaseUrl). */
  joinLinks?: JoinLinks;
  /** Minutes before a session's start from which its /j/ link opens the room (default 60). */
  joinOpensMinutes?: number;
  /** Busy sources: the ICS reader (default: public https hosts only, 5 MiB) and how often the worker reads each. */
  busy?: { ics?: IcsReader; refreshMinutes?: number };
}

/**
 * The busy service of an app or a worker: one construction, the same defaults. `connectors` are the
 * sync engine's (without them, connection sources read as CONNECTOR_NOT_CONFIGURED).
 */
export function createBusyService(
  deps: Pick<AppDeps, 'store' | 'clock' | 'logger' | 'uidDomain' | 'busy'> & { secrets: SecretBox; connectors?: ReadonlyMap<ConnectionKind, CalendarConnector> },
): BusyService {
  return new BusyService({
    store: deps.store,
    clock: deps.clock,
    logger: deps.logger,
    secrets: deps.secrets,
    connectors: deps.connectors ?? new Map(),
    ics: deps.busy?.ics ?? createIcsReader({ allowHosts: new Set(), maxBytes: DEFAULT_MAX_BYTES, uidDomain: deps.uidDomain }),
    refreshMinutes: deps.busy?.refreshMinutes ?? 15,
  });
}

/**
 * /j/ links from a key derived from the SecretBox's oldest key and PUBLIC_BASE_URL: the key a
 * deployment stores on its first start (services/join-link-key.ts), and the default of tests.
 */
export function joinLinksFor(secrets: SecretBox, publicBaseUrl: string): JoinLinks {
  return createJoinLinks({ key: secrets.deriveKey(JOIN_LINK_KEY_INFO), publicBaseUrl });
}

export function createApp(deps: AppDeps): App {
  const { store, clock, logger } = deps;
  const metrics = deps.metrics ?? noMetrics();
  const joinLinks = deps.joinLinks ?? joinLinksFor(deps.sync.secrets, deps.publicBaseUrl);
  const feedLog = logger.child({ module: 'feeds' });
  const feeds = new FeedService({
    store,
    clock,
    publicBaseUrl: deps.publicBaseUrl,
    joinLinks,
    ...deps.feed,
    metrics,
    onFetchLogError: (err) => feedLog.warn({ err: loggableError(err) }, 'could not record feed fetches'),
    refreshOnChange: true,
  });
  deps.onShutdown?.(async () => {
    await feeds.stop();
    await feeds.flushFetches();
  });
  const services = {
    providers: new ProviderService({ store, clock, joinLinks }),
    locations: new LocationService({ store, clock, joinLinks }),
    sessions: new SessionService({ store, clock, uidDomain: deps.uidDomain, joinLinks }),
    feeds,
    busy: createBusyService({ ...deps, secrets: deps.sync.secrets, connectors: deps.sync.connectors }),
    offboarding: new OffboardingService({ store, clock, logger }),
  };
  const connections = new ConnectionService({ store, clock, logger, pastDays: deps.feed.pastDays, ...deps.sync });
  const admin = new AdminService({ store, clock });
  const webSessions = new WebSessionService({ store, clock, publicBaseUrl: deps.publicBaseUrl });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  // Ahead of Express (app-listener.ts), counting and logging polls itself, so that a poll skips
  // every middleware (npm run bench). Logged at debug: one info line per poll cost ~7% of a poll.
  const pollLog = logger.child({ module: 'http' });
  const feedsAhead = feedRoutes(
    feeds,
    (method, status, seconds) => {
      metrics.feedPoll(method, status, seconds);
      if (pollLog.isLevelEnabled('debug')) pollLog.debug({ method, route: '/feeds/:file', status, ms: Math.round(seconds * 10_000) / 10 }, 'request');
    },
    (err, req, res) => sendError(err, res, pollLog, { method: req.method ?? '', route: '/feeds/:file' }),
  );
  app.use(requestLog(logger, metrics));
  app.use((_req, res, next) => {
    res.set('X-Content-Type-Options', 'nosniff');
    next();
  });

  app.use(opsRouter({ store, logger, metrics, tokens: deps.tokens }));
  app.use(joinRouter({ store, clock, metrics, opensMinutes: deps.joinOpensMinutes ?? 60 }));
  app.use('/oauth', oauthRouter(connections, webSessions));

  const api = express.Router();
  api.use(authenticate(deps.tokens));
  api.use(jsonBody);
  api.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  api.use('/admin', requireAdmin, adminRouter(admin));
  api.use(apiRouter(services));
  api.use(busyRouter(services.busy));
  api.use(connectionsRouter(connections));
  api.use(portalLinksRouter(webSessions));
  app.use('/api/v1', api);

  // The provider portal and the admin console: HTML pages behind session cookies.
  const web = { sessions: webSessions, secrets: deps.sync.secrets, publicBaseUrl: deps.publicBaseUrl, logger };
  app.use('/web', webAssetsRouter());
  app.use('/portal', portalRouter({ ...web, clock, providers: services.providers, locations: services.locations, feeds, connections, busy: services.busy, schedule: services.sessions, joinLinks }));
  app.use('/admin', adminWebRouter({ ...web, admin, adminToken: deps.tokens.admin }));

  app.use(notFoundHandler);
  app.use(errorMiddleware(logger));
  return appListener(feedsAhead, app);
}
