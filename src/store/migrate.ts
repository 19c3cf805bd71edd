// Applies migrations.ts to a database. Each migration runs in a transaction of its own and is
// recorded in schema_migrations; two processes starting at once never both apply one (SQLite:
// BEGIN IMMEDIATE and a re-check under the write lock; PostgreSQL: an advisory lock held for the
// whole run). A database migrated by a newer build is refused: its schema is not this code's.
import type { DatabaseSync } from 'node:sqlite';
import type pg from 'pg';
import { migrations as allMigrations, type Migration } from './migrations.js';

/** Applies pending migrations to a SQLite database; returns the ids applied, in order. */
export function migrateSqlite(db: DatabaseSync, migrations: readonly Migration[] = allMigrations): number[] {
  assertOrdered(migrations);
  db.exec(`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      id         INTEGER NOT NULL PRIMARY KEY,
      name       TEXT    NOT NULL,
      applied_at TEXT    NOT NULL
    ) STRICT
  `);
  assertKnown(readSqliteIds(db), migrations);

  const isApplied = db.prepare('SELECT 1 FROM schema_migrations WHERE id = ?');
  const record = db.prepare('INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)');
  const applied: number[] = [];
  for (const migration of migrations) {
    db.exec('BEGIN IMMEDIATE');
    try {
      // Re-checked under the write lock: another process may have applied it since we looked.
      if (isApplied.get(migration.id) === undefined) {
        db.exec(migration.sqlite);
        record.run(migration.id, migration.name, new Date().toISOString());
        applied.push(migration.id);
      }
      db.exec('COMMIT');
    } catch (error) {
      // Some errors (SQLITE_FULL, a failed COMMIT under I/O error) already rolled back.
      if (db.isTransaction) db.exec('ROLLBACK');
      throw error;
    }
  }
  return applied;
}

/** Ids of the migrations this build knows that the SQLite database has not applied yet. */
export function pendingSqliteMigrations(db: DatabaseSync, migrations: readonly Migration[] = allMigrations): number[] {
  const applied = new Set(readSqliteIds(db));
  return migrations.filter((m) => !applied.has(m.id)).map((m) => m.id);
}

function readSqliteIds(db: DatabaseSync): number[] {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (exists === undefined) return [];
  // id is an INTEGER of a STRICT table, read as a number (readBigInts is off).
  return db
    .prepare('SELECT id FROM schema_migrations ORDER BY id')
    .all()
    .map((row) => row.id as number);
}

/** Any fixed 64-bit key: the one advisory lock every sessionsync process migrates under. */
const MIGRATION_LOCK = 7_353_002_611;

/** Applies pending migrations to the PostgreSQL database (its search_path schema). */
export async function migratePostgres(pool: pg.Pool, migrations: readonly Migration[] = allMigrations): Promise<number[]> {
  assertOrdered(migrations);
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(`
        CREATE TABLE IF NOT EXISTS schema_migrations (
          id         INTEGER          NOT NULL PRIMARY KEY,
          name       TEXT COLLATE "C" NOT NULL,
          applied_at TEXT COLLATE "C" NOT NULL
        )
      `);
      const done = await readPostgresIds(client);
      assertKnown(done, migrations);
      const applied: number[] = [];
      for (const migration of migrations.filter((m) => !done.includes(m.id))) {
        await client.query('BEGIN');
        try {
          // No parameters, so the simple query protocol runs the whole multi-statement script.
          await client.query(migration.postgres);
          await client.query('INSERT INTO schema_migrations (id, name, applied_at) VALUES ($1, $2, $3)', [
            migration.id,
            migration.name,
            new Date().toISOString(),
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
        applied.push(migration.id);
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

/** Ids of the migrations this build knows that the PostgreSQL database has not applied yet. */
export async function pendingPostgresMigrations(pool: pg.Pool, migrations: readonly Migration[] = allMigrations): Promise<number[]> {
  const client = await pool.connect();
  try {
    const exists = await client.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present");
    const applied = new Set(exists.rows[0]?.present === true ? await readPostgresIds(client) : []);
    return migrations.filter((m) => !applied.has(m.id)).map((m) => m.id);
  } finally {
    client.release();
  }
}

async function readPostgresIds(client: pg.PoolClient): Promise<number[]> {
  const result = await client.query<{ id: number }>('SELECT id FROM schema_migrations ORDER BY id');
  return result.rows.map((row) => row.id);
}

function assertOrdered(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    const previous = migrations[i - 1];
    if (previous !== undefined && m.id <= previous.id) {
      throw new Error(`Migrations out of order: ${m.id} (${m.name}) follows ${previous.id}`);
    }
  });
}

// A database migrated by a newer build has a schema this code was not written for; refusing to
// start beats writing rows the newer schema does not expect.
function assertKnown(appliedIds: readonly number[], migrations: readonly Migration[]): void {
  const known = new Set(migrations.map((m) => m.id));
  const unknown = appliedIds.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new Error(`The database has migrations this build does not know: ${unknown.join(', ')}`);
  }
}
