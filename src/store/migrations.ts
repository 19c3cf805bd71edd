// The schema, as one ordered list of forward-only migrations whose entries hold each dialect's
// DDL side by side (a test checks that both end with the same tables, columns and nullability).
// The SQL lives in TS strings so that the compiled build runs without copying .sql assets.
//
// Conventions of the schema:
// - instants are ISO-8601 UTC text of fixed width (Date#toISOString inside the range of
//   domain/instants.ts), so text order is time order;
// - every text column on PostgreSQL is COLLATE "C": the store's ORDER BY must be byte order, as
//   SQLite's BINARY is, whatever collation the database was created with;
// - booleans are BOOLEAN on PostgreSQL and INTEGER 0/1 with a CHECK on SQLite;
// - JSON columns are JSONB on PostgreSQL and TEXT with CHECK (json_valid) on SQLite;
// - every child row cascades from its provider; sessions reference their location loosely (no FK)
//   because deleting a location detaches past sessions instead of deleting or blocking them.

export interface Migration {
  /** Strictly increasing; recorded in schema_migrations once applied. Never renumber or edit. */
  id: number;
  name: string;
  sqlite: string;
  postgres: string;
}

/** Every PostgreSQL text column: byte-order comparisons, as on SQLite. */
const T = 'TEXT COLLATE "C"';

export const migrations: readonly Migration[] = [
  {
    id: 1,
    name: 'initial schema',
    sqlite: `
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
    postgres: `
      CREATE TABLE providers (
        id                   ${T}    NOT NULL PRIMARY KEY,
        name                 ${T}    NOT NULL,
        email                ${T},
        timezone             ${T}    NOT NULL,
        privacy_mode         ${T}    NOT NULL CHECK (privacy_mode IN ('none', 'initials', 'full')),
        privacy_baa_attested BOOLEAN NOT NULL,
        feed_revision        INTEGER NOT NULL DEFAULT 0,
        created_at           ${T}    NOT NULL,
        updated_at           ${T}    NOT NULL
      );

      CREATE TABLE locations (
        provider_id  ${T}    NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        id           ${T}    NOT NULL,
        kind         ${T}    NOT NULL CHECK (kind IN ('virtual', 'office')),
        name         ${T},
        url          ${T},
        instructions ${T},
        waiting_room BOOLEAN,
        platform     ${T},
        address      ${T},
        is_default   BOOLEAN NOT NULL,
        created_at   ${T}    NOT NULL,
        updated_at   ${T}    NOT NULL,
        PRIMARY KEY (provider_id, id),
        CHECK (
          (kind = 'virtual' AND url IS NOT NULL AND address IS NULL)
          OR (kind = 'office' AND name IS NOT NULL AND address IS NOT NULL AND url IS NULL
              AND instructions IS NULL AND waiting_room IS NULL AND platform IS NULL)
        )
      );

      CREATE TABLE sessions (
        provider_id       ${T}    NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        id                ${T}    NOT NULL,
        uid               ${T}    NOT NULL UNIQUE,
        starts_at         ${T}    NOT NULL,
        ends_at           ${T}    NOT NULL,
        location_id       ${T},
        telehealth_url    ${T},
        client_id         ${T},
        client_first_name ${T},
        client_last_name  ${T},
        status            ${T}    NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
        series_id         ${T},
        sequence          INTEGER NOT NULL,
        event_fingerprint ${T}    NOT NULL,
        last_modified     ${T}    NOT NULL,
        created_at        ${T}    NOT NULL,
        updated_at        ${T}    NOT NULL,
        PRIMARY KEY (provider_id, id)
      );

      CREATE INDEX sessions_by_provider_start ON sessions (provider_id, starts_at, id);
      CREATE INDEX sessions_by_provider_location ON sessions (provider_id, location_id);
      CREATE INDEX sessions_by_provider_series ON sessions (provider_id, series_id);

      CREATE TABLE feed_tokens (
        id              ${T}    NOT NULL PRIMARY KEY,
        provider_id     ${T}    NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        label           ${T},
        token_hash      ${T}    NOT NULL,
        created_at      ${T}    NOT NULL,
        revoked_at      ${T},
        last_fetched_at ${T},
        last_user_agent ${T},
        fetch_count     INTEGER NOT NULL DEFAULT 0
      );

      CREATE UNIQUE INDEX feed_tokens_by_token_hash ON feed_tokens (token_hash);
      CREATE INDEX feed_tokens_by_provider ON feed_tokens (provider_id, id);
    `,
  },
  {
    id: 2,
    name: 'push sync: connections, sync targets, resync jobs, audit log',
    sqlite: `
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
    postgres: `
      CREATE TABLE connections (
        id                      ${T} NOT NULL PRIMARY KEY,
        provider_id             ${T} NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        kind                    ${T} NOT NULL CHECK (kind IN ('google', 'outlook')),
        calendar_id             ${T} NOT NULL,
        status                  ${T} NOT NULL CHECK (
          status IN ('pending_authorization', 'active', 'needs_reauth', 'error', 'disconnected')
        ),
        account_email           ${T},
        sealed_tokens           ${T},
        pending_nonce           ${T},
        pending_sealed_verifier ${T},
        pending_expires_at      ${T},
        last_synced_at          ${T},
        last_error_code         ${T},
        created_at              ${T} NOT NULL,
        updated_at              ${T} NOT NULL,
        CHECK (
          (pending_nonce IS NULL AND pending_sealed_verifier IS NULL AND pending_expires_at IS NULL)
          OR (pending_nonce IS NOT NULL AND pending_sealed_verifier IS NOT NULL AND pending_expires_at IS NOT NULL)
        )
      );

      CREATE INDEX connections_by_provider ON connections (provider_id, created_at, id);
      CREATE INDEX connections_by_status ON connections (status, id);

      CREATE TABLE sync_targets (
        id                ${T}    NOT NULL PRIMARY KEY,
        connection_id     ${T}    NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
        provider_id       ${T}    NOT NULL,
        session_id        ${T}    NOT NULL,
        generation        INTEGER NOT NULL CHECK (generation >= 0),
        synced_generation INTEGER NOT NULL CHECK (synced_generation >= 0),
        external_id       ${T},
        synced_revision   ${T},
        attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at   ${T}    NOT NULL,
        lease_owner       ${T},
        lease_until       ${T},
        last_error_code   ${T},
        dead_at           ${T},
        created_at        ${T}    NOT NULL,
        updated_at        ${T}    NOT NULL,
        UNIQUE (connection_id, provider_id, session_id),
        CHECK ((lease_owner IS NULL) = (lease_until IS NULL))
      );

      CREATE INDEX sync_targets_due ON sync_targets (next_attempt_at, id)
        WHERE generation > synced_generation AND dead_at IS NULL;
      CREATE INDEX sync_targets_dead ON sync_targets (dead_at) WHERE dead_at IS NOT NULL;

      CREATE TABLE resync_jobs (
        id          ${T} NOT NULL PRIMARY KEY,
        kind        ${T} NOT NULL CHECK (kind IN ('resync')),
        status      ${T} NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
        request     JSONB NOT NULL,
        progress    JSONB NOT NULL,
        plan        JSONB,
        error       ${T},
        actor       ${T} NOT NULL,
        lease_owner ${T},
        lease_until ${T},
        created_at  ${T} NOT NULL,
        started_at  ${T},
        finished_at ${T}
      );

      CREATE INDEX resync_jobs_by_status ON resync_jobs (status, created_at);

      CREATE TABLE audit_log (
        id      INTEGER NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at      ${T}    NOT NULL,
        actor   ${T}    NOT NULL,
        action  ${T}    NOT NULL,
        target  ${T}    NOT NULL,
        details JSONB   NOT NULL
      );
    `,
  },
  {
    id: 3,
    name: 'connection leases: one worker at a time per calendar account',
    // Held by the worker that works the account (pacing and token refresh stay in one process);
    // renewed while it works, free again when it stops or once it expires.
    sqlite: `
      ALTER TABLE connections ADD COLUMN lease_owner TEXT;
      ALTER TABLE connections ADD COLUMN lease_until TEXT;
    `,
    postgres: `
      ALTER TABLE connections ADD COLUMN lease_owner ${T}, ADD COLUMN lease_until ${T};
    `,
  },
  {
    id: 4,
    name: 'session change stamps: which sessions a feed render must read again',
    // sessions.feed_revision: the provider's feedRevision that the writing transaction commits
    // (its current one + 1 at write time, under the provider lock), so that a feed cached at
    // revision R re-reads only the sessions stamped after R. Rows from before stamp 0: a process
    // starts with nothing cached. providers.sessions_deleted counts deleted sessions, which leave
    // no row to stamp: while it holds, a cached feed lost none of its events.
    sqlite: `
      ALTER TABLE sessions ADD COLUMN feed_revision INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX sessions_by_provider_revision ON sessions (provider_id, feed_revision);
      ALTER TABLE providers ADD COLUMN sessions_deleted INTEGER NOT NULL DEFAULT 0;
    `,
    postgres: `
      ALTER TABLE sessions ADD COLUMN feed_revision INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX sessions_by_provider_revision ON sessions (provider_id, feed_revision);
      ALTER TABLE providers ADD COLUMN sessions_deleted INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    id: 5,
    name: 'busy sources: external calendars read as busy time, and their intervals',
    // busy_sources is one table for both kinds, as locations: the CHECK keeps each kind's columns
    // filled and the other kind's NULL. A connection source names a connection of its own
    // provider (the FK on (provider_id, connection_id), which the new unique index on connections
    // makes possible) and goes when that connection goes. busy_intervals holds only instants.
    // busy_sources_due serves claimDueBusySources (queries repeat kind = 'ics' literally to use it);
    // busy_intervals_by_provider_start serves listBusyIntervals (start_at < to, in its order, with
    // end_at > from read from the index: a source's intervals are replaced on every read, so the
    // past ones scanned are few); busy_intervals_by_source serves the replace and the cascade.
    sqlite: `
      CREATE UNIQUE INDEX connections_by_provider_and_id ON connections (provider_id, id);

      CREATE TABLE busy_sources (
        provider_id     TEXT    NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        id              TEXT    NOT NULL,
        kind            TEXT    NOT NULL CHECK (kind IN ('ics', 'connection')),
        url_sealed      TEXT,
        url_host        TEXT,
        connection_id   TEXT,
        status          TEXT    NOT NULL CHECK (status IN ('pending', 'ok', 'error')),
        last_fetched_at TEXT,
        last_error_code TEXT,
        etag            TEXT,
        last_modified   TEXT,
        interval_count  INTEGER NOT NULL CHECK (interval_count >= 0),
        next_fetch_at   TEXT    NOT NULL,
        created_at      TEXT    NOT NULL,
        updated_at      TEXT    NOT NULL,
        PRIMARY KEY (provider_id, id),
        FOREIGN KEY (provider_id, connection_id) REFERENCES connections (provider_id, id) ON DELETE CASCADE,
        CHECK (
          (kind = 'ics' AND url_sealed IS NOT NULL AND url_host IS NOT NULL AND connection_id IS NULL)
          OR (kind = 'connection' AND connection_id IS NOT NULL AND url_sealed IS NULL AND url_host IS NULL)
        )
      ) STRICT;

      CREATE INDEX busy_sources_due ON busy_sources (next_fetch_at, provider_id, id) WHERE kind = 'ics';
      CREATE INDEX busy_sources_by_connection ON busy_sources (provider_id, connection_id);

      CREATE TABLE busy_intervals (
        provider_id TEXT NOT NULL,
        source_id   TEXT NOT NULL,
        start_at    TEXT NOT NULL,
        end_at      TEXT NOT NULL,
        CHECK (end_at > start_at),
        FOREIGN KEY (provider_id, source_id) REFERENCES busy_sources (provider_id, id) ON DELETE CASCADE
      ) STRICT;

      CREATE INDEX busy_intervals_by_provider_start ON busy_intervals (provider_id, start_at, source_id, end_at);
      CREATE INDEX busy_intervals_by_source ON busy_intervals (provider_id, source_id);
    `,
    postgres: `
      CREATE UNIQUE INDEX connections_by_provider_and_id ON connections (provider_id, id);

      CREATE TABLE busy_sources (
        provider_id     ${T}    NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        id              ${T}    NOT NULL,
        kind            ${T}    NOT NULL CHECK (kind IN ('ics', 'connection')),
        url_sealed      ${T},
        url_host        ${T},
        connection_id   ${T},
        status          ${T}    NOT NULL CHECK (status IN ('pending', 'ok', 'error')),
        last_fetched_at ${T},
        last_error_code ${T},
        etag            ${T},
        last_modified   ${T},
        interval_count  INTEGER NOT NULL CHECK (interval_count >= 0),
        next_fetch_at   ${T}    NOT NULL,
        created_at      ${T}    NOT NULL,
        updated_at      ${T}    NOT NULL,
        PRIMARY KEY (provider_id, id),
        FOREIGN KEY (provider_id, connection_id) REFERENCES connections (provider_id, id) ON DELETE CASCADE,
        CHECK (
          (kind = 'ics' AND url_sealed IS NOT NULL AND url_host IS NOT NULL AND connection_id IS NULL)
          OR (kind = 'connection' AND connection_id IS NOT NULL AND url_sealed IS NULL AND url_host IS NULL)
        )
      );

      CREATE INDEX busy_sources_due ON busy_sources (next_fetch_at, provider_id, id) WHERE kind = 'ics';
      CREATE INDEX busy_sources_by_connection ON busy_sources (provider_id, connection_id);

      CREATE TABLE busy_intervals (
        provider_id ${T} NOT NULL,
        source_id   ${T} NOT NULL,
        start_at    ${T} NOT NULL,
        end_at      ${T} NOT NULL,
        CHECK (end_at > start_at),
        FOREIGN KEY (provider_id, source_id) REFERENCES busy_sources (provider_id, id) ON DELETE CASCADE
      );

      CREATE INDEX busy_intervals_by_provider_start ON busy_intervals (provider_id, start_at, source_id, end_at);
      CREATE INDEX busy_intervals_by_source ON busy_intervals (provider_id, source_id);
    `,
  },
  {
    id: 6,
    name: 'busy sources due: connection sources are read by the worker too',
    // claimDueBusySources claims both kinds now (connected calendars are read through their
    // connector), so busy_sources_due indexes every row: same name and columns, no predicate.
    sqlite: `
      DROP INDEX busy_sources_due;
      CREATE INDEX busy_sources_due ON busy_sources (next_fetch_at, provider_id, id);
    `,
    postgres: `
      DROP INDEX busy_sources_due;
      CREATE INDEX busy_sources_due ON busy_sources (next_fetch_at, provider_id, id);
    `,
  },
  {
    id: 7,
    name: 'web sessions of the portal and admin console, and single-use portal links',
    // Both tables are keyed by the SHA-256 of a secret token, never the token. A provider session
    // names its provider and goes with it; an admin session names none (the CHECK). Expired and
    // revoked rows stay until pruned: the session check reads revoked_at and expires_at.
    sqlite: `
      CREATE TABLE web_sessions (
        id_hash     TEXT NOT NULL PRIMARY KEY,
        kind        TEXT NOT NULL CHECK (kind IN ('provider', 'admin')),
        provider_id TEXT REFERENCES providers (id) ON DELETE CASCADE,
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        revoked_at  TEXT,
        CHECK ((kind = 'provider' AND provider_id IS NOT NULL) OR (kind = 'admin' AND provider_id IS NULL))
      ) STRICT;
      CREATE INDEX web_sessions_by_provider ON web_sessions (provider_id);

      CREATE TABLE portal_links (
        token_hash  TEXT NOT NULL PRIMARY KEY,
        provider_id TEXT NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        used_at     TEXT
      ) STRICT;
      CREATE INDEX portal_links_by_provider ON portal_links (provider_id);
    `,
    postgres: `
      CREATE TABLE web_sessions (
        id_hash     ${T} NOT NULL PRIMARY KEY,
        kind        ${T} NOT NULL CHECK (kind IN ('provider', 'admin')),
        provider_id ${T} REFERENCES providers (id) ON DELETE CASCADE,
        created_at  ${T} NOT NULL,
        expires_at  ${T} NOT NULL,
        revoked_at  ${T},
        CHECK ((kind = 'provider' AND provider_id IS NOT NULL) OR (kind = 'admin' AND provider_id IS NULL))
      );
      CREATE INDEX web_sessions_by_provider ON web_sessions (provider_id);

      CREATE TABLE portal_links (
        token_hash  ${T} NOT NULL PRIMARY KEY,
        provider_id ${T} NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        created_at  ${T} NOT NULL,
        expires_at  ${T} NOT NULL,
        used_at     ${T}
      );
      CREATE INDEX portal_links_by_provider ON portal_links (provider_id);
    `,
  },
  {
    id: 8,
    name: 'stable join links: the provider setting and each session\'s join token hash',
    // Existing providers keep the raw link ('direct'): what their clients were sent stays as it
    // was, and their sessions need no token hash (one derived from ENCRYPTION_KEY, which SQL cannot
    // compute) until the provider chooses 'stable'; that write fills them under the provider lock.
    // New providers default to 'stable' in the API. join_token_hash is SHA-256 of the derived
    // token, never the token; NULL until filled, unique where set.
    sqlite: `
      ALTER TABLE providers ADD COLUMN join_link TEXT NOT NULL DEFAULT 'direct' CHECK (join_link IN ('stable', 'direct'));
      ALTER TABLE sessions ADD COLUMN join_token_hash TEXT;
      CREATE UNIQUE INDEX sessions_by_join_token ON sessions (join_token_hash);
      CREATE INDEX sessions_without_join_token ON sessions (provider_id) WHERE join_token_hash IS NULL;
    `,
    postgres: `
      ALTER TABLE providers ADD COLUMN join_link ${T} NOT NULL DEFAULT 'direct' CHECK (join_link IN ('stable', 'direct'));
      ALTER TABLE sessions ADD COLUMN join_token_hash ${T};
      CREATE UNIQUE INDEX sessions_by_join_token ON sessions (join_token_hash);
      CREATE INDEX sessions_without_join_token ON sessions (provider_id) WHERE join_token_hash IS NULL;
    `,
  },
  {
    id: 9,
    name: 'leaving cleanly, rotatable keys and reminders: offboarding state, feed tombstones, settings',
    // providers.offboarded_at: set when the provider leaves (POST .../offboard keeps the row, DELETE
    // removes it once every calendar is cleaned); its feeds answer from feed_tombstones from then on.
    // providers.reminders: JSON array of minutes before the start (popup) for pushed events, NULL
    // for the calendar's own defaults. connections.cleanup: JSON of a removal of our events in
    // progress (the worker removes them, then revokes the grant and forgets the tokens); a status
    // would need the CHECK rebuilt on SQLite, and the connection is still authorised meanwhile.
    // feed_tombstones outlive the provider row (no FK): keyed by the feed token's SHA-256, they
    // serve an empty calendar under the same name, then 410. offboardings: the record an admin
    // shows, ids and counts only, also outliving the provider. settings: named values of the
    // service itself (the sealed join-link key, so that rotating ENCRYPTION_KEYS keeps /j/ links).
    sqlite: `
      ALTER TABLE providers ADD COLUMN offboarded_at TEXT;
      ALTER TABLE providers ADD COLUMN reminders TEXT CHECK (reminders IS NULL OR json_valid(reminders));
      ALTER TABLE connections ADD COLUMN cleanup TEXT CHECK (cleanup IS NULL OR json_valid(cleanup));
      CREATE INDEX connections_in_cleanup ON connections (id) WHERE cleanup IS NOT NULL;

      CREATE TABLE feed_tombstones (
        token_hash    TEXT NOT NULL PRIMARY KEY,
        provider_id   TEXT NOT NULL,
        calendar_name TEXT NOT NULL,
        since         TEXT NOT NULL
      ) STRICT;

      CREATE TABLE offboardings (
        id           TEXT NOT NULL PRIMARY KEY,
        provider_id  TEXT NOT NULL,
        mode         TEXT NOT NULL CHECK (mode IN ('offboard', 'delete')),
        actor        TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        finished_at  TEXT,
        result       TEXT NOT NULL CHECK (json_valid(result))
      ) STRICT;
      CREATE INDEX offboardings_by_provider ON offboardings (provider_id, requested_at);

      CREATE TABLE settings (
        name       TEXT NOT NULL PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
    `,
    postgres: `
      ALTER TABLE providers ADD COLUMN offboarded_at ${T};
      ALTER TABLE providers ADD COLUMN reminders JSONB;
      ALTER TABLE connections ADD COLUMN cleanup JSONB;
      CREATE INDEX connections_in_cleanup ON connections (id) WHERE cleanup IS NOT NULL;

      CREATE TABLE feed_tombstones (
        token_hash    ${T} NOT NULL PRIMARY KEY,
        provider_id   ${T} NOT NULL,
        calendar_name ${T} NOT NULL,
        since         ${T} NOT NULL
      );

      CREATE TABLE offboardings (
        id           ${T} NOT NULL PRIMARY KEY,
        provider_id  ${T} NOT NULL,
        mode         ${T} NOT NULL CHECK (mode IN ('offboard', 'delete')),
        actor        ${T} NOT NULL,
        requested_at ${T} NOT NULL,
        finished_at  ${T},
        result       JSONB NOT NULL
      );
      CREATE INDEX offboardings_by_provider ON offboardings (provider_id, requested_at);

      CREATE TABLE settings (
        name       ${T} NOT NULL PRIMARY KEY,
        value      ${T} NOT NULL,
        updated_at ${T} NOT NULL
      );
    `,
  },
  {
    id: 10,
    name: 'feed listeners: the processes that answer feed polls from memory on PostgreSQL',
    // One row per API process that caches feed lookups (feed-fence.ts), with the lease it renews
    // over its LISTEN connection: a writer waits for every live listener to acknowledge a feed
    // change before it answers, or for its lease to run out. SQLite has one process and no use for
    // it; the table exists there too so that both schemas stay the same.
    sqlite: `
      CREATE TABLE feed_listeners (
        id          TEXT NOT NULL PRIMARY KEY,
        lease_until TEXT NOT NULL
      ) STRICT;
    `,
    postgres: `
      CREATE TABLE feed_listeners (
        id          ${T} NOT NULL PRIMARY KEY,
        lease_until TIMESTAMPTZ NOT NULL
      );
    `,
  },
];
