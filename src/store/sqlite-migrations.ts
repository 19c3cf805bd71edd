// SQLite schema, as an ordered list of forward-only migrations. The SQL lives in TS strings so that
// the compiled build runs without copying .sql assets next to it.
import type { DatabaseSync } from 'node:sqlite';

export interface SqliteMigration {
  /** Strictly increasing; recorded in schema_migrations once applied. Never renumber or edit. */
  id: number;
  name: string;
  sql: string;
}

// Conventions of the schema:
// - instants are ISO-8601 UTC TEXT (Date#toISOString), so text order is time order;
// - booleans are INTEGER 0/1 with a CHECK, so a stray 2 or 'true' cannot sneak in;
// - every child row cascades from its provider; sessions reference their location loosely (no FK)
//   because deleting a location detaches past sessions instead of deleting or blocking them.
export const sqliteMigrations: readonly SqliteMigration[] = [
  {
    id: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE providers (
        id                   TEXT    NOT NULL PRIMARY KEY,
        name                 TEXT    NOT NULL,
        email                TEXT,
        timezone             TEXT    NOT NULL,
        privacy_mode         TEXT    NOT NULL CHECK (privacy_mode IN ('none', 'initials', 'full')),
        privacy_baa_attested INTEGER NOT NULL CHECK (privacy_baa_attested IN (0, 1)),
        feed_revision        INTEGER NOT NULL DEFAULT 0,
        created_at           TEXT    NOT NULL,
        updated_at           TEXT    NOT NULL
      ) STRICT;

      -- One table for both kinds: the CHECK keeps each kind's columns filled and the other kind's
      -- columns NULL, so a row always maps back to exactly one domain variant.
      CREATE TABLE locations (
        provider_id  TEXT    NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        id           TEXT    NOT NULL,
        kind         TEXT    NOT NULL CHECK (kind IN ('virtual', 'office')),
        name         TEXT,
        url          TEXT,
        instructions TEXT,
        waiting_room INTEGER CHECK (waiting_room IN (0, 1)),
        platform     TEXT,
        address      TEXT,
        is_default   INTEGER NOT NULL CHECK (is_default IN (0, 1)),
        created_at   TEXT    NOT NULL,
        updated_at   TEXT    NOT NULL,
        PRIMARY KEY (provider_id, id),
        CHECK (
          (kind = 'virtual' AND url IS NOT NULL AND address IS NULL)
          OR (kind = 'office' AND name IS NOT NULL AND address IS NOT NULL AND url IS NULL
              AND instructions IS NULL AND waiting_room IS NULL AND platform IS NULL)
        )
      ) STRICT;

      CREATE TABLE sessions (
        provider_id       TEXT    NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        id                TEXT    NOT NULL,
        uid               TEXT    NOT NULL UNIQUE,
        starts_at         TEXT    NOT NULL,
        ends_at           TEXT    NOT NULL,
        location_id       TEXT,
        telehealth_url    TEXT,
        client_id         TEXT,
        client_first_name TEXT,
        client_last_name  TEXT,
        status            TEXT    NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
        series_id         TEXT,
        sequence          INTEGER NOT NULL,
        event_fingerprint TEXT    NOT NULL,
        last_modified     TEXT    NOT NULL,
        created_at        TEXT    NOT NULL,
        updated_at        TEXT    NOT NULL,
        PRIMARY KEY (provider_id, id)
      ) STRICT;

      -- id completes the ORDER BY (start, id) so listing never needs a sort step.
      CREATE INDEX sessions_by_provider_start ON sessions (provider_id, starts_at, id);
      CREATE INDEX sessions_by_provider_location ON sessions (provider_id, location_id);
      CREATE INDEX sessions_by_provider_series ON sessions (provider_id, series_id);

      CREATE TABLE feed_tokens (
        id              TEXT    NOT NULL PRIMARY KEY,
        provider_id     TEXT    NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        label           TEXT,
        token_hash      TEXT    NOT NULL,
        created_at      TEXT    NOT NULL,
        revoked_at      TEXT,
        last_fetched_at TEXT,
        last_user_agent TEXT,
        fetch_count     INTEGER NOT NULL DEFAULT 0
      ) STRICT;

      -- The feed endpoint's only lookup; unique because a hash names exactly one token.
      CREATE UNIQUE INDEX feed_tokens_by_token_hash ON feed_tokens (token_hash);
      -- Serves listFeeds and the provider cascade, which would otherwise scan every token.
      CREATE INDEX feed_tokens_by_provider ON feed_tokens (provider_id, id);
    `,
  },
];

/**
 * Applies the migrations not yet recorded in schema_migrations, each in its own IMMEDIATE
 * transaction (so two processes starting together cannot both apply one), and returns the ids it
 * applied, in order. Idempotent: a second call returns [].
 */
export function migrateSqlite(
  db: DatabaseSync,
  migrations: readonly SqliteMigration[] = sqliteMigrations,
): number[] {
  assertOrdered(migrations);
  ensureMigrationsTable(db);
  assertKnown(db, migrations);

  const isApplied = db.prepare('SELECT 1 FROM schema_migrations WHERE id = ?');
  const record = db.prepare('INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)');
  const applied: number[] = [];
  for (const migration of migrations) {
    const didApply = inImmediateTransaction(db, () => {
      // Re-checked under the write lock: another process may have applied it since we looked.
      if (isApplied.get(migration.id) !== undefined) return false;
      db.exec(migration.sql);
      record.run(migration.id, migration.name, new Date().toISOString());
      return true;
    });
    if (didApply) applied.push(migration.id);
  }
  return applied;
}

/** Ids of the migrations this build knows that the database has not applied yet. */
export function pendingSqliteMigrations(
  db: DatabaseSync,
  migrations: readonly SqliteMigration[] = sqliteMigrations,
): number[] {
  const appliedIds = new Set(readAppliedIds(db));
  return migrations.filter((m) => !appliedIds.has(m.id)).map((m) => m.id);
}

function ensureMigrationsTable(db: DatabaseSync): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      id         INTEGER NOT NULL PRIMARY KEY,
      name       TEXT    NOT NULL,
      applied_at TEXT    NOT NULL
    ) STRICT
  `);
}

/** Runs fn between BEGIN IMMEDIATE and COMMIT; rolls back and rethrows when fn throws. */
function inImmediateTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    // Some errors (SQLITE_FULL, a failed COMMIT under I/O error) already rolled back.
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

function readAppliedIds(db: DatabaseSync): number[] {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (exists === undefined) return [];
  // id is an INTEGER of a STRICT table, read as a number (readBigInts is off).
  return db
    .prepare('SELECT id FROM schema_migrations ORDER BY id')
    .all()
    .map((row) => row.id as number);
}

function assertOrdered(migrations: readonly SqliteMigration[]): void {
  migrations.forEach((m, i) => {
    const previous = migrations[i - 1];
    if (previous !== undefined && m.id <= previous.id) {
      throw new Error(`SQLite migrations out of order: ${m.id} (${m.name}) follows ${previous.id}`);
    }
  });
}

// A database migrated by a newer build has a schema this code was not written for; refusing to
// start beats writing rows the newer schema does not expect.
function assertKnown(db: DatabaseSync, migrations: readonly SqliteMigration[]): void {
  const known = new Set(migrations.map((m) => m.id));
  const unknown = readAppliedIds(db).filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new Error(`The database has migrations this build does not know: ${unknown.join(', ')}`);
  }
}
