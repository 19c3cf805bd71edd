import express from 'express';
import type { Express, RequestHandler } from 'express';
import { FeedService, feedClientErrors, feedHandler, feedNotFound } from '../feeds/index.js';
import { AppError, ErrorCode } from './domain/index.js';
import type { CalendarConnector, Clock, ConnectionKind, OAuthProvider, Store } from './domain/index.js';
import type { SecretBox } from './crypto/secret-box.js';
import { apiRouter } from './http/api-router.js';
import { authenticate, requireAdmin, type AuthTokens } from './http/auth.js';
import { errorMiddleware, notFoundHandler } from './http/error-middleware.js';
import { jsonBody } from './http/json-body.js';
import { adminRouter, connectionsRouter, oauthRouter } from './http/sync-routers.js';
import { AdminService } from './services/admin-service.js';
import { ConnectionService } from './services/connection-service.js';
import type { Logger } from './logger.js';
import { LocationService } from './services/location-service.js';
import { ProviderService } from './services/provider-service.js';
import { SessionService } from './services/session-service.js';

export interface AppDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  tokens: AuthTokens;
  publicBaseUrl: string;
  uidDomain: string;
  feed: { pastDays: number; futureDays: number; cacheEntries: number };
  sync: {
    secrets: SecretBox;
    oauth: ReadonlyMap<ConnectionKind, OAuthProvider>;
    connectors: ReadonlyMap<ConnectionKind, CalendarConnector>;
  };
}

/** Logs method, route pattern, status and time; never the URL (a feed URL is a secret). */
function requestLog(logger: Logger): RequestHandler {
  const log = logger.child({ module: 'http' });
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : req.path.startsWith('/feeds/') ? '/feeds/:file' : '(unmatched)';
      log.info({ method: req.method, route, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    next();
  };
}

export function createApp(deps: AppDeps): Express {
  const { store, clock, logger } = deps;
  const feeds = new FeedService({ store, clock, publicBaseUrl: deps.publicBaseUrl, ...deps.feed });
  const services = {
    providers: new ProviderService({ store, clock }),
    locations: new LocationService({ store, clock }),
    sessions: new SessionService({ store, clock, uidDomain: deps.uidDomain }),
    feeds,
  };
  const connections = new ConnectionService({ store, clock, logger, pastDays: deps.feed.pastDays, ...deps.sync });
  const admin = new AdminService({ store, clock });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(requestLog(logger));
  app.use((_req, res, next) => {
    res.set('X-Content-Type-Options', 'nosniff');
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await store.ping();
      res.set('Cache-Control', 'no-store').json({ status: 'ready' });
    } catch (err) {
      logger.warn({ err }, 'readiness check failed');
      throw new AppError({ code: ErrorCode.SERVICE_UNAVAILABLE, status: 503, message: 'The database does not answer.' });
    }
  });
  app.get('/feeds/:file', feedHandler(feeds, logger));
  app.use('/feeds', feedNotFound, feedClientErrors);
  app.use('/oauth', oauthRouter(connections));

  const api = express.Router();
  api.use(authenticate(deps.tokens));
  api.use(jsonBody);
  api.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  api.use('/admin', requireAdmin, adminRouter(admin));
  api.use(apiRouter(services));
  api.use(connectionsRouter(connections));
  app.use('/api/v1', api);

  app.use(notFoundHandler);
  app.use(errorMiddleware(logger));
  return app;
}
