// Store port on an embedded SQLite database (Node's built-in node:sqlite). DatabaseSync is
// synchronous and holds one connection, so the adapter serialises every use of it through one
// async mutex: a transaction keeps the connection from BEGIN to COMMIT/ROLLBACK while its async fn
// runs, and nothing else (no read, no fetch bookkeeping) can run on that connection meanwhile and
// see uncommitted rows.
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementResultingChanges } from 'node:sqlite';
import type {
  ActiveFeed,
  FeedToken,
  Location,
  PrivacyMode,
  Provider,
  Session,
  SessionQuery,
  SessionStatus,
  Store,
  StoreTx,
} from '../domain/index.js';
import { ErrorCode, notFound } from '../domain/index.js';
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

interface SqliteOperations {
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

  return {
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

function fromSession(session: Session): SessionRow {
  return {
    provider_id: session.providerId,
    id: session.id,
    uid: session.uid,
    starts_at: session.start,
    ends_at: session.end,
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
