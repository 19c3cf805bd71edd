// Public surface of the store: one Store implementation over Kysely, a factory per database, and
// createStore, which picks the database from the configuration.
import type { Store } from '../domain/index.js';
import { createPostgresStore } from './postgres-store.js';
import { createSqliteStore } from './sqlite-store.js';

export { createSqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
export { createPostgresStore, MAX_TRANSACTION_ATTEMPTS, type PostgresStoreOptions } from './postgres-store.js';
export { migrateSqlite, migratePostgres } from './migrate.js';
export { migrations, type Migration } from './migrations.js';

export type StoreLocation = { kind: 'sqlite'; filename: string } | { kind: 'postgres'; url: string };

export function createStore(location: StoreLocation, options: { migrate?: boolean; onFeedFenceError?: (err: unknown) => void } = {}): Promise<Store> {
  const { onFeedFenceError, ...common } = options;
  switch (location.kind) {
    case 'sqlite':
      return createSqliteStore({ filename: location.filename, ...common });
    case 'postgres':
      return createPostgresStore({ url: location.url, ...common, ...(onFeedFenceError === undefined ? {} : { onFeedFenceError }) });
    default: {
      const unknown: never = location;
      throw new Error(`Unknown database: ${JSON.stringify(unknown)}`);
    }
  }
}
