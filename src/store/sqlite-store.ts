// Store port on an embedded SQLite database (Node's built-in node:sqlite). DatabaseSync is
// synchronous and holds one connection, so the adapter serialises every use of it through one
// async mutex: a transaction keeps the connection from BEGIN to COMMIT/ROLLBACK while its async fn
// runs, and nothing else (no read, no fetch bookkeeping) can run on that connection meanwhile and
// see uncommitted rows.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementResultingChanges } from 'node:sqlite';
import type {
  ActiveFeed,
  AuditEntry,
  ClaimOptions,
  Connection,
  ConnectionKind,
  ConnectionStatus,
  FeedToken,
  JobStatus,
  Location,
  PrivacyMode,
  Provider,
  ResyncJob,
  Session,
  SessionQuery,
  SessionStatus,
  Store,
  StoreTx,
  SyncHealth,
  SyncTarget,
} from '../domain/index.js';
import { EARLIEST_INSTANT, ErrorCode, isStoredInstant, LATEST_INSTANT, notFound } from '../domain/index.js';
import { migrateSqlite, pendingSqliteMigrations } from './sqlite-migrations.js';

export interface SqliteStoreOptions {
  /** Path of the database file, or ':memory:' for a private in-memory database. */
  filename: string;
  /** Apply pending migrations on open (default true); when false, pending ones make open fail. */
  migrate?: boolean;
}

/** Longest user agent kept by recordFeedFetch: the header is client-controlled and unbounded. */
export const MAX_USER_AGENT_LENGTH = 512;

export async function createSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const db = openDatabase(options.filename);
  try {
    if (options.migrate ?? true) {
      migrateSqlite(db);
    } else {
      const pending = pendingSqliteMigrations(db);
      if (pending.length > 0) {
        throw new Error(`The database needs migrations ${pending.join(', ')}; run "npm run migrate" first.`);
      }
    }
    return new SqliteStore(db, prepareOperations(db));
  } catch (error) {
    db.close();
    throw error;
  }
}

function openDatabase(filename: string): DatabaseSync {
  const inMemory = filename === ':memory:' || filename === '';
  // The default lives under ./data, which a fresh checkout does not have yet.
  if (!inMemory) mkdirSync(dirname(filename), { recursive: true });
  const db = new DatabaseSync(filename);
  // WAL lets a second process (npm run migrate, a backup) read while we write; it does not
  // apply to in-memory or temporary databases (location() is null for both), which would
  // report "memory" or keep their rollback journal anyway.
  if (db.location() !== null) db.exec('PRAGMA journal_mode = WAL');
  // NORMAL is durable across application crashes in WAL mode; only an OS crash may lose the
  // last commits, which the external calendars' next resync repairs.
  db.exec('PRAGMA synchronous = NORMAL');
  // node:sqlite turns this on (its enableForeignKeyConstraints option defaults to true), but
  // SQLite's own default is off (per connection), and without it ON DELETE CASCADE silently does
  // nothing: say it rather than rely on the driver's default.
  db.exec('PRAGMA foreign_keys = ON');
  db.exec('PRAGMA busy_timeout = 5000');
  return db;
}

// ---------------------------------------------------------------------------------------------
// The store: every entry point takes the mutex; the tx object is the only way to write.

interface TxScope {
  open: boolean;
}

class SqliteStore implements Store {
  readonly #db: DatabaseSync;
  readonly #ops: SqliteOperations;
  readonly #mutex = new AsyncMutex();
  // Marks the async context of a running fn so that a call to the store from inside it fails
  // fast: it would otherwise wait on the mutex its own transaction holds, forever.
  readonly #txScope = new AsyncLocalStorage<TxScope>();
  #closing: Promise<void> | undefined;

  constructor(db: DatabaseSync, ops: SqliteOperations) {
    this.#db = db;
    this.#ops = ops;
  }

  getProvider = this.#serialised('getProvider', (id: string) => this.#ops.getProvider(id));
  listLocations = this.#serialised('listLocations', (providerId: string) => this.#ops.listLocations(providerId));
  getLocation = this.#serialised('getLocation', (providerId: string, locationId: string) =>
    this.#ops.getLocation(providerId, locationId),
  );
  getSession = this.#serialised('getSession', (providerId: string, sessionId: string) =>
    this.#ops.getSession(providerId, sessionId),
  );
  listSessions = this.#serialised('listSessions', (providerId: string, query?: SessionQuery) =>
    this.#ops.listSessions(providerId, query),
  );
  listFeeds = this.#serialised('listFeeds', (providerId: string) => this.#ops.listFeeds(providerId));
  findActiveFeed = this.#serialised('findActiveFeed', (tokenHash: string) => this.#ops.findActiveFeed(tokenHash));
  recordFeedFetch = this.#serialised('recordFeedFetch', (feedId: string, at: string, userAgent: string | null) =>
    this.#ops.recordFeedFetch(feedId, at, userAgent),
  );
  ping = this.#serialised('ping', () => this.#ops.ping());

  getConnection = this.#serialised('getConnection', (connectionId: string) => this.#ops.getConnection(connectionId));
  listConnections = this.#serialised('listConnections', (providerId: string) => this.#ops.listConnections(providerId));
  listAllConnections = this.#serialised('listAllConnections', (statuses?: readonly ConnectionStatus[]) =>
    this.#ops.listAllConnections(statuses),
  );
  listTargets = this.#serialised('listTargets', (connectionId: string) => this.#ops.listTargets(connectionId));
  getTarget = this.#serialised('getTarget', (targetId: string) => this.#ops.getTarget(targetId));
  getJob = this.#serialised('getJob', (jobId: string) => this.#ops.getJob(jobId));
  listAudit = this.#serialised('listAudit', (options: AuditQuery) => this.#ops.listAudit(options));
  syncHealth = this.#serialised('syncHealth', (now: string) => this.#ops.syncHealth(now));
  targetCounts = this.#serialised('targetCounts', (connectionId: string) => this.#ops.targetCounts(connectionId));

  // Leases: each call is one short transaction of its own (a single statement, or atomically()).
  claimTargets = this.#serialised('claimTargets', (options: ClaimOptions) => this.#ops.claimTargets(options));
  completeTarget = this.#serialised('completeTarget', (targetId: string, owner: string, result: TargetSyncedResult) =>
    this.#ops.completeTarget(targetId, owner, result),
  );
  failTarget = this.#serialised('failTarget', (targetId: string, owner: string, result: TargetFailedResult) =>
    this.#ops.failTarget(targetId, owner, result),
  );
  releaseTarget = this.#serialised('releaseTarget', (targetId: string, owner: string, nextAttemptAt: string) =>
    this.#ops.releaseTarget(targetId, owner, nextAttemptAt),
  );
  nextDueAt = this.#serialised('nextDueAt', () => this.#ops.nextDueAt());
  claimJob = this.#serialised('claimJob', (options: Omit<ClaimOptions, 'limit'>) => this.#ops.claimJob(options));

  async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    this.#assertOutsideTransaction('transaction');
    return this.#mutex.run(async () => {
      this.#ops.begin();
      const scope: TxScope = { open: true };
      try {
        const result = await this.#txScope.run(scope, () => fn(makeTx(this.#ops, scope)));
        scope.open = false;
        this.#ops.commit();
        return result;
      } catch (error) {
        scope.open = false;
        // Some errors (SQLITE_FULL, a failed COMMIT under I/O error) already rolled back.
        if (this.#db.isTransaction) {
          try {
            this.#ops.rollback();
          } catch (rollbackError) {
            throw new AggregateError([error, rollbackError], 'Transaction failed and its rollback failed too.', {
              cause: rollbackError,
            });
          }
        }
        throw error;
      }
    });
  }

  async close(): Promise<void> {
    this.#assertOutsideTransaction('close');
    // Lets running and queued work finish first; later calls fail on the closed connection.
    this.#closing ??= this.#mutex.run(() => {
      this.#db.close();
    });
    return this.#closing;
  }

  #serialised<A extends unknown[], R>(name: string, op: (...args: A) => R): (...args: A) => Promise<R> {
    return async (...args: A): Promise<R> => {
      this.#assertOutsideTransaction(name);
      return this.#mutex.run(() => op(...args));
    };
  }

  #assertOutsideTransaction(name: string): void {
    if (this.#txScope.getStore()?.open === true) {
      throw new Error(
        `store.${name}() was called inside store.transaction(fn); use the tx passed to fn instead ` +
          '(the store waits for the open transaction, which would wait for this call).',
      );
    }
  }
}

function makeTx(ops: SqliteOperations, scope: TxScope): StoreTx {
  const live =
    <A extends unknown[], R>(op: (...args: A) => R) =>
    async (...args: A): Promise<R> => {
      // A tx kept past its fn would otherwise write outside any transaction, or into another's.
      if (!scope.open) throw new Error('This transaction has ended; its tx object can no longer be used.');
      return op(...args);
    };
  return {
    getProvider: live(ops.getProvider),
    listLocations: live(ops.listLocations),
    getLocation: live(ops.getLocation),
    getSession: live(ops.getSession),
    listSessions: live(ops.listSessions),
    listFeeds: live(ops.listFeeds),
    findActiveFeed: live(ops.findActiveFeed),
    putProvider: live(ops.putProvider),
    deleteProvider: live(ops.deleteProvider),
    putLocation: live(ops.putLocation),
    deleteLocation: live(ops.deleteLocation),
    putSession: live(ops.putSession),
    deleteSession: live(ops.deleteSession),
    putFeed: live(ops.putFeed),
    revokeFeed: live(ops.revokeFeed),
    bumpFeedRevision: live(ops.bumpFeedRevision),

    getConnection: live(ops.getConnection),
    listConnections: live(ops.listConnections),
    listAllConnections: live(ops.listAllConnections),
    listTargets: live(ops.listTargets),
    getTarget: live(ops.getTarget),
    getJob: live(ops.getJob),
    listAudit: live(ops.listAudit),
    syncHealth: live(ops.syncHealth),
    targetCounts: live(ops.targetCounts),
    putConnection: live(ops.putConnection),
    markSessionsDirty: live(ops.markSessionsDirty),
    markConnectionTargetsDirty: live(ops.markConnectionTargetsDirty),
    deleteTargets: live(ops.deleteTargets),
    recordTargetSynced: live(ops.recordTargetSynced),
    putJob: live(ops.putJob),
    appendAudit: live(ops.appendAudit),
    retryTarget: live(ops.retryTarget),
  };
}

/** FIFO lock over async work; a failed task releases it like a successful one. */
class AsyncMutex {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => T | Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

// ---------------------------------------------------------------------------------------------
// Synchronous operations over prepared statements; callers hold the mutex.

interface SqliteOperations extends SyncOperations {
  begin(): void;
  commit(): void;
  rollback(): void;
  ping(): void;
  getProvider(providerId: string): Provider | null;
  listLocations(providerId: string): Location[];
  getLocation(providerId: string, locationId: string): Location | null;
  getSession(providerId: string, sessionId: string): Session | null;
  listSessions(providerId: string, query?: SessionQuery): Session[];
  listFeeds(providerId: string): FeedToken[];
  findActiveFeed(tokenHash: string): ActiveFeed | null;
  putProvider(provider: Provider): void;
  deleteProvider(providerId: string): boolean;
  putLocation(location: Location): void;
  deleteLocation(providerId: string, locationId: string): boolean;
  putSession(session: Session): void;
  deleteSession(providerId: string, sessionId: string): boolean;
  putFeed(feed: FeedToken): void;
  revokeFeed(providerId: string, feedId: string, at: string): boolean;
  bumpFeedRevision(providerId: string, at: string): number;
  recordFeedFetch(feedId: string, at: string, userAgent: string | null): void;
}

function prepareOperations(db: DatabaseSync): SqliteOperations {
  // BEGIN IMMEDIATE takes the write lock up front, so a read-check-write in fn cannot be beaten
  // by another process between its read and its write (a DEFERRED begin would fail late instead).
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const ping = db.prepare('SELECT 1');

  const getProvider = query<ProviderRow>(db, 'SELECT * FROM providers WHERE id = ?');
  const putProvider = writer<ProviderRow>(db, upsertSql('providers', PROVIDER_COLUMNS, ['id']));
  const deleteProvider = db.prepare('DELETE FROM providers WHERE id = ?');
  const bumpFeedRevision = query<Pick<ProviderRow, 'feed_revision'>>(
    db,
    'UPDATE providers SET feed_revision = feed_revision + 1 WHERE id = ? RETURNING feed_revision',
  );

  const listLocations = query<LocationRow>(db, 'SELECT * FROM locations WHERE provider_id = ? ORDER BY id');
  const getLocation = query<LocationRow>(db, 'SELECT * FROM locations WHERE provider_id = ? AND id = ?');
  const putLocation = writer<LocationRow>(db, upsertSql('locations', LOCATION_COLUMNS, ['provider_id', 'id']));
  const deleteLocation = db.prepare('DELETE FROM locations WHERE provider_id = ? AND id = ?');
  const detachSessions = db.prepare('UPDATE sessions SET location_id = NULL WHERE provider_id = ? AND location_id = ?');

  const getSession = query<SessionRow>(db, 'SELECT * FROM sessions WHERE provider_id = ? AND id = ?');
  // ON CONFLICT on the primary key only: a uid taken by another session still fails the UNIQUE
  // constraint instead of being silently replaced (which INSERT OR REPLACE would do).
  const putSession = writer<SessionRow>(db, upsertSql('sessions', SESSION_COLUMNS, ['provider_id', 'id']));
  const deleteSession = db.prepare('DELETE FROM sessions WHERE provider_id = ? AND id = ?');
  const sessionQueries = new SessionQueries(db);

  const listFeeds = query<FeedRow>(db, 'SELECT * FROM feed_tokens WHERE provider_id = ? ORDER BY id');
  const findActiveFeed = query<FeedRow>(db, 'SELECT * FROM feed_tokens WHERE token_hash = ? AND revoked_at IS NULL');
  const putFeed = writer<FeedRow>(db, upsertSql('feed_tokens', FEED_COLUMNS, ['id']));
  const revokeFeed = db.prepare(
    'UPDATE feed_tokens SET revoked_at = ? WHERE provider_id = ? AND id = ? AND revoked_at IS NULL',
  );
  const recordFeedFetch = db.prepare(
    'UPDATE feed_tokens SET last_fetched_at = ?, last_user_agent = ?, fetch_count = fetch_count + 1 WHERE id = ?',
  );

  const readProvider = (providerId: string): Provider | null => {
    const row = getProvider.get(providerId);
    return row === undefined ? null : toProvider(row);
  };

  // For the Store's own multi-statement writes (the lease methods): callers hold the mutex and
  // no transaction is open, since an open one holds the mutex until it ends.
  const atomically = <T>(fn: () => T): T => {
    begin.run();
    try {
      const result = fn();
      commit.run();
      return result;
    } catch (error) {
      if (db.isTransaction) rollback.run();
      throw error;
    }
  };

  return {
    ...prepareSyncOperations(db, atomically),
    begin: () => void begin.run(),
    commit: () => void commit.run(),
    rollback: () => void rollback.run(),
    ping: () => void ping.get(),

    getProvider: readProvider,
    putProvider: (provider) => void putProvider.run(fromProvider(provider)),
    deleteProvider: (providerId) => changedAny(deleteProvider.run(providerId)),
    // `at` is not stored: the revision counter alone keys the feed cache, and updatedAt tracks
    // the provider's own fields.
    bumpFeedRevision: (providerId) => {
      const row = bumpFeedRevision.get(providerId);
      if (row === undefined) throw notFound(ErrorCode.PROVIDER_NOT_FOUND, 'Provider not found.');
      return row.feed_revision;
    },

    listLocations: (providerId) => listLocations.all(providerId).map(toLocation),
    getLocation: (providerId, locationId) => {
      const row = getLocation.get(providerId, locationId);
      return row === undefined ? null : toLocation(row);
    },
    putLocation: (location) => void putLocation.run(fromLocation(location)),
    // Callers hold the transaction, so the detach and the delete land together.
    deleteLocation: (providerId, locationId) => {
      if (!changedAny(deleteLocation.run(providerId, locationId))) return false;
      detachSessions.run(providerId, locationId);
      return true;
    },

    getSession: (providerId, sessionId) => {
      const row = getSession.get(providerId, sessionId);
      return row === undefined ? null : toSession(row);
    },
    listSessions: (providerId, query = {}) => sessionQueries.list(providerId, query).map(toSession),
    putSession: (session) => void putSession.run(fromSession(session)),
    deleteSession: (providerId, sessionId) => changedAny(deleteSession.run(providerId, sessionId)),

    listFeeds: (providerId) => listFeeds.all(providerId).map(toFeed),
    findActiveFeed: (tokenHash) => {
      const feedRow = findActiveFeed.get(tokenHash);
      if (feedRow === undefined) return null;
      const provider = readProvider(feedRow.provider_id);
      return provider === null ? null : { feed: toFeed(feedRow), provider };
    },
    putFeed: (feed) => void putFeed.run(fromFeed(feed)),
    revokeFeed: (providerId, feedId, at) => changedAny(revokeFeed.run(at, providerId, feedId)),
    recordFeedFetch: (feedId, at, userAgent) => void recordFeedFetch.run(at, truncateUserAgent(userAgent), feedId),
  };
}

// ---------------------------------------------------------------------------------------------
// Push-sync operations (DESIGN.md, "Push sync"). A target is pending while generation >
// synced_generation and it is not dead; every query over pending rows repeats PENDING literally
// so that SQLite can use the partial index sync_targets_due.

type TargetSyncedResult = Parameters<Store['completeTarget']>[2];
type TargetFailedResult = Parameters<Store['failTarget']>[2];
type RecordedSync = Parameters<StoreTx['recordTargetSynced']>[3];
type AuditQuery = Parameters<Store['listAudit']>[0];
type TargetCounts = Awaited<ReturnType<Store['targetCounts']>>;

interface SyncOperations {
  getConnection(connectionId: string): Connection | null;
  listConnections(providerId: string): Connection[];
  listAllConnections(statuses?: readonly ConnectionStatus[]): Connection[];
  listTargets(connectionId: string): SyncTarget[];
  getTarget(targetId: string): SyncTarget | null;
  getJob(jobId: string): ResyncJob | null;
  listAudit(options: AuditQuery): AuditEntry[];
  syncHealth(now: string): SyncHealth;
  targetCounts(connectionId: string): TargetCounts;
  putConnection(connection: Connection): void;
  markSessionsDirty(providerId: string, sessionIds: readonly string[], at: string): number;
  markConnectionTargetsDirty(connectionId: string, sessionIds: readonly string[], at: string): number;
  deleteTargets(connectionId: string): void;
  recordTargetSynced(connectionId: string, providerId: string, sessionId: string, result: RecordedSync): void;
  putJob(job: ResyncJob): void;
  appendAudit(entry: Omit<AuditEntry, 'id'>): void;
  retryTarget(targetId: string, at: string): boolean;
  claimTargets(options: ClaimOptions): SyncTarget[];
  completeTarget(targetId: string, owner: string, result: TargetSyncedResult): boolean;
  failTarget(targetId: string, owner: string, result: TargetFailedResult): boolean;
  releaseTarget(targetId: string, owner: string, nextAttemptAt: string): void;
  nextDueAt(): string | null;
  claimJob(options: Omit<ClaimOptions, 'limit'>): ResyncJob | null;
}

const PENDING = 't.generation > t.synced_generation AND t.dead_at IS NULL';

/** At most this many dead targets are listed by syncHealth, newest first. */
const DEAD_TARGETS_LISTED = 100;

function prepareSyncOperations(db: DatabaseSync, atomically: <T>(fn: () => T) => T): SyncOperations {
  const getConnection = query<ConnectionRow>(db, 'SELECT * FROM connections WHERE id = ?');
  const listConnections = query<ConnectionRow>(db, 'SELECT * FROM connections WHERE provider_id = ? ORDER BY created_at, id');
  const listAllConnections = query<ConnectionRow>(db, 'SELECT * FROM connections ORDER BY id');
  const listConnectionsWithStatus = query<ConnectionRow>(
    db,
    'SELECT * FROM connections WHERE status IN (SELECT value FROM json_each(?)) ORDER BY id',
  );
  const putConnection = writer<ConnectionRow>(db, upsertSql('connections', CONNECTION_COLUMNS, ['id']));
  const touchConnectionSynced = db.prepare('UPDATE connections SET last_synced_at = ? WHERE id = ?');
  // Connections that still want their provider's changes: needs_reauth ones collect them while
  // paused, so nothing is lost once the grant is renewed.
  const dirtyableConnections = query<Pick<ConnectionRow, 'id' | 'provider_id'>>(
    db,
    "SELECT id, provider_id FROM connections WHERE provider_id = ? AND status IN ('active', 'needs_reauth') ORDER BY id",
  );
  const connectionOwner = query<Pick<ConnectionRow, 'id' | 'provider_id'>>(db, 'SELECT id, provider_id FROM connections WHERE id = ?');

  const getTarget = query<TargetRow>(db, 'SELECT * FROM sync_targets WHERE id = ?');
  const listTargets = query<TargetRow>(db, 'SELECT * FROM sync_targets WHERE connection_id = ? ORDER BY session_id, id');
  const deleteTargets = db.prepare('DELETE FROM sync_targets WHERE connection_id = ?');
  // The id of a new row is ours; on conflict the existing row keeps its id.
  const markDirty = writer<DirtyTargetParams>(
    db,
    `INSERT INTO sync_targets (id, connection_id, provider_id, session_id, generation, synced_generation, attempts,
                               next_attempt_at, created_at, updated_at)
     VALUES (@id, @connection_id, @provider_id, @session_id, 1, 0, 0, @at, @at, @at)
     ON CONFLICT (connection_id, provider_id, session_id) DO UPDATE SET
       generation = generation + 1, next_attempt_at = excluded.next_attempt_at, attempts = 0, dead_at = NULL,
       updated_at = excluded.updated_at`,
  );
  const recordSynced = writer<SyncedTargetParams>(
    db,
    `INSERT INTO sync_targets (id, connection_id, provider_id, session_id, generation, synced_generation, external_id,
                               synced_revision, attempts, next_attempt_at, created_at, updated_at)
     VALUES (@id, @connection_id, @provider_id, @session_id, 1, 1, @external_id, @synced_revision, 0, @at, @at, @at)
     ON CONFLICT (connection_id, provider_id, session_id) DO UPDATE SET
       synced_generation = MAX(synced_generation, MIN(generation, @generation)),
       external_id = excluded.external_id, synced_revision = excluded.synced_revision,
       attempts = 0, dead_at = NULL, last_error_code = NULL, updated_at = excluded.updated_at`,
  );
  // A target that is not pending gets a new generation, so that the retry has something to do.
  const retryTarget = db.prepare(
    `UPDATE sync_targets SET dead_at = NULL, attempts = 0, next_attempt_at = @at, updated_at = @at,
       generation = CASE WHEN generation > synced_generation THEN generation ELSE synced_generation + 1 END
     WHERE id = @id`,
  );

  // One statement, so one implicit transaction: the rows it picks are leased before any other
  // claim can read them. CROSS JOIN is SQLite's way to fix the join order: walk the partial index
  // of pending rows in due order and stop at the limit, instead of starting from the (few, so
  // seemingly cheaper) active connections and visiting every target they have, synced ones too.
  const claimTargets = namedQuery<TargetRow>(
    db,
    `UPDATE sync_targets SET lease_owner = @owner, lease_until = @leaseUntil
     WHERE id IN (
       SELECT t.id FROM sync_targets t CROSS JOIN connections c ON c.id = t.connection_id
       WHERE ${PENDING} AND t.next_attempt_at <= @now AND (t.lease_until IS NULL OR t.lease_until < @now)
         AND c.status = 'active'
       ORDER BY t.next_attempt_at, t.id
       LIMIT @limit
     )
     RETURNING *`,
  );
  // MIN(generation) keeps a caller from marking a generation synced that it cannot have seen.
  const completeTarget = namedQuery<Pick<TargetRow, 'connection_id'>>(
    db,
    `UPDATE sync_targets SET
       synced_generation = MAX(synced_generation, MIN(@generation, generation)), external_id = @externalId,
       synced_revision = @syncedRevision, attempts = 0, last_error_code = NULL, lease_owner = NULL, lease_until = NULL,
       updated_at = @at
     WHERE id = @id AND lease_owner = @owner
     RETURNING connection_id`,
  );
  const failTarget = db.prepare(
    `UPDATE sync_targets SET
       attempts = attempts + 1, last_error_code = @errorCode, next_attempt_at = @nextAttemptAt,
       dead_at = CASE WHEN @dead = 1 THEN @at ELSE dead_at END, lease_owner = NULL, lease_until = NULL, updated_at = @at
     WHERE id = @id AND lease_owner = @owner`,
  );
  const releaseTarget = db.prepare(
    'UPDATE sync_targets SET lease_owner = NULL, lease_until = NULL, next_attempt_at = ? WHERE id = ? AND lease_owner = ?',
  );
  // A target leased by another worker becomes claimable when its lease ends, not before: waking
  // at its nextAttemptAt would only find it taken (and spin while the lease lasts). CROSS JOIN
  // as in claimTargets: only pending rows are read.
  const nextDueAt = query<{ due: string | null }>(
    db,
    `SELECT MIN(MAX(t.next_attempt_at, COALESCE(t.lease_until, t.next_attempt_at))) AS due
     FROM sync_targets t CROSS JOIN connections c ON c.id = t.connection_id
     WHERE ${PENDING} AND c.status = 'active'`,
  );

  const targetCounts = query<TargetCounts>(
    db,
    `SELECT count(*) FILTER (WHERE ${PENDING}) AS pending, count(*) FILTER (WHERE t.dead_at IS NOT NULL) AS dead
     FROM sync_targets t WHERE t.connection_id = ?`,
  );
  const targetTotals = query<SyncHealth['targets']>(
    db,
    `SELECT
       count(*) FILTER (WHERE ${PENDING} AND t.attempts = 0) AS pending,
       count(*) FILTER (WHERE ${PENDING} AND t.attempts > 0) AS retrying,
       count(*) FILTER (WHERE t.dead_at IS NOT NULL) AS dead,
       count(*) FILTER (WHERE t.generation <= t.synced_generation AND t.dead_at IS NULL) AS synced
     FROM sync_targets t`,
  );
  const oldestPending = query<{ since: string | null }>(db, `SELECT MIN(t.updated_at) AS since FROM sync_targets t WHERE ${PENDING}`);
  const needingReauth = query<Pick<ConnectionRow, 'id' | 'provider_id' | 'kind'>>(
    db,
    "SELECT id, provider_id, kind FROM connections WHERE status = 'needs_reauth' ORDER BY id",
  );
  const deadTargets = query<DeadTargetRow>(
    db,
    `SELECT id, connection_id, session_id, last_error_code, dead_at FROM sync_targets
     WHERE dead_at IS NOT NULL ORDER BY dead_at DESC, id LIMIT ${DEAD_TARGETS_LISTED}`,
  );

  const getJob = query<JobRow>(db, 'SELECT * FROM resync_jobs WHERE id = ?');
  const putJob = writer<JobRow>(db, upsertSql('resync_jobs', JOB_COLUMNS, ['id']));
  // A queued job is leased too: between claimJob and the runner marking it running, a second
  // runner must not take it.
  const claimJob = namedQuery<JobRow>(
    db,
    `UPDATE resync_jobs SET lease_owner = @owner, lease_until = @leaseUntil
     WHERE id = (
       SELECT id FROM resync_jobs
       WHERE status IN ('queued', 'running') AND (lease_until IS NULL OR lease_until < @now)
       ORDER BY created_at, id
       LIMIT 1
     )
     RETURNING *`,
  );

  const appendAudit = writer<Omit<AuditRow, 'id'>>(
    db,
    'INSERT INTO audit_log (at, actor, action, target, details) VALUES (@at, @actor, @action, @target, @details)',
  );
  const listAudit = query<AuditRow>(db, 'SELECT * FROM audit_log ORDER BY id DESC LIMIT ?');
  const listAuditBefore = query<AuditRow>(db, 'SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?');

  const markAllDirty = (
    connections: readonly Pick<ConnectionRow, 'id' | 'provider_id'>[],
    sessionIds: readonly string[],
    at: string,
  ): number => {
    // A session named twice is one change, not two generations.
    const unique = [...new Set(sessionIds)];
    for (const connection of connections) {
      for (const sessionId of unique) {
        markDirty.run({ id: randomUUID(), connection_id: connection.id, provider_id: connection.provider_id, session_id: sessionId, at });
      }
    }
    return connections.length * unique.length;
  };

  return {
    getConnection: (connectionId) => {
      const row = getConnection.get(connectionId);
      return row === undefined ? null : toConnection(row);
    },
    listConnections: (providerId) => listConnections.all(providerId).map(toConnection),
    listAllConnections: (statuses) =>
      (statuses === undefined ? listAllConnections.all() : listConnectionsWithStatus.all(JSON.stringify(statuses))).map(
        toConnection,
      ),
    putConnection: (connection) => void putConnection.run(fromConnection(connection)),

    getTarget: (targetId) => {
      const row = getTarget.get(targetId);
      return row === undefined ? null : toTarget(row);
    },
    listTargets: (connectionId) => listTargets.all(connectionId).map(toTarget),
    deleteTargets: (connectionId) => void deleteTargets.run(connectionId),
    markSessionsDirty: (providerId, sessionIds, at) => markAllDirty(dirtyableConnections.all(providerId), sessionIds, at),
    markConnectionTargetsDirty: (connectionId, sessionIds, at) => {
      const connection = connectionOwner.get(connectionId);
      return connection === undefined ? 0 : markAllDirty([connection], sessionIds, at);
    },
    recordTargetSynced: (connectionId, providerId, sessionId, result) =>
      void recordSynced.run({
        id: randomUUID(),
        connection_id: connectionId,
        provider_id: providerId,
        session_id: sessionId,
        external_id: result.externalId,
        synced_revision: result.syncedRevision,
        generation: result.generation,
        at: result.at,
      }),
    retryTarget: (targetId, at) => changedAny(retryTarget.run({ id: targetId, at })),

    claimTargets: ({ owner, now, leaseUntil, limit }) =>
      // RETURNING gives rows in no promised order.
      claimTargets
        .all({ owner, now, leaseUntil, limit })
        .map(toTarget)
        .sort((a, b) => compareText(a.nextAttemptAt, b.nextAttemptAt) || compareText(a.id, b.id)),
    completeTarget: (targetId, owner, result) =>
      atomically(() => {
        const [row] = completeTarget.all({
          id: targetId,
          owner,
          generation: result.generation,
          externalId: result.externalId,
          syncedRevision: result.syncedRevision,
          at: result.at,
        });
        if (row === undefined) return false;
        touchConnectionSynced.run(result.at, row.connection_id);
        return true;
      }),
    failTarget: (targetId, owner, result) =>
      changedAny(
        failTarget.run({
          id: targetId,
          owner,
          errorCode: result.errorCode,
          nextAttemptAt: result.nextAttemptAt,
          dead: bit(result.dead),
          at: result.at,
        }),
      ),
    releaseTarget: (targetId, owner, nextAttemptAt) => void releaseTarget.run(nextAttemptAt, targetId, owner),
    nextDueAt: () => nextDueAt.get()?.due ?? null,

    // Rows come with a null prototype; the port's callers get plain objects.
    targetCounts: (connectionId) => {
      const row = targetCounts.get(connectionId);
      return { pending: row?.pending ?? 0, dead: row?.dead ?? 0 };
    },
    // The counts describe the rows as they are; `now` is not needed by this adapter.
    syncHealth: (_now) => {
      const totals = targetTotals.get();
      return {
      targets: { pending: totals?.pending ?? 0, synced: totals?.synced ?? 0, dead: totals?.dead ?? 0, retrying: totals?.retrying ?? 0 },
      connectionsNeedingReauth: needingReauth.all().map((row) => ({ id: row.id, providerId: row.provider_id, kind: row.kind })),
      oldestPendingSince: oldestPending.get()?.since ?? null,
      deadTargets: deadTargets.all().map((row) => ({
        id: row.id,
        connectionId: row.connection_id,
        sessionId: row.session_id,
        lastErrorCode: row.last_error_code,
        deadAt: row.dead_at,
      })),
      };
    },

    getJob: (jobId) => {
      const row = getJob.get(jobId);
      return row === undefined ? null : toJob(row);
    },
    putJob: (job) => void putJob.run(fromJob(job)),
    claimJob: ({ owner, now, leaseUntil }) => {
      const [row] = claimJob.all({ owner, now, leaseUntil });
      return row === undefined ? null : toJob(row);
    },

    appendAudit: (entry) =>
      void appendAudit.run({
        at: entry.at,
        actor: entry.actor,
        action: entry.action,
        target: entry.target,
        details: JSON.stringify(entry.details),
      }),
    listAudit: ({ limit, beforeId }) =>
      (beforeId === undefined ? listAudit.all(limit) : listAuditBefore.all(beforeId, limit)).map(toAudit),
  };
}

/** Code-unit order, the same as SQLite's default BINARY collation (localeCompare is not). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// node:sqlite types every row as Record<string, SQLOutputValue> and takes named parameters as
// Record<string, SQLInputValue>. These wrappers state a statement's row type once, where it is
// prepared; the STRICT tables guarantee the column types the row interfaces claim.

/** A prepared SELECT (or RETURNING) with positional parameters and rows of type R. */
interface Query<R> {
  get(...params: SQLInputValue[]): R | undefined;
  all(...params: SQLInputValue[]): R[];
}

function query<R>(db: DatabaseSync, sql: string): Query<R> {
  const statement = db.prepare(sql);
  return {
    get: (...params) => statement.get(...params) as R | undefined,
    all: (...params) => statement.all(...params) as R[],
  };
}

/** A prepared SELECT with named parameters (bare keys, as node:sqlite allows by default). */
interface NamedQuery<R> {
  all(params: Record<string, SQLInputValue>): R[];
}

function namedQuery<R>(db: DatabaseSync, sql: string): NamedQuery<R> {
  const statement = db.prepare(sql);
  return { all: (params) => statement.all(params) as R[] };
}

/** A prepared write whose named parameters are the fields of row type R. */
interface Writer<R> {
  run(row: R): StatementResultingChanges;
}

function writer<R extends { [K in keyof R]: SQLInputValue }>(db: DatabaseSync, sql: string): Writer<R> {
  const statement = db.prepare(sql);
  return { run: (row) => statement.run(row) };
}

function changedAny(result: StatementResultingChanges): boolean {
  return result.changes > 0;
}

const SESSION_FILTERS = [
  ['endAfter', 'ends_at > @endAfter'],
  ['startBefore', 'starts_at < @startBefore'],
  ['status', 'status = @status'],
  ['locationId', 'location_id = @locationId'],
  ['seriesId', 'series_id = @seriesId'],
] as const satisfies readonly (readonly [keyof SessionQuery, string])[];

/**
 * One prepared statement per combination of filters actually used (at most 32), each prepared
 * once: a static WHERE with the filters given as plain predicates lets SQLite pick the matching
 * index, which "(? IS NULL OR col = ?)" would defeat.
 */
class SessionQueries {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, NamedQuery<SessionRow>>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  list(providerId: string, query: SessionQuery): SessionRow[] {
    const params: Record<string, string> = { providerId };
    const predicates = ['provider_id = @providerId'];
    for (const [key, predicate] of SESSION_FILTERS) {
      const value = query[key];
      if (value === undefined) continue;
      params[key] = value;
      predicates.push(predicate);
    }
    const where = predicates.join(' AND ');
    let statement = this.#statements.get(where);
    if (statement === undefined) {
      statement = namedQuery<SessionRow>(this.#db, `SELECT * FROM sessions WHERE ${where} ORDER BY starts_at, id`);
      this.#statements.set(where, statement);
    }
    return statement.all(params);
  }
}

function upsertSql<R>(table: string, columns: readonly (keyof R & string)[], key: readonly (keyof R & string)[]): string {
  const updates = columns.filter((c) => !key.includes(c)).map((c) => `${c} = excluded.${c}`);
  return (
    `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')}) ` +
    `ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${updates.join(', ')}`
  );
}

/** Keys of a row type as a list; the Record makes the compiler reject a missing column. */
function columnsOf<R>(shape: Record<keyof R & string, true>): (keyof R & string)[] {
  return Object.keys(shape) as (keyof R & string)[];
}

function truncateUserAgent(userAgent: string | null): string | null {
  if (userAgent === null || userAgent.length <= MAX_USER_AGENT_LENGTH) return userAgent;
  const cut = userAgent.slice(0, MAX_USER_AGENT_LENGTH);
  // Never keep half of a surrogate pair: it is not valid UTF-8 once stored.
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

// ---------------------------------------------------------------------------------------------
// Rows <-> domain. Booleans are stored as 0/1, the two location kinds share one table.

type Bit = 0 | 1;

interface ProviderRow {
  id: string;
  name: string;
  email: string | null;
  timezone: string;
  privacy_mode: PrivacyMode;
  privacy_baa_attested: Bit;
  feed_revision: number;
  created_at: string;
  updated_at: string;
}

const PROVIDER_COLUMNS = columnsOf<ProviderRow>({
  id: true,
  name: true,
  email: true,
  timezone: true,
  privacy_mode: true,
  privacy_baa_attested: true,
  feed_revision: true,
  created_at: true,
  updated_at: true,
});

function toProvider(row: ProviderRow): Provider {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    timezone: row.timezone,
    privacy: { mode: row.privacy_mode, baaAttested: row.privacy_baa_attested === 1 },
    feedRevision: row.feed_revision,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function fromProvider(provider: Provider): ProviderRow {
  return {
    id: provider.id,
    name: provider.name,
    email: provider.email,
    timezone: provider.timezone,
    privacy_mode: provider.privacy.mode,
    privacy_baa_attested: bit(provider.privacy.baaAttested),
    feed_revision: provider.feedRevision,
    created_at: provider.createdAt,
    updated_at: provider.updatedAt,
  };
}

interface LocationRow {
  provider_id: string;
  id: string;
  kind: Location['kind'];
  name: string | null;
  url: string | null;
  instructions: string | null;
  waiting_room: Bit | null;
  platform: string | null;
  address: string | null;
  is_default: Bit;
  created_at: string;
  updated_at: string;
}

const LOCATION_COLUMNS = columnsOf<LocationRow>({
  provider_id: true,
  id: true,
  kind: true,
  name: true,
  url: true,
  instructions: true,
  waiting_room: true,
  platform: true,
  address: true,
  is_default: true,
  created_at: true,
  updated_at: true,
});

function toLocation(row: LocationRow): Location {
  const common = {
    providerId: row.provider_id,
    id: row.id,
    isDefault: row.is_default === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  switch (row.kind) {
    case 'virtual':
      return {
        kind: 'virtual',
        ...common,
        name: row.name,
        url: required(row.url, 'locations.url'),
        instructions: row.instructions,
        waitingRoom: row.waiting_room === null ? null : row.waiting_room === 1,
        platform: row.platform,
      };
    case 'office':
      return {
        kind: 'office',
        ...common,
        name: required(row.name, 'locations.name'),
        address: required(row.address, 'locations.address'),
      };
    default:
      return unreachable(row.kind);
  }
}

function fromLocation(location: Location): LocationRow {
  const common = {
    provider_id: location.providerId,
    id: location.id,
    is_default: bit(location.isDefault),
    created_at: location.createdAt,
    updated_at: location.updatedAt,
  };
  switch (location.kind) {
    case 'virtual':
      return {
        ...common,
        kind: 'virtual',
        name: location.name,
        url: location.url,
        instructions: location.instructions,
        waiting_room: location.waitingRoom === null ? null : bit(location.waitingRoom),
        platform: location.platform,
        address: null,
      };
    case 'office':
      return {
        ...common,
        kind: 'office',
        name: location.name,
        url: null,
        instructions: null,
        waiting_room: null,
        platform: null,
        address: location.address,
      };
    default:
      return unreachable(location);
  }
}

interface SessionRow {
  provider_id: string;
  id: string;
  uid: string;
  starts_at: string;
  ends_at: string;
  location_id: string | null;
  telehealth_url: string | null;
  client_id: string | null;
  client_first_name: string | null;
  client_last_name: string | null;
  status: SessionStatus;
  series_id: string | null;
  sequence: number;
  event_fingerprint: string;
  last_modified: string;
  created_at: string;
  updated_at: string;
}

const SESSION_COLUMNS = columnsOf<SessionRow>({
  provider_id: true,
  id: true,
  uid: true,
  starts_at: true,
  ends_at: true,
  location_id: true,
  telehealth_url: true,
  client_id: true,
  client_first_name: true,
  client_last_name: true,
  status: true,
  series_id: true,
  sequence: true,
  event_fingerprint: true,
  last_modified: true,
  created_at: true,
  updated_at: true,
});

function toSession(row: SessionRow): Session {
  const hasClient = row.client_id !== null || row.client_first_name !== null || row.client_last_name !== null;
  return {
    providerId: row.provider_id,
    id: row.id,
    uid: row.uid,
    start: row.starts_at,
    end: row.ends_at,
    locationId: row.location_id,
    telehealthUrl: row.telehealth_url,
    client: hasClient ? { id: row.client_id, firstName: row.client_first_name, lastName: row.client_last_name } : null,
    status: row.status,
    seriesId: row.series_id,
    sequence: row.sequence,
    eventFingerprint: row.event_fingerprint,
    lastModified: row.last_modified,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Instants are compared as text, which is time order only for fixed-width UTC in range. */
function storedInstant(value: string, field: string): string {
  if (!isStoredInstant(value)) throw new RangeError(`session ${field} must be fixed-width UTC from ${EARLIEST_INSTANT} to ${LATEST_INSTANT}`);
  return value;
}

function fromSession(session: Session): SessionRow {
  return {
    provider_id: session.providerId,
    id: session.id,
    uid: session.uid,
    starts_at: storedInstant(session.start, 'start'),
    ends_at: storedInstant(session.end, 'end'),
    location_id: session.locationId,
    telehealth_url: session.telehealthUrl,
    client_id: session.client?.id ?? null,
    client_first_name: session.client?.firstName ?? null,
    client_last_name: session.client?.lastName ?? null,
    status: session.status,
    series_id: session.seriesId,
    sequence: session.sequence,
    event_fingerprint: session.eventFingerprint,
    last_modified: session.lastModified,
    created_at: session.createdAt,
    updated_at: session.updatedAt,
  };
}

interface FeedRow {
  id: string;
  provider_id: string;
  label: string | null;
  token_hash: string;
  created_at: string;
  revoked_at: string | null;
  last_fetched_at: string | null;
  last_user_agent: string | null;
  fetch_count: number;
}

const FEED_COLUMNS = columnsOf<FeedRow>({
  id: true,
  provider_id: true,
  label: true,
  token_hash: true,
  created_at: true,
  revoked_at: true,
  last_fetched_at: true,
  last_user_agent: true,
  fetch_count: true,
});

function toFeed(row: FeedRow): FeedToken {
  return {
    id: row.id,
    providerId: row.provider_id,
    label: row.label,
    tokenHash: row.token_hash,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastFetchedAt: row.last_fetched_at,
    lastUserAgent: row.last_user_agent,
    fetchCount: row.fetch_count,
  };
}

function fromFeed(feed: FeedToken): FeedRow {
  return {
    id: feed.id,
    provider_id: feed.providerId,
    label: feed.label,
    token_hash: feed.tokenHash,
    created_at: feed.createdAt,
    revoked_at: feed.revokedAt,
    last_fetched_at: feed.lastFetchedAt,
    last_user_agent: feed.lastUserAgent,
    fetch_count: feed.fetchCount,
  };
}

interface ConnectionRow {
  id: string;
  provider_id: string;
  kind: ConnectionKind;
  calendar_id: string;
  status: ConnectionStatus;
  account_email: string | null;
  sealed_tokens: string | null;
  pending_nonce: string | null;
  pending_sealed_verifier: string | null;
  pending_expires_at: string | null;
  last_synced_at: string | null;
  last_error_code: string | null;
  created_at: string;
  updated_at: string;
}

const CONNECTION_COLUMNS = columnsOf<ConnectionRow>({
  id: true,
  provider_id: true,
  kind: true,
  calendar_id: true,
  status: true,
  account_email: true,
  sealed_tokens: true,
  pending_nonce: true,
  pending_sealed_verifier: true,
  pending_expires_at: true,
  last_synced_at: true,
  last_error_code: true,
  created_at: true,
  updated_at: true,
});

function toConnection(row: ConnectionRow): Connection {
  // The table CHECK keeps the three pending_* columns all set or all NULL.
  const pendingAuth =
    row.pending_nonce === null
      ? null
      : {
          nonce: row.pending_nonce,
          sealedVerifier: required(row.pending_sealed_verifier, 'connections.pending_sealed_verifier'),
          expiresAt: required(row.pending_expires_at, 'connections.pending_expires_at'),
        };
  return {
    id: row.id,
    providerId: row.provider_id,
    kind: row.kind,
    calendarId: row.calendar_id,
    status: row.status,
    accountEmail: row.account_email,
    sealedTokens: row.sealed_tokens,
    pendingAuth,
    lastSyncedAt: row.last_synced_at,
    lastErrorCode: row.last_error_code,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function fromConnection(connection: Connection): ConnectionRow {
  return {
    id: connection.id,
    provider_id: connection.providerId,
    kind: connection.kind,
    calendar_id: connection.calendarId,
    status: connection.status,
    account_email: connection.accountEmail,
    sealed_tokens: connection.sealedTokens,
    pending_nonce: connection.pendingAuth?.nonce ?? null,
    pending_sealed_verifier: connection.pendingAuth?.sealedVerifier ?? null,
    pending_expires_at: connection.pendingAuth?.expiresAt ?? null,
    last_synced_at: connection.lastSyncedAt,
    last_error_code: connection.lastErrorCode,
    created_at: connection.createdAt,
    updated_at: connection.updatedAt,
  };
}

interface TargetRow {
  id: string;
  connection_id: string;
  provider_id: string;
  session_id: string;
  generation: number;
  synced_generation: number;
  external_id: string | null;
  synced_revision: string | null;
  attempts: number;
  next_attempt_at: string;
  lease_owner: string | null;
  lease_until: string | null;
  last_error_code: string | null;
  dead_at: string | null;
  created_at: string;
  updated_at: string;
}

/** Parameters of markDirty: a new target's identity and the instant of the change. */
type DirtyTargetParams = Pick<TargetRow, 'id' | 'connection_id' | 'provider_id' | 'session_id'> & { at: string };

/** Parameters of recordSynced. */
type SyncedTargetParams = DirtyTargetParams & Pick<TargetRow, 'external_id' | 'synced_revision' | 'generation'>;

type DeadTargetRow = Pick<TargetRow, 'id' | 'connection_id' | 'session_id' | 'last_error_code'> & { dead_at: string };

function toTarget(row: TargetRow): SyncTarget {
  return {
    id: row.id,
    connectionId: row.connection_id,
    providerId: row.provider_id,
    sessionId: row.session_id,
    generation: row.generation,
    syncedGeneration: row.synced_generation,
    externalId: row.external_id,
    syncedRevision: row.synced_revision,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until,
    lastErrorCode: row.last_error_code,
    deadAt: row.dead_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** request, progress and plan are JSON text (CHECK json_valid); written only by fromJob. */
interface JobRow {
  id: string;
  kind: ResyncJob['kind'];
  status: JobStatus;
  request: string;
  progress: string;
  plan: string | null;
  error: string | null;
  actor: string;
  lease_owner: string | null;
  lease_until: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

const JOB_COLUMNS = columnsOf<JobRow>({
  id: true,
  kind: true,
  status: true,
  request: true,
  progress: true,
  plan: true,
  error: true,
  actor: true,
  lease_owner: true,
  lease_until: true,
  created_at: true,
  started_at: true,
  finished_at: true,
});

function toJob(row: JobRow): ResyncJob {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    request: parseJson<ResyncJob['request']>(row.request),
    progress: parseJson<ResyncJob['progress']>(row.progress),
    plan: row.plan === null ? null : parseJson<NonNullable<ResyncJob['plan']>>(row.plan),
    error: row.error,
    actor: row.actor,
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

function fromJob(job: ResyncJob): JobRow {
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    request: JSON.stringify(job.request),
    progress: JSON.stringify(job.progress),
    plan: job.plan === null ? null : JSON.stringify(job.plan),
    error: job.error,
    actor: job.actor,
    lease_owner: job.leaseOwner,
    lease_until: job.leaseUntil,
    created_at: job.createdAt,
    started_at: job.startedAt,
    finished_at: job.finishedAt,
  };
}

interface AuditRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  /** AuditEntry.details as JSON text (CHECK json_valid). */
  details: string;
}

function toAudit(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    action: row.action,
    target: row.target,
    details: parseJson<AuditEntry['details']>(row.details),
  };
}

// Only for columns this adapter wrote with JSON.stringify from the same domain type.
function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

function bit(value: boolean): Bit {
  return value ? 1 : 0;
}

// The table CHECK guarantees these columns for their kind; a null here means the schema and this
// mapper disagree, which must not be papered over with a default.
function required(value: string | null, column: string): string {
  if (value === null) throw new Error(`Unexpected NULL in ${column}`);
  return value;
}

function unreachable(value: never): never {
  throw new Error(`Unexpected value: ${String(value)}`);
}
