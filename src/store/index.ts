// Public surface of the store adapters. Each adapter keeps its dialect's SQL and migrations to
// itself; callers see only the Store port and a factory per database.
export { createSqliteStore } from './sqlite-store.js';
export type { SqliteStoreOptions } from './sqlite-store.js';
export { migrateSqlite, pendingSqliteMigrations } from './sqlite-migrations.js';
