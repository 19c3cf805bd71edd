import { mkdir } from 'node:fs/promises';
import { createGoogleConnector, createGoogleOAuth } from '../connectors/google/index.js';
import { createMicrosoftOAuth, createOutlookConnector } from '../connectors/outlook/index.js';
import { createSecretBox, parseEncryptionKey } from './crypto/secret-box.js';
import { loadOrCreateDevSecret } from './dev-secrets.js';
import type { CalendarConnector, ConnectionKind, OAuthProvider } from './domain/index.js';
import { ResyncRunner, SyncWorker } from './sync/index.js';
import { createApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { createStore } from './store/index.js';

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

  let encryptionKey = config.encryptionKey;
  if (encryptionKey === undefined) {
    const generated = await loadOrCreateDevSecret(config.dataDir, 'encryption-key');
    encryptionKey = parseEncryptionKey(generated.value) ?? undefined;
    logger.warn({ file: generated.file, created: generated.created }, 'ENCRYPTION_KEY not set: using the development key stored in this file');
  }
  if (encryptionKey === undefined) throw new Error('the development encryption key file is damaged; delete it to make a new one');
  const secrets = createSecretBox(encryptionKey);

  const store = await createStore(config.database);
  const { oauth, connectors } = vendorAdapters(config);
  const syncOptions = { store, connectors, secrets, clock: systemClock, logger, pastDays: config.feed.pastDays };
  const worker = config.syncWorker ? new SyncWorker(syncOptions) : null;
  const resync = config.syncWorker ? new ResyncRunner(syncOptions) : null;
  const app = createApp({
    store,
    clock: systemClock,
    logger,
    tokens: { admin: adminToken, platform: config.platformApiToken },
    publicBaseUrl: config.publicBaseUrl,
    uidDomain: config.uidDomain,
    feed: config.feed,
    sync: { secrets, oauth, connectors },
  });
  worker?.start();
  resync?.start();

  const server = app.listen(config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    logger.info(
      { port, database: config.database.kind, publicBaseUrl: config.publicBaseUrl, connectors: [...connectors.keys()], syncWorker: config.syncWorker },
      'sessionsync listening',
    );
  });

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    server.close(() => {
      Promise.all([worker?.stop(), resync?.stop()])
        .then(() => store.close())
        .then(
          () => process.exit(0),
          () => process.exit(1),
        );
    });
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`sessionsync failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
