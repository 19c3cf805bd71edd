import express from 'express';
import type { Express, RequestHandler, Router } from 'express';
import { AppError, ErrorCode } from '../domain/index.js';
import type { Store } from '../domain/index.js';
import { loggableError, type Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { authenticate, requireAdmin, type AuthTokens } from './auth.js';
import { errorMiddleware, notFoundHandler, routePattern } from './error-middleware.js';

// What every role serves: liveness, readiness and Prometheus metrics (admin token, since the
// figures describe the practice's workload).

export interface OpsDeps {
  store: Store;
  logger: Logger;
  metrics: Metrics;
  tokens: AuthTokens;
}

/** Logs method, route pattern, status and time, and counts them; never the URL (a feed URL is a secret). */
export function requestLog(logger: Logger, metrics: Metrics): RequestHandler {
  const log = logger.child({ module: 'http' });
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routePattern(req);
      metrics.httpRequest(req.method, route, res.statusCode, seconds);
      log.info({ method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 10_000) / 10 }, 'request');
    });
    next();
  };
}

export function opsRouter({ store, logger, metrics, tokens }: OpsDeps): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    try {
      await store.ping();
      res.set('Cache-Control', 'no-store').json({ status: 'ready' });
    } catch (err) {
      logger.warn({ err: loggableError(err) }, 'readiness check failed');
      throw new AppError({ code: ErrorCode.SERVICE_UNAVAILABLE, status: 503, message: 'The database does not answer.' });
    }
  });
  router.get('/metrics', authenticate(tokens), requireAdmin, async (_req, res) => {
    const body = await metrics.registry.metrics();
    res.set({ 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' }).send(body);
  });
  return router;
}

/** The whole HTTP surface of a worker process (ROLE=worker): the ops routes and nothing else. */
export function createOpsApp(deps: OpsDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestLog(deps.logger, deps.metrics));
  app.use(opsRouter(deps));
  app.use(notFoundHandler);
  app.use(errorMiddleware(deps.logger));
  return app;
}
