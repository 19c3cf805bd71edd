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
  {
    id: 2,
    name: 'push sync: connections, sync targets, resync jobs, audit log',
    sql: `
      -- pending_* hold one authorization in flight: all three set or all three NULL.
      CREATE TABLE connections (
        id                      TEXT NOT NULL PRIMARY KEY,
        provider_id             TEXT NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        kind                    TEXT NOT NULL CHECK (kind IN ('google', 'outlook')),
        calendar_id             TEXT NOT NULL,
        status                  TEXT NOT NULL CHECK (
          status IN ('pending_authorization', 'active', 'needs_reauth', 'error', 'disconnected')
        ),
        account_email           TEXT,
        sealed_tokens           TEXT,
        pending_nonce           TEXT,
        pending_sealed_verifier TEXT,
        pending_expires_at      TEXT,
        last_synced_at          TEXT,
        last_error_code         TEXT,
        created_at              TEXT NOT NULL,
        updated_at              TEXT NOT NULL,
        CHECK (
          (pending_nonce IS NULL AND pending_sealed_verifier IS NULL AND pending_expires_at IS NULL)
          OR (pending_nonce IS NOT NULL AND pending_sealed_verifier IS NOT NULL AND pending_expires_at IS NOT NULL)
        )
      ) STRICT;

      -- Serves listConnections (ordered by created_at, id), markSessionsDirty and the provider cascade.
      CREATE INDEX connections_by_provider ON connections (provider_id, created_at, id);
      -- listAllConnections(statuses) and syncHealth's reauth list.
      CREATE INDEX connections_by_status ON connections (status, id);

      -- One row per (connection, session). session_id has no FK on purpose: the target of a
      -- deleted session must outlive it so that the worker can still delete its remote event.
      -- Pending: generation > synced_generation and not dead.
      CREATE TABLE sync_targets (
        id                TEXT    NOT NULL PRIMARY KEY,
        connection_id     TEXT    NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
        provider_id       TEXT    NOT NULL,
        session_id        TEXT    NOT NULL,
        generation        INTEGER NOT NULL CHECK (generation >= 0),
        synced_generation INTEGER NOT NULL CHECK (synced_generation >= 0),
        external_id       TEXT,
        synced_revision   TEXT,
        attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at   TEXT    NOT NULL,
        lease_owner       TEXT,
        lease_until       TEXT,
        last_error_code   TEXT,
        dead_at           TEXT,
        created_at        TEXT    NOT NULL,
        updated_at        TEXT    NOT NULL,
        UNIQUE (connection_id, provider_id, session_id),
        CHECK ((lease_owner IS NULL) = (lease_until IS NULL))
      ) STRICT;

      -- The claim and nextDueAt scan only pending rows, in due order; synced and dead rows (the
      -- vast majority) are not in this index at all. Queries must repeat the WHERE to use it.
      CREATE INDEX sync_targets_due ON sync_targets (next_attempt_at, id)
        WHERE generation > synced_generation AND dead_at IS NULL;
      -- syncHealth's dead-letter list.
      CREATE INDEX sync_targets_dead ON sync_targets (dead_at) WHERE dead_at IS NOT NULL;

      CREATE TABLE resync_jobs (
        id          TEXT NOT NULL PRIMARY KEY,
        kind        TEXT NOT NULL CHECK (kind IN ('resync')),
        status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
        request     TEXT NOT NULL CHECK (json_valid(request)),
        progress    TEXT NOT NULL CHECK (json_valid(progress)),
        plan        TEXT CHECK (plan IS NULL OR json_valid(plan)),
        error       TEXT,
        actor       TEXT NOT NULL,
        lease_owner TEXT,
        lease_until TEXT,
        created_at  TEXT NOT NULL,
        started_at  TEXT,
        finished_at TEXT
      ) STRICT;

      CREATE INDEX resync_jobs_by_status ON resync_jobs (status, created_at);

      -- Append-only; AUTOINCREMENT so an id is never reused, even after the newest row is deleted.
      CREATE TABLE audit_log (
        id      INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
        at      TEXT    NOT NULL,
        actor   TEXT    NOT NULL,
        action  TEXT    NOT NULL,
        target  TEXT    NOT NULL,
        details TEXT    NOT NULL CHECK (json_valid(details))
      ) STRICT;
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
