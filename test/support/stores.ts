// The databases a suite runs on: SQLite always, PostgreSQL when TEST_DATABASE_URL is set (the
// PostgreSQL helper prints once that it is skipped otherwise).
import type { Store } from '../../src/domain/index.js';
import { createSqliteStore } from '../../src/store/index.js';
import { createTestPostgresStore, TEST_DATABASE_URL } from './postgres.js';

export type StoreFactory = () => Promise<Store>;

let announced = false;

export function testStores(): [string, StoreFactory][] {
  const stores: [string, StoreFactory][] = [['SQLite', () => createSqliteStore({ filename: ':memory:' })]];
  const url = TEST_DATABASE_URL;
  if (url !== undefined && url !== '') stores.push(['PostgreSQL', () => createTestPostgresStore(url)]);
  else if (!announced) {
    announced = true;
    console.log('  PostgreSQL sync suites skipped: TEST_DATABASE_URL is not set (.ci/run sets it).');
  }
  return stores;
}
