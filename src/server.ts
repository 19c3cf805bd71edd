import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import { createGoogleConnector, createGoogleOAuth } from '../connectors/google/index.js';
import { createMicrosoftOAuth, createOutlookConnector } from '../connectors/outlook/index.js';
import { createSecretBox } from './crypto/secret-box.js';
import { encryptionKeysOrDevKey, loadOrCreateDevSecret } from './dev-secrets.js';
import type { CalendarConnector, ConnectionKind, OAuthProvider } from './domain/index.js';
import { BusyRefresher, ResyncRunner, SyncWorker } from './sync/index.js';
import { createIcsReader } from '../busy/index.js';
import { createApp, createBusyService } from './app.js';
import { createOpsApp } from './http/ops-routes.js';
import { createMetrics } from './metrics.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, loggableError } from './logger.js';
import { createStore } from './store/index.js';
import { loadJoinLinks } from './services/join-link-key.js';

// Composition root: config -> store -> app. The only module that knows every adapter.

const systemClock = { now: () => new Date() };

/** The vendor adapters this deployment is configured for (none without client credentials). */
function vendorAdapters(config: Config) {
  const oauth = new Map<ConnectionKind, OAuthProvider>();
  const connectors = new Map<ConnectionKind, CalendarConnector>();
  if (config.google !== null) {
    const google = { ...config.google, apiRootUrl: config.google.apiUrl };
    oauth.set('google', createGoogleOAuth(google));
    connectors.set('google', createGoogleConnector(google));
  }
  if (config.microsoft !== null) {
    const microsoft = { ...config.microsoft, loginUrl: config.microsoft.authUrl, graphUrl: config.microsoft.apiUrl };
    oauth.set('outlook', createMicrosoftOAuth(microsoft));
    connectors.set('outlook', createOutlookConnector(microsoft));
  }
  return { oauth, connectors };
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);

  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  let adminToken = config.adminToken;
  if (adminToken === undefined) {
    const generated = await loadOrCreateDevSecret(config.dataDir, 'admin-token');
    adminToken = generated.value;
    logger.warn({ file: generated.file, created: generated.created }, 'ADMIN_TOKEN not set: using the development admin token stored in this file');
  }

  const { keys, generated } = await encryptionKeysOrDevKey(config.encryptionKeys, config.dataDir);
  if (generated !== null) logger.warn(generated, 'ENCRYPTION_KEY not set: using the development key stored in this file');
  const secrets = createSecretBox(keys);

  const storeLog = logger.child({ module: 'store' });
  const store = await createStore(config.database, {
    // pg's connection errors can name the host and user: the error's type and code only.
    onFeedFenceError: (err) => storeLog.warn({ err: loggableError(err) }, 'feed fence connection failed; polls ask the database until it listens again'),
  });
  const metrics = createMetrics({ store, clock: systemClock, role: config.role });
  const { oauth, connectors } = vendorAdapters(config);
  const runsWorkers = config.role !== 'api';
  // Stored in the database (sealed), so that rotating ENCRYPTION_KEYS never changes a /j/ link.
  const joinLinks = await loadJoinLinks({ store, secrets, clock: systemClock, publicBaseUrl: config.publicBaseUrl });
  const syncOptions = { store, connectors, secrets, joinLinks, clock: systemClock, logger, pastDays: config.feed.pastDays, metrics };
  const unpaced = { perSecond: 1e9, burst: 1e9 };
  const worker = runsWorkers ? new SyncWorker({ ...syncOptions, oauth, ...(config.syncPacing ? {} : { rateLimits: { google: unpaced, outlook: unpaced } }) }) : null;
  const resync = runsWorkers ? new ResyncRunner(syncOptions) : null;
  const busyConfig = { ics: createIcsReader({ ...config.busy, uidDomain: config.uidDomain }), refreshMinutes: config.busy.refreshMinutes };
  const busyRefresher = runsWorkers ? new BusyRefresher(createBusyService({ store, clock: systemClock, logger, uidDomain: config.uidDomain, busy: busyConfig, secrets, connectors }), logger) : null;
  const tokens = { admin: adminToken, platform: config.platformApiToken };
  const shutdownHooks: (() => Promise<void>)[] = [];
  const app =
    config.role === 'worker'
      ? createOpsApp({ store, logger, metrics, tokens })
      : createApp({
          store,
          clock: systemClock,
          logger,
          metrics,
          tokens,
          publicBaseUrl: config.publicBaseUrl,
          uidDomain: config.uidDomain,
          feed: config.feed,
          joinOpensMinutes: config.joinOpensMinutes,
          sync: { secrets, oauth, connectors },
          joinLinks,
          busy: busyConfig,
          onShutdown: (hook) => shutdownHooks.push(hook),
        });
  worker?.start();
  resync?.start();
  busyRefresher?.start();

  // Either app is a request listener. A port already taken (or an address it may not bind) ends
  // the process in one sentence, rather than as a stack or a process that listens nowhere.
  const server = http.createServer(app);
  server.once('error', (err: NodeJS.ErrnoException) => {
    process.stderr.write(`sessionsync cannot listen on ${config.host}:${config.port}: ${err.code ?? err.message}\n`);
    process.exit(1);
  });
  server.listen(config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    logger.info(
      { port, role: config.role, database: config.database.kind, publicBaseUrl: config.publicBaseUrl, connectors: [...connectors.keys()] },
      'sessionsync listening',
    );
  });

  // SIGTERM: stop taking requests and claims, let running work finish and give its leases back,
  // write the feed bookkeeping held in memory, close the database, exit 0; whatever is still running after 10 s is cut off (exit 1), and its
  // leases expire by themselves.
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => process.exit(1), 10_000).unref();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive connections of idle clients would hold server.close() open until they time out.
    server.closeIdleConnections();
    Promise.all([closed, worker?.stop(), resync?.stop(), busyRefresher?.stop()])
      .then(() => Promise.all(shutdownHooks.map((hook) => hook())))
      .then(() => store.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err: loggableError(err) }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`sessionsync failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
