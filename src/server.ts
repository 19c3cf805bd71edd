import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { loadOrCreateAdminToken } from './admin-token.js';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { createSqliteStore } from './store/index.js';

// Composition root: config -> store -> app. The only module that knows every adapter.

const systemClock = { now: () => new Date() };

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
    const generated = await loadOrCreateAdminToken(config.dataDir);
    adminToken = generated.token;
    logger.warn({ file: generated.file, created: generated.created }, 'ADMIN_TOKEN not set: using the development admin token stored in this file');
  }

  await mkdir(path.dirname(path.resolve(config.database.filename)), { recursive: true });
  const store = await createSqliteStore({ filename: config.database.filename });
  const app = createApp({
    store,
    clock: systemClock,
    logger,
    tokens: { admin: adminToken, platform: config.platformApiToken },
    publicBaseUrl: config.publicBaseUrl,
    uidDomain: config.uidDomain,
    feed: config.feed,
  });

  const server = app.listen(config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    logger.info({ port, database: config.database.kind, publicBaseUrl: config.publicBaseUrl }, 'sessionsync listening');
  });

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    server.close(() => {
      store.close().then(
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
