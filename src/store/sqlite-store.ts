// The Store on an embedded SQLite database (Node's built-in node:sqlite), the zero-configuration
// default. Kysely's SqliteDialect serialises every use of the one connection, so a transaction
// keeps it from BEGIN IMMEDIATE to COMMIT while its fn runs, and nothing else (no read, no fetch
// bookkeeping) can run on it meanwhile and see uncommitted rows.
import { Kysely, SqliteDialect } from 'kysely';
import type { Store } from '../domain/index.js';
import { sqliteDialect } from './dialect.js';
import { KyselyStore } from './kysely-store.js';
import { migrateSqlite, pendingSqliteMigrations } from './migrate.js';
import { kyselySqliteDatabase, openSqliteDatabase } from './node-sqlite-driver.js';
import type { Database } from './rows.js';

export interface SqliteStoreOptions {
  /** Path of the database file, or ':memory:' for a private in-memory database. */
  filename: string;
  /** Apply pending migrations on open (default true); when false, pending ones make open fail. */
  migrate?: boolean;
}

export async function createSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const db = openSqliteDatabase(options.filename);
  try {
    if (options.migrate ?? true) {
      migrateSqlite(db);
    } else {
      const pending = pendingSqliteMigrations(db);
      if (pending.length > 0) {
        throw new Error(`The database needs migrations ${pending.join(', ')}; run "npm run migrate" first.`);
      }
    }
  } catch (error) {
    db.close();
    throw error;
  }
  // Changes when another connection (another process on this file) commits; own commits are
  // counted by the store itself.
  const dataVersion = db.prepare('PRAGMA data_version');
  const database = kyselySqliteDatabase(db);
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  return new KyselyStore({
    db: kysely,
    dialect: sqliteDialect,
    // The driver shim opens it as BEGIN IMMEDIATE: the write lock is taken up front, so a
    // read-check-write in fn cannot be beaten by another process between its read and its write.
    transaction: (root, fn) => root.transaction().execute(fn),
    externalCommits: () => Number((dataVersion.get() as { data_version: number }).data_version),
    // Outside a transaction nothing else is under way on the one connection (reads run whole, in
    // one go): a read now sees what it would once through Kysely's mutex. Inside one it waits, and
    // a statement that is no query (one that writes) always goes through Kysely.
    readNow: (query, parameters) => {
      if (db.isTransaction) return undefined;
      const statement = database.prepare(query);
      return statement.reader ? (statement.all(parameters) as unknown[]) : undefined;
    },
  });
}
