// The Store port, written once over Kysely for SQLite (node:sqlite, embedded default) and
// PostgreSQL (pg). What the two databases write differently lives in dialect.ts; what a database
// needs to open, migrate and run transactions lives in its factory (sqlite-store.ts,
// postgres-store.ts), which hands this class a Kysely instance and a TransactionRunner.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { CompiledQuery, sql, type Kysely, type Transaction } from 'kysely';
import type {
  FeedRevision,
  SessionVersion,
  AuditEntry,
  BusyInterval,
  BusySource,
  ClaimOptions,
  Connection,
  ConnectionStatus,
  FeedTombstone,
  FeedToken,
  Offboarding,
  Location,
  Provider,
  ResyncJob,
  Session,
  SessionQuery,
  Store,
  StoredBusyInterval,
  StoreTx,
  SyncHealth,
  PoolStats,
  SyncTarget,
  WorkKind,
  PortalLink,
  WebSession,
  SealedValue,
  SealedValueChange,
  SealedValueKind,
} from '../domain/index.js';
import { AppError, compareText, ErrorCode, notFound } from '../domain/index.js';
import type { StoreDialect } from './dialect.js';
import type { FeedFence, FenceTicket } from './feed-fence.js';
import {
  BUSY_SOURCE_COLUMNS,
  CONNECTION_COLUMNS,
  FEED_COLUMNS,
  fromBusyInterval,
  fromBusySource,
  fromConnection,
  fromFeed,
  fromJob,
  fromLocation,
  fromProvider,
  fromSession,
  JOB_COLUMNS,
  LOCATION_COLUMNS,
  PROVIDER_COLUMNS,
  SESSION_COLUMNS,
  toAudit,
  toBusySource,
  toConnection,
  toFeedTombstone,
  toOffboarding,
  fromOffboarding,
  toFeed,
  toJob,
  toLocation,
  toProvider,
  toSession,
  toStoredBusyInterval,
  toTarget,
  toPortalLink,
  toWebSession,
  fromPortalLink,
  fromWebSession,
  type BusySourceRow,
  type Database,
  type LocationRow,
  type ProviderRow,
  type SessionRow,
  type TargetRow,
} from './rows.js';

/** Longest user agent kept by recordFeedFetch: the header is client-controlled and unbounded. */
const MAX_USER_AGENT_LENGTH = 512;

/** SQL text of hot-path queries by dialect and name (see Operations#compiled). */
const COMPILED = new Map<string, string>();

/** Rows per multi-row session upsert. */
const SESSION_CHUNK = 500;

/**
 * Rows per multi-row busy interval insert: 1,000 x 4 values stays well under both databases'
 * parameter limits (SQLite 32,766, PostgreSQL 65,535).
 */
const INTERVAL_CHUNK = 1_000;

/** Claimed busy sources moved on per UPDATE: 2 values each. */
const CLAIM_CHUNK = 1_000;

/** At most this many dead targets are listed by syncHealth, newest first. */
const DEAD_TARGETS_LISTED = 100;

/**
 * Runs fn in one database transaction, as the database's factory decides: SQLite takes the write
 * lock up front (BEGIN IMMEDIATE); PostgreSQL runs READ COMMITTED and retries deadlocks and
 * serialization failures, so fn may run more than once.
 */
export type TransactionRunner = <T>(db: Kysely<Database>, fn: (trx: Transaction<Database>) => Promise<T>) => Promise<T>;

/**
 * Work signals from other processes: starts listening and calls `signal` for each kind another
 * process queued (and for every kind after a reconnect); resolves to a function that stops it.
 */
export type WorkListener = (signal: (kind: WorkKind) => void) => () => Promise<void>;

export interface KyselyStoreOptions {
  db: Kysely<Database>;
  dialect: StoreDialect;
  transaction: TransactionRunner;
  /** Cross-process wake-ups (PostgreSQL LISTEN); absent, signals stay in this process (SQLite). */
  listen?: WorkListener;
  /** The pool's figures (PostgreSQL); absent, the store has one connection and counts its users. */
  poolStats?: () => PoolStats;
  /** Whether an error means the database is out of reach for now (answered 503, not 500). */
  isUnavailable?: (error: unknown) => boolean;
  /**
   * A cheap reading that changes when another process commits to the database (SQLite's
   * PRAGMA data_version). Given, feedLookupEpoch() folds it in with this process's own commits;
   * absent, feedLookupEpoch() is null (PostgreSQL: a query would be needed to tell).
   */
  externalCommits?: () => number;
  /**
   * Feed lookups cached across processes (PostgreSQL, feed-fence.ts): given, feedLookupEpoch() is
   * the fence's while it holds, a transaction that changes feed lookups notifies the other
   * processes and waits, once committed, until they have dropped what they cached.
   */
  feedFence?: FeedFence;
  /**
   * Runs a read at once, synchronously, when that is the same as running it through Kysely, or
   * answers undefined (SQLite: while no transaction holds its one connection, a read sees what
   * one queued behind Kysely's mutex would). Kysely's round of promises around each statement
   * (connection mutex, executor, provider) cost more than the statement on the first poll
   * after a change, cold.
   */
  readNow?: (sql: string, parameters: readonly unknown[]) => unknown[] | undefined;
}

type TargetSyncedResult = Parameters<Store['completeTarget']>[2];
type TargetFailedResult = Parameters<Store['failTarget']>[2];
type RecordedSync = Parameters<StoreTx['recordTargetSynced']>[3];
type AuditQuery = Parameters<Store['listAudit']>[0];

interface TxScope {
  open: boolean;
  /** Whether fn wrote something findFeedRevision reads (see Store.feedLookupEpoch). */
  feedsChanged: boolean;
  /** Providers whose feed revision fn moved (see Store.onFeedsChanged). */
  revised: Set<string>;
  /** Whether fn wrote something that changes which feed a token names (see Store.feedTokenEpoch). */
  tokensChanged: boolean;
  /** Kinds of work this transaction queued, signalled once it commits. */
  queued: Set<WorkKind>;
}

export class KyselyStore implements Store {
  readonly #db: Kysely<Database>;
  readonly #ops: Operations;
  readonly #runTransaction: TransactionRunner;
  readonly #dialect: StoreDialect;
  readonly #listeners: Record<WorkKind, Set<() => void>> = { sync: new Set(), jobs: new Set() };
  readonly #feedListeners = new Set<(providerIds: ReadonlySet<string>) => void>();
  readonly #listen: WorkListener | undefined;
  #stopListening: (() => Promise<void>) | undefined;
  readonly #poolStats: (() => PoolStats) | undefined;
  readonly #isUnavailable: (error: unknown) => boolean;
  readonly #externalCommits: (() => number) | undefined;
  readonly #fence: FeedFence | undefined;
  /** Counts this process's transactions that changed feed lookups (see feedLookupEpoch). */
  #feedCommits = 0;
  /** Counts those of them that changed which feed a token names (see feedTokenEpoch). */
  #tokenCommits = 0;
  /** Store calls and transactions under way, for the one-connection store's poolStats. */
  #active = 0;
  // Marks the async context of a running fn so that a call to the store from inside it fails
  // fast: on SQLite it would wait for the one connection its own transaction holds, forever; on
  // PostgreSQL it would quietly run outside the transaction.
  readonly #txScope = new AsyncLocalStorage<TxScope>();
  #closing: Promise<void> | undefined;

  constructor(options: KyselyStoreOptions) {
    this.#db = options.db;
    this.#dialect = options.dialect;
    this.#runTransaction = options.transaction;
    this.#listen = options.listen;
    this.#poolStats = options.poolStats;
    this.#isUnavailable = options.isUnavailable ?? (() => false);
    this.#externalCommits = options.externalCommits;
    this.#fence = options.feedFence;
    this.#fence?.onRevised((providerIds) => this.#feedsRevised(providerIds));
    this.#ops = new Operations(options.db, options.dialect, options.readNow);
  }

  poolStats(): PoolStats {
    if (this.#poolStats !== undefined) return this.#poolStats();
    return { total: 1, idle: this.#active === 0 ? 1 : 0, waiting: Math.max(0, this.#active - 1) };
  }

  onWork(kind: WorkKind, listener: () => void): () => void {
    // Only a process that waits for work listens to other processes' signals.
    if (this.#listen !== undefined && this.#stopListening === undefined && this.#closing === undefined) {
      this.#stopListening = this.#listen((k) => this.#signal(k));
    }
    this.#listeners[kind].add(listener);
    return () => this.#listeners[kind].delete(listener);
  }

  onFeedsChanged(listener: (providerIds: ReadonlySet<string>) => void): () => void {
    this.#feedListeners.add(listener);
    return () => this.#feedListeners.delete(listener);
  }

  #feedsRevised(providerIds: ReadonlySet<string>): void {
    for (const listener of this.#feedListeners) {
      // Heard after the commit (or in the fence's notification handler): a listener's fault must
      // neither fail a write that committed nor throw into pg's event emitter.
      try {
        listener(providerIds);
      } catch {
        // The listener's own to report; the commit stands.
      }
    }
  }

  #signal(kind: WorkKind): void {
    for (const listener of this.#listeners[kind]) listener();
  }

  getProvider = this.#outside('getProvider', (id: string) => this.#ops.getProvider(id));
  searchProviders = this.#outside('searchProviders', (text: string, limit: number) => this.#ops.searchProviders(text, limit));
  listLocations = this.#outside('listLocations', (providerId: string) => this.#ops.listLocations(providerId));
  getLocation = this.#outside('getLocation', (providerId: string, locationId: string) => this.#ops.getLocation(providerId, locationId));
  getSession = this.#outside('getSession', (providerId: string, sessionId: string) => this.#ops.getSession(providerId, sessionId));
  listSessions = this.#outside('listSessions', (providerId: string, query?: SessionQuery) => this.#ops.listSessions(providerId, query));
  listSessionVersions = this.#outside('listSessionVersions', (providerId: string, window: { endAfter: string; startBefore: string }) =>
    this.#ops.listSessionVersions(providerId, window),
  );
  listSessionChanges = this.#outside('listSessionChanges', (providerId: string, since: number) => this.#ops.listSessionChanges(providerId, since));
  sessionDeletions = this.#outside('sessionDeletions', (providerId: string) => this.#ops.sessionDeletions(providerId));
  getSessions = this.#outside('getSessions', (providerId: string, sessionIds: readonly string[]) => this.#ops.getSessions(providerId, sessionIds));
  listFeeds = this.#outside('listFeeds', (providerId: string) => this.#ops.listFeeds(providerId));
  findJoinSession = this.#outside('findJoinSession', (tokenHash: string) => this.#ops.findJoinSession(tokenHash));
  listSessionsWithoutJoinToken = this.#outside('listSessionsWithoutJoinToken', (providerId: string) => this.#ops.listSessionsWithoutJoinToken(providerId));
  findFeedRevision = this.#outside('findFeedRevision', (tokenHash: string) => this.#ops.findFeedRevision(tokenHash));
  findFeedRevisions = this.#outside('findFeedRevisions', (tokenHashes: readonly string[]) => this.#ops.findFeedRevisions(tokenHashes));
  listBusySources = this.#outside('listBusySources', (providerId: string) => this.#ops.listBusySources(providerId));
  getBusySource = this.#outside('getBusySource', (providerId: string, sourceId: string) => this.#ops.getBusySource(providerId, sourceId));
  listBusyIntervals = this.#outside('listBusyIntervals', (providerId: string, from: string, to: string) => this.#ops.listBusyIntervals(providerId, from, to));
  getWebSession = this.#outside('getWebSession', (idHash: string) => this.#ops.getWebSession(idHash));

  // Settings and sealed values (key rotation): reads outside a transaction.
  getSetting = this.#outside('getSetting', (name: string) => this.#ops.getSetting(name));
  listSealedValues = this.#outside('listSealedValues', (kind: SealedValueKind, after: SealedValue | null, limit: number) =>
    this.#ops.listSealedValues(kind, after, limit),
  );

  feedLookupEpoch(): number | null {
    if (this.#fence !== undefined) return this.#fence.epoch();
    // Both only ever grow, so their sum changes whenever either does.
    return this.#externalCommits === undefined ? null : this.#feedCommits + this.#externalCommits();
  }
  feedTokenEpoch(): number | null {
    if (this.#fence !== undefined) return this.#fence.epoch();
    return this.#externalCommits === undefined ? null : this.#tokenCommits + this.#externalCommits();
  }
  recordFeedFetch = this.#outside('recordFeedFetch', (feedId: string, at: string, userAgent: string | null, count: number = 1) =>
    this.#ops.recordFeedFetch(feedId, at, userAgent, count),
  );
  ping = this.#outside('ping', async () => {
    await sql`SELECT 1`.execute(this.#db);
  });

  getConnection = this.#outside('getConnection', (connectionId: string) => this.#ops.getConnection(connectionId));
  listConnections = this.#outside('listConnections', (providerId: string) => this.#ops.listConnections(providerId));
  listAllConnections = this.#outside('listAllConnections', (statuses?: readonly ConnectionStatus[]) => this.#ops.listAllConnections(statuses));
  listTargets = this.#outside('listTargets', (connectionId: string) => this.#ops.listTargets(connectionId));
  getTarget = this.#outside('getTarget', (targetId: string) => this.#ops.getTarget(targetId));
  getJob = this.#outside('getJob', (jobId: string) => this.#ops.getJob(jobId));
  listAudit = this.#outside('listAudit', (options: AuditQuery) => this.#ops.listAudit(options));
  syncHealth = this.#outside('syncHealth', (now: string) => this.#ops.syncHealth(now));
  targetCounts = this.#outside('targetCounts', (connectionId: string) => this.#ops.targetCounts(connectionId));
  listConnectionsInCleanup = this.#outside('listConnectionsInCleanup', () => this.#ops.listConnectionsInCleanup());
  getOffboarding = this.#outside('getOffboarding', (offboardingId: string) => this.#ops.getOffboarding(offboardingId));
  listOffboardings = this.#outside('listOffboardings', (providerId: string) => this.#ops.listOffboardings(providerId));
  findFeedTombstone = this.#outside('findFeedTombstone', (tokenHash: string) => this.#ops.findFeedTombstone(tokenHash));

  // Leases: each is one statement or one short transaction of its own (READ COMMITTED on
  // PostgreSQL, where SKIP LOCKED keeps concurrent claimers apart).
  claimTargets = this.#outside('claimTargets', (options: ClaimOptions) =>
    this.#db.transaction().execute((trx) => new Operations(trx, this.#dialect).claimTargets(options)),
  );
  renewLeases = this.#outside('renewLeases', (owner: string, now: string, leaseUntil: string) =>
    this.#db.transaction().execute((trx) => new Operations(trx, this.#dialect).renewLeases(owner, now, leaseUntil)),
  );
  releaseIdleConnections = this.#outside('releaseIdleConnections', (owner: string) => this.#ops.releaseIdleConnections(owner));
  leaseConnection = this.#outside('leaseConnection', (connectionId: string, owner: string, now: string, leaseUntil: string) =>
    this.#ops.leaseConnection(connectionId, owner, now, leaseUntil),
  );
  releaseLeases = this.#outside('releaseLeases', (owner: string) =>
    this.#db.transaction().execute((trx) => new Operations(trx, this.#dialect).releaseLeases(owner)),
  );
  completeTarget = this.#outside('completeTarget', (targetId: string, owner: string, result: TargetSyncedResult) =>
    this.#db.transaction().execute((trx) => new Operations(trx, this.#dialect).completeTarget(targetId, owner, result)),
  );
  failTarget = this.#outside('failTarget', (targetId: string, owner: string, result: TargetFailedResult) =>
    this.#ops.failTarget(targetId, owner, result),
  );
  releaseTarget = this.#outside('releaseTarget', (targetId: string, owner: string, nextAttemptAt: string) =>
    this.#ops.releaseTarget(targetId, owner, nextAttemptAt),
  );
  nextDueAt = this.#outside('nextDueAt', (owner?: string) => this.#ops.nextDueAt(owner));
  claimJob = this.#outside('claimJob', (options: Omit<ClaimOptions, 'limit'>) => this.#ops.claimJob(options));
  claimDueBusySources = this.#outside('claimDueBusySources', (now: string, until: string, limit: number) =>
    this.#db.transaction().execute((trx) => new Operations(trx, this.#dialect).claimDueBusySources(now, until, limit)),
  );

  async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    this.#assertOutsideTransaction('transaction');
    let queued = new Set<WorkKind>();
    let revised = new Set<string>();
    let feedsChanged = false;
    let tokensChanged = false;
    // One per attempt that changed feeds (a retried fn runs again); only the last one committed.
    const tickets: FenceTicket[] = [];
    this.#active += 1;
    const result = await this.#runTransaction(this.#db, async (trx) => {
      // A fresh scope per attempt: a retried fn must not inherit a failed attempt's signals.
      const scope: TxScope = { open: true, feedsChanged: false, tokensChanged: false, revised: new Set(), queued: new Set() };
      try {
        const value = await this.#txScope.run(scope, () => fn(makeTx(new Operations(trx, this.#dialect), scope)));
        scope.open = false;
        // Counted before COMMIT as well as after: a poll in between then asks the database, and
        // its query waits for the one connection this transaction holds until it has committed.
        if (scope.tokensChanged) {
          this.#tokenCommits += 1;
          tokensChanged = true;
        }
        if (scope.feedsChanged) {
          this.#feedCommits += 1;
          feedsChanged = true;
          if (this.#fence !== undefined) {
            const ticket = this.#fence.ticket(scope.revised);
            tickets.push(ticket);
            await sql`SELECT pg_notify(${this.#fence.channel}, ${ticket.payload})`.execute(trx);
            this.#fence.ownCommit();
          }
        }
        // Inside the transaction, so other processes hear of the work exactly when it commits.
        for (const kind of scope.queued) {
          const notify = this.#dialect.notifyWork(kind);
          if (notify !== null) await notify.execute(trx);
        }
        queued = scope.queued;
        revised = scope.revised;
        return value;
      } finally {
        scope.open = false;
      }
    })
      .catch((error: unknown) => {
        for (const ticket of tickets) this.#fence?.abandon(ticket);
        return this.#rethrow(error);
      })
      .finally(() => (this.#active -= 1));
    if (feedsChanged) this.#feedCommits += 1;
    if (tokensChanged) this.#tokenCommits += 1;
    const committed = tickets.pop();
    for (const ticket of tickets) this.#fence?.abandon(ticket);
    if (this.#fence !== undefined && committed !== undefined) {
      this.#fence.ownCommit();
      // Answered only once no other process can answer a poll from what it cached before.
      await this.#fence.settle(committed);
    }
    for (const kind of queued) this.#signal(kind);
    if (revised.size > 0) this.#feedsRevised(revised);
    return result;
  }

  async close(): Promise<void> {
    this.#assertOutsideTransaction('close');
    // Lets running and queued work finish first; later calls fail on the destroyed pool.
    this.#closing ??= (async () => {
      await this.#stopListening?.();
      await this.#fence?.close();
      await this.#db.destroy();
    })();
    return this.#closing;
  }

  #outside<A extends unknown[], R>(name: string, op: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A): Promise<R> => {
      this.#assertOutsideTransaction(name);
      if (this.#closing !== undefined) throw new Error('The store is closed.');
      this.#active += 1;
      try {
        return await op(...args);
      } catch (error) {
        return this.#rethrow(error);
      } finally {
        this.#active -= 1;
      }
    };
  }

  /** A lost database becomes SERVICE_UNAVAILABLE (503, retryable); anything else as it was. */
  #rethrow(error: unknown): never {
    if (!(error instanceof AppError) && this.#isUnavailable(error)) {
      throw new AppError({ code: ErrorCode.SERVICE_UNAVAILABLE, status: 503, message: 'The database does not answer; try again shortly.', cause: error, retryable: true });
    }
    throw error;
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

function makeTx(ops: Operations, scope: TxScope): StoreTx {
  const live =
    <A extends unknown[], R>(op: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      // A tx kept past its fn would otherwise write outside any transaction, or into another's.
      if (!scope.open) throw new Error('This transaction has ended; its tx object can no longer be used.');
      return op(...args);
    };
  const feedWrite =
    <A extends unknown[], R>(op: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      scope.feedsChanged = true;
      return live(op)(...args);
    };
  // A write that can stop a token naming its feed: it changes feed lookups too.
  const tokenWrite =
    <A extends unknown[], R>(op: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      scope.tokensChanged = true;
      return feedWrite(op)(...args);
    };
  return {
    getProvider: live((id) => ops.getProvider(id)),
    listLocations: live((providerId) => ops.listLocations(providerId)),
    getLocation: live((providerId, locationId) => ops.getLocation(providerId, locationId)),
    getSession: live((providerId, sessionId) => ops.getSession(providerId, sessionId)),
    listSessions: live((providerId, query) => ops.listSessions(providerId, query)),
    listSessionVersions: live((providerId, window) => ops.listSessionVersions(providerId, window)),
    getSessions: live((providerId, sessionIds) => ops.getSessions(providerId, sessionIds)),
    listSessionChanges: live((providerId, since) => ops.listSessionChanges(providerId, since)),
    sessionDeletions: live((providerId) => ops.sessionDeletions(providerId)),
    listFeeds: live((providerId) => ops.listFeeds(providerId)),
    findFeedRevision: live((tokenHash) => ops.findFeedRevision(tokenHash)),
    findJoinSession: live((tokenHash) => ops.findJoinSession(tokenHash)),
    listSessionsWithoutJoinToken: live((providerId) => ops.listSessionsWithoutJoinToken(providerId)),
    setJoinTokenHashes: live((providerId, entries) => ops.setJoinTokenHashes(providerId, entries)),
    findFeedRevisions: live((tokenHashes) => ops.findFeedRevisions(tokenHashes)),
    lockProvider: live((providerId) => ops.lock(`provider:${providerId}`)),
    lockConnection: live((connectionId) => ops.lock(`connection:${connectionId}`)),
    putProvider: feedWrite((provider) => {
      scope.revised.add(provider.id);
      return ops.putProvider(provider);
    }),
    deleteProvider: tokenWrite((providerId) => ops.deleteProvider(providerId)),
    putLocation: live((location) => ops.putLocation(location)),
    deleteLocation: live((providerId, locationId) => ops.deleteLocation(providerId, locationId)),
    putSession: live((session) => ops.putSession(session)),
    putSessions: live((sessions) => ops.putSessions(sessions)),
    deleteSession: live((providerId, sessionId) => ops.deleteSession(providerId, sessionId)),
    putFeed: live((feed) => ops.putFeed(feed)),
    revokeFeed: tokenWrite((providerId, feedId, at) => ops.revokeFeed(providerId, feedId, at)),
    bumpFeedRevision: feedWrite((providerId) => {
      scope.revised.add(providerId);
      return ops.bumpFeedRevision(providerId);
    }),

    // Busy time changes no feed: plain writes, never feedWrite, so feedLookupEpoch stays.
    listBusySources: live((providerId) => ops.listBusySources(providerId)),
    getBusySource: live((providerId, sourceId) => ops.getBusySource(providerId, sourceId)),
    listBusyIntervals: live((providerId, from, to) => ops.listBusyIntervals(providerId, from, to)),
    putBusySource: live((source) => ops.putBusySource(source)),
    deleteBusySource: live((providerId, sourceId) => ops.deleteBusySource(providerId, sourceId)),
    replaceBusyIntervals: live((providerId, sourceId, intervals) => ops.replaceBusyIntervals(providerId, sourceId, intervals)),

    getWebSession: live((idHash) => ops.getWebSession(idHash)),
    putWebSession: live((session) => ops.putWebSession(session)),
    revokeWebSession: live((idHash, at) => ops.revokeWebSession(idHash, at)),
    putPortalLink: live((link) => ops.putPortalLink(link)),
    usePortalLink: live((tokenHash, at) => ops.usePortalLink(tokenHash, at)),

    getConnection: live((connectionId) => ops.getConnection(connectionId)),
    listConnections: live((providerId) => ops.listConnections(providerId)),
    listAllConnections: live((statuses) => ops.listAllConnections(statuses)),
    listTargets: live((connectionId) => ops.listTargets(connectionId)),
    getTarget: live((targetId) => ops.getTarget(targetId)),
    getJob: live((jobId) => ops.getJob(jobId)),
    listAudit: live((options) => ops.listAudit(options)),
    syncHealth: live((now) => ops.syncHealth(now)),
    targetCounts: live((connectionId) => ops.targetCounts(connectionId)),
    listConnectionsInCleanup: live(() => ops.listConnectionsInCleanup()),
    getOffboarding: live((offboardingId) => ops.getOffboarding(offboardingId)),
    listOffboardings: live((providerId) => ops.listOffboardings(providerId)),
    findFeedTombstone: live((tokenHash) => ops.findFeedTombstone(tokenHash)),
    prepareTargetsForRemoval: live(async (connectionId, at) => {
      const withEvents = await ops.prepareTargetsForRemoval(connectionId, at);
      scope.queued.add('sync');
      return withEvents;
    }),
    tombstoneFeeds: tokenWrite((providerId, calendarName, at) => ops.tombstoneFeeds(providerId, calendarName, at)),
    putOffboarding: live((offboarding) => ops.putOffboarding(offboarding)),
    putConnection: live(async (connection) => {
      await ops.putConnection(connection);
      // An (again) active connection may have pending targets that waited for it.
      if (connection.status === 'active') scope.queued.add('sync');
    }),
    markSessionsDirty: live(async (providerId, sessionIds, at) => queues(scope, 'sync', await ops.markSessionsDirty(providerId, sessionIds, at))),
    markConnectionTargetsDirty: live(async (connectionId, sessionIds, at) =>
      queues(scope, 'sync', await ops.markConnectionTargetsDirty(connectionId, sessionIds, at)),
    ),
    deleteTargets: live((connectionId) => ops.deleteTargets(connectionId)),
    recordTargetSynced: live((connectionId, providerId, sessionId, result) => ops.recordTargetSynced(connectionId, providerId, sessionId, result)),
    putJob: live(async (job) => {
      await ops.putJob(job);
      if (job.status === 'queued') scope.queued.add('jobs');
    }),
    appendAudit: live((entry) => ops.appendAudit(entry)),
    retryTarget: live(async (targetId, at) => {
      const retried = await ops.retryTarget(targetId, at);
      if (retried) scope.queued.add('sync');
      return retried;
    }),

    // Settings and sealed values (key rotation): plain writes, no feed or work signal.
    getSetting: live((name) => ops.getSetting(name)),
    listSealedValues: live((kind, after, limit) => ops.listSealedValues(kind, after, limit)),
    putSettingIfAbsent: live((name, value, at) => ops.putSettingIfAbsent(name, value, at)),
    compareAndSetSetting: live((name, expected, value, at) => ops.compareAndSetSetting(name, expected, value, at)),
    compareAndSetSealedValues: live((changes) => ops.compareAndSetSealedValues(changes)),
  };
}

/** Notes that the transaction queued work of `kind` when `count` rows were touched; returns count. */
function queues(scope: TxScope, kind: WorkKind, count: number): number {
  if (count > 0) scope.queued.add(kind);
  return count;
}

/** Unrevoked feeds with their provider's revision: what findFeedRevision(s) select from. */
function activeFeedRevisions(db: Kysely<Database>) {
  return db
    .selectFrom('feed_tokens')
    .innerJoin('providers', 'providers.id', 'feed_tokens.provider_id')
    .select(['feed_tokens.token_hash as tokenHash', 'feed_tokens.id as feedId', 'feed_tokens.provider_id as providerId', 'providers.created_at as providerCreatedAt', 'providers.feed_revision as feedRevision'])
    .where('feed_tokens.revoked_at', 'is', null);
}

type FeedRevisionRow = FeedRevision & { tokenHash: string };

function toFeedRevision({ feedId, providerId, providerCreatedAt, feedRevision }: FeedRevisionRow): FeedRevision {
  // PostgreSQL's INTEGER arrives as a number; Number() keeps a BIGINT-typed driver honest too.
  return { feedId, providerId, providerCreatedAt, feedRevision: Number(feedRevision) };
}

/** A session write's feed_revision: the revision the provider's next bump, in this transaction, commits. */
function changeStamp(providerId: string) {
  return sql<number>`(SELECT feed_revision + 1 FROM providers WHERE id = ${providerId})`;
}

/** `col = excluded.col` for every non-key column: the update half of an upsert. */
function excludedSet(columns: readonly string[], key: readonly string[]): Record<string, ReturnType<typeof sql.ref<never>>> {
  return Object.fromEntries(columns.filter((c) => !key.includes(c)).map((c) => [c, sql.ref<never>(`excluded.${c}`)]));
}

/** A pending target: not yet synced at its generation, and not dead-lettered. */
const PENDING = sql`t.generation > t.synced_generation AND t.dead_at IS NULL`;

// ---------------------------------------------------------------------------------------------
// The queries, over the root database (reads, leases) or a transaction (everything a tx can do).

class Operations {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: StoreDialect,
    /** Given to the root's operations only (see KyselyStoreOptions.readNow); a transaction's go through it. */
    private readonly readNow?: (sql: string, parameters: readonly unknown[]) => unknown[] | undefined,
  ) {}

  async lock(key: string): Promise<void> {
    const statement = this.dialect.lock(key);
    if (statement !== null) await statement.execute(this.db);
  }

  // getProvider, getLocation and getSession run on nearly every request (and getProvider on the
  // first poll after a change): precompiled, since building a Kysely query cost more than running it.
  async getProvider(id: string): Promise<Provider | null> {
    const row = await this.#first<ProviderRow>('getProvider', (db) => db.selectFrom('providers').selectAll().where('id', '=', ''), [id]);
    return row === undefined ? null : toProvider(row);
  }

  async searchProviders(text: string, limit: number): Promise<Provider[]> {
    // lower() on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
    const pattern = `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = await this.db
      .selectFrom('providers')
      .selectAll()
      .where(sql<boolean>`(lower(id) like ${pattern} escape '\\' or lower(name) like ${pattern} escape '\\')`)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toProvider);
  }

  async putProvider(provider: Provider): Promise<void> {
    await this.db
      .insertInto('providers')
      .values(fromProvider(provider))
      .onConflict((oc) => oc.column('id').doUpdateSet(excludedSet(PROVIDER_COLUMNS, ['id'])))
      .execute();
  }

  async deleteProvider(providerId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('providers').where('id', '=', providerId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  // `at` is not stored: the revision counter alone keys the feed cache, and updatedAt tracks the
  // provider's own fields.
  async bumpFeedRevision(providerId: string): Promise<number> {
    const row = await this.db
      .updateTable('providers')
      .set((eb) => ({ feed_revision: eb('feed_revision', '+', 1) }))
      .where('id', '=', providerId)
      .returning('feed_revision')
      .executeTakeFirst();
    if (row === undefined) throw notFound(ErrorCode.PROVIDER_NOT_FOUND, 'Provider not found.');
    return row.feed_revision;
  }

  // Every feed render after a change asks this: compiled once per dialect.
  async listLocations(providerId: string): Promise<Location[]> {
    const query = this.#compiled('listLocations', (db) => db.selectFrom('locations').selectAll().where('provider_id', '=', '').orderBy('id'));
    const rows = await this.#rows<LocationRow>(query, [providerId]);
    return rows.map(toLocation);
  }

  async getLocation(providerId: string, locationId: string): Promise<Location | null> {
    const row = await this.#first<LocationRow>('getLocation', (db) => db.selectFrom('locations').selectAll().where('provider_id', '=', '').where('id', '=', ''), [providerId, locationId]);
    return row === undefined ? null : toLocation(row);
  }

  async putLocation(location: Location): Promise<void> {
    await this.db
      .insertInto('locations')
      .values(fromLocation(location))
      .onConflict((oc) => oc.columns(['provider_id', 'id']).doUpdateSet(excludedSet(LOCATION_COLUMNS, ['provider_id', 'id'])))
      .execute();
  }

  // Callers hold the transaction, so the detach and the delete land together.
  async deleteLocation(providerId: string, locationId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('locations').where('provider_id', '=', providerId).where('id', '=', locationId).executeTakeFirst();
    if (result.numDeletedRows === 0n) return false;
    await this.db
      .updateTable('sessions')
      .set({ location_id: null, feed_revision: changeStamp(providerId) })
      .where('provider_id', '=', providerId)
      .where('location_id', '=', locationId)
      .execute();
    return true;
  }

  async getSession(providerId: string, sessionId: string): Promise<Session | null> {
    const row = await this.#first<SessionRow>('getSession', (db) => db.selectFrom('sessions').selectAll().where('provider_id', '=', '').where('id', '=', ''), [providerId, sessionId]);
    return row === undefined ? null : toSession(row);
  }

  // Plain predicates for the filters given, rather than "(? IS NULL OR col = ?)", so that the
  // database picks the matching index; each mix is one cached statement.
  async listSessions(providerId: string, query: SessionQuery = {}): Promise<Session[]> {
    let q = this.db.selectFrom('sessions').selectAll().where('provider_id', '=', providerId);
    if (query.endAfter !== undefined) q = q.where('ends_at', '>', query.endAfter);
    if (query.startBefore !== undefined) q = q.where('starts_at', '<', query.startBefore);
    if (query.status !== undefined) q = q.where('status', '=', query.status);
    if (query.locationId !== undefined) q = q.where('location_id', '=', query.locationId);
    if (query.seriesId !== undefined) q = q.where('series_id', '=', query.seriesId);
    const rows = await q.orderBy('starts_at').orderBy('id').execute();
    return rows.map(toSession);
  }

  // Asked on every feed render after a change: built and compiled once per dialect.
  async listSessionVersions(providerId: string, window: { endAfter: string; startBefore: string }): Promise<SessionVersion[]> {
    const query = this.#compiled('listSessionVersions', (db) =>
      db
        .selectFrom('sessions')
        .select(['id', 'event_fingerprint as eventFingerprint', 'sequence', 'last_modified as lastModified', 'created_at as createdAt'])
        .where('provider_id', '=', '')
        .where('status', '=', 'scheduled')
        .where('ends_at', '>', '')
        .where('starts_at', '<', '')
        .orderBy('starts_at')
        .orderBy('id'),
    );
    const rows = await this.#rows<SessionVersion>(query, [providerId, 'scheduled', window.endAfter, window.startBefore]);
    // Plain objects (node:sqlite's rows have no prototype), with the fields in a fixed order.
    return rows.map(({ id, eventFingerprint, sequence, lastModified, createdAt }) => ({ id, eventFingerprint, sequence: Number(sequence), lastModified, createdAt }));
  }

  async getSessions(providerId: string, sessionIds: readonly string[]): Promise<Session[]> {
    const found: Session[] = [];
    // Chunked to stay under both databases' parameter limits.
    for (let i = 0; i < sessionIds.length; i += SESSION_CHUNK) {
      const rows = await this.db
        .selectFrom('sessions')
        .selectAll()
        .where('provider_id', '=', providerId)
        .where('id', 'in', sessionIds.slice(i, i + SESSION_CHUNK))
        .execute();
      found.push(...rows.map(toSession));
    }
    return found.sort((a, b) => (a.start === b.start ? compareText(a.id, b.id) : compareText(a.start, b.start)));
  }

  // ON CONFLICT on the primary key only: a uid taken by another session still fails the UNIQUE
  // constraint instead of being silently replaced.
  async putSession(session: Session): Promise<void> {
    await this.putSessions([session]);
  }

  // A multi-row upsert per chunk: on PostgreSQL each statement is a round trip made while the
  // transaction holds its locks. 500 rows x 18 values stays under both databases' parameter limits.
  async putSessions(sessions: readonly Session[]): Promise<void> {
    for (let i = 0; i < sessions.length; i += SESSION_CHUNK) {
      await this.db
        .insertInto('sessions')
        .values(sessions.slice(i, i + SESSION_CHUNK).map((session) => ({ ...fromSession(session), feed_revision: changeStamp(session.providerId) })))
        .onConflict((oc) =>
          oc.columns(['provider_id', 'id']).doUpdateSet({ ...excludedSet(SESSION_COLUMNS, ['provider_id', 'id']), feed_revision: sql.ref<never>('excluded.feed_revision') }),
        )
        .execute();
    }
  }

  /**
   * Sessions of the provider written after its feed revision `since` (any status and time), by
   * start then id, and its count of deleted sessions: one statement, one snapshot (on PostgreSQL
   * too), from two index lookups, however many sessions the provider has; when none changed, the
   * count is read after (it only grows, so it covers what the sessions showed).
   */
  async listSessionChanges(providerId: string, since: number): Promise<{ changed: Session[]; deletions: number }> {
    // The sessions by the revision index, each row with the count: four times as fast on SQLite
    // as the same from providers LEFT JOIN sessions, or with ORDER BY (a temporary B-tree), and
    // this runs on the first poll after every change. Ordered here instead.
    const query = this.#compiled('listSessionChanges', (db) =>
      db
        .selectFrom('sessions as s')
        .select((eb) => eb.selectFrom('providers').select('sessions_deleted').where('id', '=', '').as('sessions_deleted'))
        .selectAll('s')
        .where('s.provider_id', '=', '')
        .where('s.feed_revision', '>', 0),
    );
    const rows = await this.#rows<SessionRow & { sessions_deleted: number | string | null }>(query, [providerId, providerId, since]);
    const changed = rows.map((r) => toSession(r)).sort((a, b) => compareText(a.start, b.start) || compareText(a.id, b.id));
    const first = rows[0];
    // No session changed (a deletion, say): the count alone, read after the sessions were, so
    // that it reflects at least the deletions behind what they showed.
    return { changed, deletions: first === undefined ? await this.sessionDeletions(providerId) : Number(first.sessions_deleted ?? 0) };
  }

  async findJoinSession(tokenHash: string): Promise<{ providerId: string; sessionId: string } | null> {
    const row = await this.db.selectFrom('sessions').select(['provider_id', 'id']).where('join_token_hash', '=', tokenHash).executeTakeFirst();
    return row === undefined ? null : { providerId: row.provider_id, sessionId: row.id };
  }

  async listSessionsWithoutJoinToken(providerId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('sessions').select('id').where('provider_id', '=', providerId).where('join_token_hash', 'is', null).orderBy('id').execute();
    return rows.map((r) => r.id);
  }

  // One statement per session: only sessions without a hash are written (a new session, or one
  // from before migration 8), and the values are deterministic, so a repeat writes nothing.
  async setJoinTokenHashes(providerId: string, entries: readonly { sessionId: string; tokenHash: string }[]): Promise<void> {
    for (const { sessionId, tokenHash } of entries) {
      await this.db
        .updateTable('sessions')
        .set({ join_token_hash: tokenHash })
        .where('provider_id', '=', providerId)
        .where('id', '=', sessionId)
        .where('join_token_hash', 'is', null)
        .execute();
    }
  }

  async deleteSession(providerId: string, sessionId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('sessions').where('provider_id', '=', providerId).where('id', '=', sessionId).executeTakeFirst();
    if (result.numDeletedRows === 0n) return false;
    await this.db
      .updateTable('providers')
      .set((eb) => ({ sessions_deleted: eb('sessions_deleted', '+', 1) }))
      .where('id', '=', providerId)
      .execute();
    return true;
  }

  async sessionDeletions(providerId: string): Promise<number> {
    const row = await this.db.selectFrom('providers').select('sessions_deleted').where('id', '=', providerId).executeTakeFirst();
    return Number(row?.sessions_deleted ?? 0);
  }

  async listFeeds(providerId: string): Promise<FeedToken[]> {
    const rows = await this.db.selectFrom('feed_tokens').selectAll().where('provider_id', '=', providerId).orderBy('id').execute();
    return rows.map(toFeed);
  }

  // Every feed poll it cannot skip asks this: built and compiled once per dialect (building a
  // Kysely query cost more than running it).
  async findFeedRevision(tokenHash: string): Promise<FeedRevision | null> {
    const query = this.#compiled('findFeedRevision', (db) => activeFeedRevisions(db).where('feed_tokens.token_hash', '=', ''));
    const row = (await this.#rows<FeedRevisionRow>(query, [tokenHash]))[0];
    return row === undefined ? null : toFeedRevision(row);
  }

  async findFeedRevisions(tokenHashes: readonly string[]): Promise<Map<string, FeedRevision>> {
    if (tokenHashes.length === 0) return new Map();
    const rows = await activeFeedRevisions(this.db).where('feed_tokens.token_hash', 'in', [...tokenHashes]).execute();
    return new Map(rows.map((row) => [row.tokenHash, toFeedRevision(row)]));
  }

  /** The first row a precompiled query (see #compiled) answers with these parameters, in placeholder order. */
  async #first<R>(name: string, build: (db: Kysely<Database>) => { compile(): { sql: string } }, parameters: readonly unknown[]): Promise<R | undefined> {
    return (await this.#rows<R>(this.#compiled(name, build), parameters))[0];
  }

  /** The rows of a precompiled query: at once where the store can (readNow), else through Kysely. */
  async #rows<R>(query: string, parameters: readonly unknown[]): Promise<readonly R[]> {
    const now = this.readNow?.(query, parameters);
    if (now !== undefined) return now as R[];
    return (await this.db.executeQuery<R>(CompiledQuery.raw(query, [...parameters]))).rows;
  }

  /** The SQL text of a query whose shape never changes (only its parameters), compiled once per dialect. */
  #compiled(name: string, build: (db: Kysely<Database>) => { compile(): { sql: string } }): string {
    const key = `${this.dialect.name}:${name}`;
    let text = COMPILED.get(key);
    if (text === undefined) {
      text = build(this.db).compile().sql;
      COMPILED.set(key, text);
    }
    return text;
  }

  async putFeed(feed: FeedToken): Promise<void> {
    await this.db
      .insertInto('feed_tokens')
      .values(fromFeed(feed))
      .onConflict((oc) => oc.column('id').doUpdateSet(excludedSet(FEED_COLUMNS, ['id'])))
      .execute();
  }

  async revokeFeed(providerId: string, feedId: string, at: string): Promise<boolean> {
    const result = await this.db
      .updateTable('feed_tokens')
      .set({ revoked_at: at })
      .where('provider_id', '=', providerId)
      .where('id', '=', feedId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async recordFeedFetch(feedId: string, at: string, userAgent: string | null, count = 1): Promise<void> {
    await this.db
      .updateTable('feed_tokens')
      .set((eb) => ({ last_fetched_at: at, last_user_agent: truncateUserAgent(userAgent), fetch_count: eb('fetch_count', '+', count) }))
      .where('id', '=', feedId)
      .execute();
  }

  // -------------------------------------------------------------------------------------------
  // Busy sources: a provider's external calendars read as busy time. Nothing here touches a
  // provider's feed revision or a session: busy time is not in any feed.

  async listBusySources(providerId: string): Promise<BusySource[]> {
    const rows = await this.db.selectFrom('busy_sources').selectAll().where('provider_id', '=', providerId).orderBy('id').execute();
    return rows.map(toBusySource);
  }

  async getBusySource(providerId: string, sourceId: string): Promise<BusySource | null> {
    const row = await this.db
      .selectFrom('busy_sources')
      .selectAll()
      .where('provider_id', '=', providerId)
      .where('id', '=', sourceId)
      .executeTakeFirst();
    return row === undefined ? null : toBusySource(row);
  }

  // One range scan of busy_intervals_by_provider_start, already in the answer's order.
  async listBusyIntervals(providerId: string, from: string, to: string): Promise<StoredBusyInterval[]> {
    const rows = await this.db
      .selectFrom('busy_intervals')
      .select(['source_id', 'start_at', 'end_at'])
      .where('provider_id', '=', providerId)
      .where('start_at', '<', to)
      .where('end_at', '>', from)
      .orderBy('start_at')
      .orderBy('source_id')
      .orderBy('end_at')
      .execute();
    return rows.map(toStoredBusyInterval);
  }

  async putBusySource(source: BusySource): Promise<void> {
    await this.db
      .insertInto('busy_sources')
      .values(fromBusySource(source))
      .onConflict((oc) => oc.columns(['provider_id', 'id']).doUpdateSet(excludedSet(BUSY_SOURCE_COLUMNS, ['provider_id', 'id'])))
      .execute();
  }

  // Its intervals go by the cascade.
  async deleteBusySource(providerId: string, sourceId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('busy_sources').where('provider_id', '=', providerId).where('id', '=', sourceId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /**
   * Sets the source's interval_count first: on PostgreSQL that locks its row, so two transactions
   * replacing the same source's intervals run one after the other instead of both inserting
   * (READ COMMITTED: the second's DELETE then sees the first's rows). A missing source rejects.
   */
  async replaceBusyIntervals(providerId: string, sourceId: string, intervals: readonly BusyInterval[]): Promise<void> {
    // Checked before anything is written.
    const rows = intervals.map((interval) => fromBusyInterval(providerId, sourceId, interval));
    const source = await this.db
      .updateTable('busy_sources')
      .set({ interval_count: rows.length })
      .where('provider_id', '=', providerId)
      .where('id', '=', sourceId)
      .executeTakeFirst();
    if (source.numUpdatedRows === 0n) throw notFound(ErrorCode.BUSY_SOURCE_NOT_FOUND, 'Busy source not found.');
    await this.db.deleteFrom('busy_intervals').where('provider_id', '=', providerId).where('source_id', '=', sourceId).execute();
    for (let i = 0; i < rows.length; i += INTERVAL_CHUNK) {
      await this.db.insertInto('busy_intervals').values(rows.slice(i, i + INTERVAL_CHUNK)).execute();
    }
  }

  /**
   * Runs inside a transaction of the caller's, in two steps: the due rows, oldest first (SKIP
   * LOCKED on PostgreSQL, so concurrent claimers take disjoint rows and never wait; SQLite's
   * write lock serialises claimers), then their next_fetch_at moved on. Two steps rather than one
   * UPDATE ... RETURNING because the answer is in the old next_fetch_at's order, which RETURNING
   * cannot give on SQLite (it sees only the new row, not an UPDATE ... FROM's subquery).
   */
  async claimDueBusySources(now: string, until: string, limit: number): Promise<BusySource[]> {
    // SQLite reads a negative LIMIT as none, PostgreSQL refuses it: both claim nothing.
    if (limit < 1) return [];
    const due = await sql<BusySourceRow>`
      SELECT * FROM busy_sources s
      WHERE s.next_fetch_at <= ${now}
      ORDER BY s.next_fetch_at, s.provider_id, s.id
      LIMIT ${limit}
      ${this.dialect.skipLocked('s')}`.execute(this.db);
    for (let i = 0; i < due.rows.length; i += CLAIM_CHUNK) {
      const keys = due.rows.slice(i, i + CLAIM_CHUNK).map((row) => sql`(${row.provider_id}, ${row.id})`);
      await sql`UPDATE busy_sources SET next_fetch_at = ${until} WHERE (provider_id, id) IN (VALUES ${sql.join(keys)})`.execute(this.db);
    }
    return due.rows.map((row) => toBusySource({ ...row, next_fetch_at: until }));
  }

  // -------------------------------------------------------------------------------------------
  // Web sessions and portal links (the portal and admin console): rows keyed by token hashes.

  async getWebSession(idHash: string): Promise<WebSession | null> {
    const row = await this.db.selectFrom('web_sessions').selectAll().where('id_hash', '=', idHash).executeTakeFirst();
    return row === undefined ? null : toWebSession(row);
  }

  async putWebSession(session: WebSession): Promise<void> {
    await this.db.insertInto('web_sessions').values(fromWebSession(session)).execute();
  }

  async revokeWebSession(idHash: string, at: string): Promise<boolean> {
    const result = await this.db.updateTable('web_sessions').set({ revoked_at: at }).where('id_hash', '=', idHash).where('revoked_at', 'is', null).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async putPortalLink(link: PortalLink): Promise<void> {
    await this.db.insertInto('portal_links').values(fromPortalLink(link)).execute();
  }

  // One UPDATE ... RETURNING (SQLite >= 3.35 and PostgreSQL): of two concurrent redeemers, the
  // second's WHERE no longer matches once the first's update is in (on PostgreSQL it re-checks
  // the row after waiting for the first's lock).
  async usePortalLink(tokenHash: string, at: string): Promise<PortalLink | null> {
    const row = await this.db
      .updateTable('portal_links')
      .set({ used_at: at })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', at)
      .returningAll()
      .executeTakeFirst();
    return row === undefined ? null : toPortalLink(row);
  }

  // -------------------------------------------------------------------------------------------
  // Push sync (DESIGN.md, "Push sync"). Every query over pending rows repeats PENDING literally
  // so that the database can use the partial index sync_targets_due.

  async getConnection(connectionId: string): Promise<Connection | null> {
    const row = await this.db.selectFrom('connections').selectAll().where('id', '=', connectionId).executeTakeFirst();
    return row === undefined ? null : toConnection(row);
  }

  async listConnections(providerId: string): Promise<Connection[]> {
    const rows = await this.db
      .selectFrom('connections')
      .selectAll()
      .where('provider_id', '=', providerId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toConnection);
  }

  async listAllConnections(statuses?: readonly ConnectionStatus[]): Promise<Connection[]> {
    if (statuses !== undefined && statuses.length === 0) return [];
    let q = this.db.selectFrom('connections').selectAll();
    if (statuses !== undefined) q = q.where('status', 'in', statuses);
    return (await q.orderBy('id').execute()).map(toConnection);
  }

  async putConnection(connection: Connection): Promise<void> {
    await this.db
      .insertInto('connections')
      .values(fromConnection(connection))
      .onConflict((oc) => oc.column('id').doUpdateSet(excludedSet(CONNECTION_COLUMNS, ['id'])))
      .execute();
  }

  async getTarget(targetId: string): Promise<SyncTarget | null> {
    const row = await this.db.selectFrom('sync_targets').selectAll().where('id', '=', targetId).executeTakeFirst();
    return row === undefined ? null : toTarget(row);
  }

  async listTargets(connectionId: string): Promise<SyncTarget[]> {
    const rows = await this.db
      .selectFrom('sync_targets')
      .selectAll()
      .where('connection_id', '=', connectionId)
      .orderBy('session_id')
      .orderBy('id')
      .execute();
    return rows.map(toTarget);
  }

  async deleteTargets(connectionId: string): Promise<void> {
    await this.db.deleteFrom('sync_targets').where('connection_id', '=', connectionId).execute();
  }

  // --- Leaving cleanly (issue 11): cleanups, feed tombstones, offboarding records ---

  async prepareTargetsForRemoval(connectionId: string, at: string): Promise<number> {
    const withEvents = await this.db
      .selectFrom('sync_targets')
      .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
      .where('connection_id', '=', connectionId)
      .where('external_id', 'is not', null)
      .executeTakeFirstOrThrow();
    // Synced as absent: nothing of ours can be there, so nothing to remove.
    await this.db
      .deleteFrom('sync_targets')
      .where('connection_id', '=', connectionId)
      .where('external_id', 'is', null)
      .where('dead_at', 'is', null)
      .where((eb) => eb('generation', '<=', eb.ref('synced_generation')))
      .execute();
    await this.db
      .updateTable('sync_targets')
      .set((eb) => ({ generation: eb('generation', '+', 1), next_attempt_at: at, attempts: 0, dead_at: null, last_error_code: null, updated_at: at }))
      .where('connection_id', '=', connectionId)
      .execute();
    return Number(withEvents.n);
  }

  async listConnectionsInCleanup(): Promise<Connection[]> {
    const rows = await this.db.selectFrom('connections').select(CONNECTION_COLUMNS).where('cleanup', 'is not', null).orderBy('id').execute();
    return rows.map(toConnection);
  }

  async tombstoneFeeds(providerId: string, calendarName: string, at: string): Promise<number> {
    const live = await this.db.selectFrom('feed_tokens').select('token_hash').where('provider_id', '=', providerId).where('revoked_at', 'is', null).execute();
    if (live.length === 0) return 0;
    await this.db
      .insertInto('feed_tombstones')
      .values(live.map((f) => ({ token_hash: f.token_hash, provider_id: providerId, calendar_name: calendarName, since: at })))
      .onConflict((oc) => oc.column('token_hash').doNothing())
      .execute();
    await this.db.updateTable('feed_tokens').set({ revoked_at: at }).where('provider_id', '=', providerId).where('revoked_at', 'is', null).execute();
    return live.length;
  }

  async findFeedTombstone(tokenHash: string): Promise<FeedTombstone | null> {
    const row = await this.db.selectFrom('feed_tombstones').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return row === undefined ? null : toFeedTombstone(row);
  }

  async putOffboarding(offboarding: Offboarding): Promise<void> {
    const row = fromOffboarding(offboarding);
    await this.db
      .insertInto('offboardings')
      .values(row)
      .onConflict((oc) => oc.column('id').doUpdateSet({ mode: row.mode, finished_at: row.finished_at, result: row.result }))
      .execute();
  }

  async getOffboarding(offboardingId: string): Promise<Offboarding | null> {
    const row = await this.db.selectFrom('offboardings').selectAll().where('id', '=', offboardingId).executeTakeFirst();
    return row === undefined ? null : toOffboarding(row);
  }

  async listOffboardings(providerId: string): Promise<Offboarding[]> {
    const rows = await this.db.selectFrom('offboardings').selectAll().where('provider_id', '=', providerId).orderBy('requested_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map(toOffboarding);
  }

  // Connections that still want their provider's changes: needs_reauth ones collect them while
  // paused, so nothing is lost once the grant is renewed.
  async markSessionsDirty(providerId: string, sessionIds: readonly string[], at: string): Promise<number> {
    return this.#markDirty(sql`c.provider_id = ${providerId} AND c.status IN ('active', 'needs_reauth')`, sessionIds, at);
  }

  async markConnectionTargetsDirty(connectionId: string, sessionIds: readonly string[], at: string): Promise<number> {
    return this.#markDirty(sql`c.id = ${connectionId}`, sessionIds, at);
  }

  /**
   * One set-based upsert for every (matching connection, session) pair: creates missing targets
   * (ids made by the database), bumps the generation of existing ones, makes them due at `at` and
   * un-dead. One statement however many sessions, since on PostgreSQL each is a round trip made
   * while the transaction holds its locks.
   */
  async #markDirty(connections: ReturnType<typeof sql>, sessionIds: readonly string[], at: string): Promise<number> {
    // A session named twice is one change, not two generations.
    const unique = [...new Set(sessionIds)];
    if (unique.length === 0) return 0;
    const result = await sql`
      INSERT INTO sync_targets (id, connection_id, provider_id, session_id, generation, synced_generation, attempts,
                                next_attempt_at, created_at, updated_at)
      SELECT ${this.dialect.newUuid()}, c.id, c.provider_id, s.value, 1, 0, 0, ${at}, ${at}, ${at}
      FROM connections c CROSS JOIN ${this.dialect.textValues(unique, 's')}
      WHERE ${connections}
      ON CONFLICT (connection_id, provider_id, session_id) DO UPDATE SET
        generation = sync_targets.generation + 1, next_attempt_at = excluded.next_attempt_at, attempts = 0,
        dead_at = NULL, updated_at = excluded.updated_at`.execute(this.db);
    return Number(result.numAffectedRows ?? 0n);
  }

  async recordTargetSynced(connectionId: string, providerId: string, sessionId: string, result: RecordedSync): Promise<void> {
    const { greatest, least } = this.dialect;
    await this.db
      .insertInto('sync_targets')
      .values({
        id: randomUUID(),
        connection_id: connectionId,
        provider_id: providerId,
        session_id: sessionId,
        generation: 1,
        synced_generation: 1,
        external_id: result.externalId,
        synced_revision: result.syncedRevision,
        attempts: 0,
        next_attempt_at: result.at,
        lease_owner: null,
        lease_until: null,
        last_error_code: null,
        dead_at: null,
        created_at: result.at,
        updated_at: result.at,
      })
      .onConflict((oc) =>
        oc.columns(['connection_id', 'provider_id', 'session_id']).doUpdateSet({
          // MIN(generation) keeps a caller from marking a generation synced it cannot have seen.
          synced_generation: greatest(sql<number>`sync_targets.synced_generation`, least(sql<number>`sync_targets.generation`, sql<number>`${result.generation}`)),
          external_id: sql.ref<never>('excluded.external_id'),
          synced_revision: sql.ref<never>('excluded.synced_revision'),
          attempts: 0,
          dead_at: null,
          last_error_code: null,
          updated_at: sql.ref<never>('excluded.updated_at'),
        }),
      )
      .execute();
  }

  // A target that is not pending gets a new generation, so that the retry has something to do.
  async retryTarget(targetId: string, at: string): Promise<boolean> {
    const result = await this.db
      .updateTable('sync_targets')
      .set({
        dead_at: null,
        attempts: 0,
        next_attempt_at: at,
        updated_at: at,
        generation: sql<number>`CASE WHEN generation > synced_generation THEN generation ELSE synced_generation + 1 END`,
      })
      .where('id', '=', targetId)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Runs inside a transaction of the caller's, in two steps. First the connections: up to
   * connectionLimit active ones with due work whose lease is free, expired or the owner's
   * (renewed), the owner's first; SKIP LOCKED lets concurrent claimers on PostgreSQL pass each
   * other's rows by, so they split the accounts between them. Then the targets, only of accounts
   * the owner holds: another worker's account is never worked twice at once, which keeps pacing
   * and token refresh in one process.
   */
  async claimTargets({ owner, now, leaseUntil, limit, connectionLimit = 4 }: ClaimOptions): Promise<SyncTarget[]> {
    await sql`
      UPDATE connections SET lease_owner = ${owner}, lease_until = ${leaseUntil}
      WHERE id IN (
        SELECT c.id FROM connections c
        WHERE c.status = 'active' AND (c.lease_owner IS NULL OR c.lease_until < ${now} OR c.lease_owner = ${owner})
          AND EXISTS (
            SELECT 1 FROM sync_targets t
            WHERE t.connection_id = c.id AND ${PENDING} AND t.next_attempt_at <= ${now}
              AND (t.lease_until IS NULL OR t.lease_until < ${now})
          )
        ORDER BY CASE WHEN c.lease_owner = ${owner} THEN 0 ELSE 1 END, c.id
        LIMIT ${connectionLimit}
        ${this.dialect.skipLocked('c')}
      )`.execute(this.db);
    const result = await sql<TargetRow>`
      UPDATE sync_targets SET lease_owner = ${owner}, lease_until = ${leaseUntil}
      WHERE id IN (
        SELECT t.id FROM sync_targets t ${this.dialect.claimJoin} connections c ON c.id = t.connection_id
        WHERE ${PENDING} AND t.next_attempt_at <= ${now} AND (t.lease_until IS NULL OR t.lease_until < ${now})
          AND c.status = 'active' AND c.lease_owner = ${owner} AND c.lease_until >= ${now}
        ORDER BY t.next_attempt_at, t.id
        LIMIT ${limit}
        ${this.dialect.skipLocked('t')}
      )
      RETURNING *`.execute(this.db);
    // RETURNING gives rows in no promised order.
    return result.rows.map(toTarget).sort((a, b) => compareText(a.nextAttemptAt, b.nextAttemptAt) || compareText(a.id, b.id));
  }

  async renewLeases(owner: string, now: string, leaseUntil: string): Promise<void> {
    await this.db.updateTable('connections').set({ lease_until: leaseUntil }).where('lease_owner', '=', owner).where('lease_until', '>=', now).execute();
    await this.db.updateTable('sync_targets').set({ lease_until: leaseUntil }).where('lease_owner', '=', owner).where('lease_until', '>=', now).execute();
  }

  async releaseIdleConnections(owner: string): Promise<void> {
    await sql`
      UPDATE connections SET lease_owner = NULL, lease_until = NULL
      WHERE lease_owner = ${owner}
        AND NOT EXISTS (SELECT 1 FROM sync_targets t WHERE t.connection_id = connections.id AND ${PENDING})`.execute(this.db);
  }

  async leaseConnection(connectionId: string, owner: string, now: string, leaseUntil: string): Promise<boolean> {
    const result = await this.db
      .updateTable('connections')
      .set({ lease_owner: owner, lease_until: leaseUntil })
      .where('id', '=', connectionId)
      .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_until', '<', now), eb('lease_owner', '=', owner)]))
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async releaseLeases(owner: string): Promise<void> {
    await this.db.updateTable('connections').set({ lease_owner: null, lease_until: null }).where('lease_owner', '=', owner).execute();
    await this.db.updateTable('sync_targets').set({ lease_owner: null, lease_until: null }).where('lease_owner', '=', owner).execute();
  }

  // Runs inside a transaction of the caller's: the completion and lastSyncedAt land together.
  async completeTarget(targetId: string, owner: string, result: TargetSyncedResult): Promise<boolean> {
    const { greatest, least } = this.dialect;
    const row = await this.db
      .updateTable('sync_targets')
      .set({
        synced_generation: greatest(sql<number>`synced_generation`, least(sql<number>`${result.generation}`, sql<number>`generation`)),
        external_id: result.externalId,
        synced_revision: result.syncedRevision,
        attempts: 0,
        last_error_code: null,
        lease_owner: null,
        lease_until: null,
        updated_at: result.at,
      })
      .where('id', '=', targetId)
      .where('lease_owner', '=', owner)
      .returning('connection_id')
      .executeTakeFirst();
    if (row === undefined) return false;
    await this.db.updateTable('connections').set({ last_synced_at: result.at }).where('id', '=', row.connection_id).execute();
    return true;
  }

  async failTarget(targetId: string, owner: string, result: TargetFailedResult): Promise<boolean> {
    const updated = await this.db
      .updateTable('sync_targets')
      .set((eb) => ({
        attempts: eb('attempts', '+', 1),
        last_error_code: result.errorCode,
        next_attempt_at: result.nextAttemptAt,
        ...(result.dead ? { dead_at: result.at } : {}),
        lease_owner: null,
        lease_until: null,
        updated_at: result.at,
      }))
      .where('id', '=', targetId)
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return updated.numUpdatedRows > 0n;
  }

  async releaseTarget(targetId: string, owner: string, nextAttemptAt: string): Promise<void> {
    await this.db
      .updateTable('sync_targets')
      .set({ lease_owner: null, lease_until: null, next_attempt_at: nextAttemptAt })
      .where('id', '=', targetId)
      .where('lease_owner', '=', owner)
      .execute();
  }

  // A target leased by another worker becomes claimable when its lease ends, not before: waking
  // at its nextAttemptAt would only find it taken (and spin while the lease lasts). The same holds
  // for an account another owner holds.
  async nextDueAt(owner?: string): Promise<string | null> {
    const { greatest } = this.dialect;
    const targetDue = greatest(sql<string>`t.next_attempt_at`, sql<string>`COALESCE(t.lease_until, t.next_attempt_at)`);
    const due =
      owner === undefined
        ? targetDue
        : greatest(targetDue, sql<string>`CASE WHEN c.lease_owner IS NOT NULL AND c.lease_owner <> ${owner} THEN COALESCE(c.lease_until, t.next_attempt_at) ELSE t.next_attempt_at END`);
    const result = await sql<{ due: string | null }>`
      SELECT MIN(${due}) AS due
      FROM sync_targets t ${this.dialect.claimJoin} connections c ON c.id = t.connection_id
      WHERE ${PENDING} AND c.status = 'active'`.execute(this.db);
    return result.rows[0]?.due ?? null;
  }

  async targetCounts(connectionId: string): Promise<{ pending: number; dead: number }> {
    const result = await sql<{ pending: unknown; dead: unknown }>`
      SELECT count(*) FILTER (WHERE ${PENDING}) AS pending, count(*) FILTER (WHERE t.dead_at IS NOT NULL) AS dead
      FROM sync_targets t WHERE t.connection_id = ${connectionId}`.execute(this.db);
    const row = result.rows[0];
    return { pending: toCount(row?.pending), dead: toCount(row?.dead) };
  }

  // The counts describe the rows as they are; `now` is not needed by this adapter.
  async syncHealth(_now: string): Promise<SyncHealth> {
    const totals = await sql<Record<'pending' | 'retrying' | 'dead' | 'synced', unknown>>`
      SELECT
        count(*) FILTER (WHERE ${PENDING} AND t.attempts = 0) AS pending,
        count(*) FILTER (WHERE ${PENDING} AND t.attempts > 0) AS retrying,
        count(*) FILTER (WHERE t.dead_at IS NOT NULL) AS dead,
        count(*) FILTER (WHERE t.generation <= t.synced_generation AND t.dead_at IS NULL) AS synced
      FROM sync_targets t`.execute(this.db);
    const oldest = await sql<{ since: string | null }>`SELECT MIN(t.updated_at) AS since FROM sync_targets t WHERE ${PENDING}`.execute(this.db);
    const reauth = await this.db
      .selectFrom('connections')
      .select(['id', 'provider_id', 'kind'])
      .where('status', '=', 'needs_reauth')
      .orderBy('id')
      .execute();
    const dead = await this.db
      .selectFrom('sync_targets')
      .select(['id', 'connection_id', 'session_id', 'last_error_code', 'dead_at'])
      .where('dead_at', 'is not', null)
      .orderBy('dead_at', 'desc')
      .orderBy('id')
      .limit(DEAD_TARGETS_LISTED)
      .execute();
    const t = totals.rows[0];
    return {
      targets: { pending: toCount(t?.pending), synced: toCount(t?.synced), dead: toCount(t?.dead), retrying: toCount(t?.retrying) },
      connectionsNeedingReauth: reauth.map((row) => ({ id: row.id, providerId: row.provider_id, kind: row.kind })),
      oldestPendingSince: oldest.rows[0]?.since ?? null,
      deadTargets: dead.map((row) => ({
        id: row.id,
        connectionId: row.connection_id,
        sessionId: row.session_id,
        lastErrorCode: row.last_error_code,
        deadAt: row.dead_at ?? '',
      })),
    };
  }

  async getJob(jobId: string): Promise<ResyncJob | null> {
    const row = await this.db.selectFrom('resync_jobs').selectAll().where('id', '=', jobId).executeTakeFirst();
    return row === undefined ? null : toJob(row);
  }

  async putJob(job: ResyncJob): Promise<void> {
    await this.db
      .insertInto('resync_jobs')
      .values(fromJob(job))
      .onConflict((oc) => oc.column('id').doUpdateSet(excludedSet(JOB_COLUMNS, ['id'])))
      .execute();
  }

  // A queued job is leased too: between claimJob and the runner marking it running, a second
  // runner must not take it.
  async claimJob({ owner, now, leaseUntil }: Omit<ClaimOptions, 'limit'>): Promise<ResyncJob | null> {
    const result = await sql<Parameters<typeof toJob>[0]>`
      UPDATE resync_jobs SET lease_owner = ${owner}, lease_until = ${leaseUntil}
      WHERE id = (
        SELECT j.id FROM resync_jobs j
        WHERE j.status IN ('queued', 'running') AND (j.lease_until IS NULL OR j.lease_until < ${now})
        ORDER BY j.created_at, j.id
        LIMIT 1
        ${this.dialect.skipLocked('j')}
      )
      RETURNING *`.execute(this.db);
    const row = result.rows[0];
    return row === undefined ? null : toJob(row);
  }

  async appendAudit(entry: Omit<AuditEntry, 'id'>): Promise<void> {
    await this.db
      .insertInto('audit_log')
      .values({ at: entry.at, actor: entry.actor, action: entry.action, target: entry.target, details: JSON.stringify(entry.details) })
      .execute();
  }

  async listAudit({ limit, beforeId }: AuditQuery): Promise<AuditEntry[]> {
    let q = this.db.selectFrom('audit_log').selectAll();
    if (beforeId !== undefined) q = q.where('id', '<', beforeId);
    return (await q.orderBy('id', 'desc').limit(limit).execute()).map(toAudit);
  }

  // -------------------------------------------------------------------------------------------
  // Settings and sealed values (key rotation, the stored join-link key). Sealed values are
  // swapped by compare-and-set on the value read, never by an upsert of the row.

  async getSetting(name: string): Promise<string | null> {
    const row = await this.db.selectFrom('settings').select('value').where('name', '=', name).executeTakeFirst();
    return row?.value ?? null;
  }

  async putSettingIfAbsent(name: string, value: string, at: string): Promise<string> {
    // A racing insert of the same name waits on the primary key and then does nothing; the read
    // after it sees whichever value committed first.
    await this.db
      .insertInto('settings')
      .values({ name, value, updated_at: at })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const stored = await this.getSetting(name);
    if (stored === null) throw new Error(`setting ${name} was neither inserted nor found`);
    return stored;
  }

  async compareAndSetSetting(name: string, expected: string, value: string, at: string): Promise<boolean> {
    const result = await this.db.updateTable('settings').set({ value, updated_at: at }).where('name', '=', name).where('value', '=', expected).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async listSealedValues(kind: SealedValueKind, after: SealedValue | null, limit: number): Promise<SealedValue[]> {
    if (after !== null && after.kind !== kind) throw new RangeError(`listSealedValues(${kind}) was given a ${after.kind} cursor`);
    switch (kind) {
      case 'connection-tokens':
      case 'pkce-verifier': {
        const column = CONNECTION_SEALED_COLUMN[kind];
        let q = this.db.selectFrom('connections').select(['id', `${column} as sealed`]).where(column, 'is not', null);
        if (after !== null && after.kind !== 'busy-source-url') q = q.where('id', '>', after.connectionId);
        const rows = await q.orderBy('id').limit(limit).execute();
        return rows.flatMap((r) => (r.sealed === null ? [] : [{ kind, connectionId: r.id, sealed: r.sealed }]));
      }
      case 'busy-source-url': {
        let q = this.db.selectFrom('busy_sources').select(['provider_id', 'id', 'url_sealed']).where('url_sealed', 'is not', null);
        if (after !== null && after.kind === 'busy-source-url') {
          const { providerId, sourceId } = after;
          q = q.where((eb) => eb.or([eb('provider_id', '>', providerId), eb.and([eb('provider_id', '=', providerId), eb('id', '>', sourceId)])]));
        }
        const rows = await q.orderBy('provider_id').orderBy('id').limit(limit).execute();
        return rows.flatMap((r) => (r.url_sealed === null ? [] : [{ kind, providerId: r.provider_id, sourceId: r.id, sealed: r.url_sealed }]));
      }
      default: {
        const unknown: never = kind;
        throw new Error(`unknown sealed value kind ${String(unknown)}`);
      }
    }
  }

  async compareAndSetSealedValues(changes: readonly SealedValueChange[]): Promise<boolean[]> {
    const applied: boolean[] = [];
    for (const { value, next } of changes) {
      let result;
      switch (value.kind) {
        case 'connection-tokens':
        case 'pkce-verifier': {
          const column = CONNECTION_SEALED_COLUMN[value.kind];
          result = await this.db
            .updateTable('connections')
            .set({ [column]: next })
            .where('id', '=', value.connectionId)
            .where(column, '=', value.sealed)
            .executeTakeFirst();
          break;
        }
        case 'busy-source-url':
          result = await this.db
            .updateTable('busy_sources')
            .set({ url_sealed: next })
            .where('provider_id', '=', value.providerId)
            .where('id', '=', value.sourceId)
            .where('url_sealed', '=', value.sealed)
            .executeTakeFirst();
          break;
        default: {
          const unknown: never = value;
          throw new Error(`unknown sealed value ${String(unknown)}`);
        }
      }
      applied.push(Number(result.numUpdatedRows) > 0);
    }
    return applied;
  }
}

/** The connections column each connection-held kind of sealed value lives in. */
const CONNECTION_SEALED_COLUMN = { 'connection-tokens': 'sealed_tokens', 'pkce-verifier': 'pending_sealed_verifier' } as const;

/** count(*) comes back as a number from SQLite and as int8 text from pg. */
function toCount(value: unknown): number {
  return value === undefined || value === null ? 0 : Number(value);
}

function truncateUserAgent(userAgent: string | null): string | null {
  if (userAgent === null || userAgent.length <= MAX_USER_AGENT_LENGTH) return userAgent;
  const cut = userAgent.slice(0, MAX_USER_AGENT_LENGTH);
  // Never keep half of a surrogate pair: it is not valid UTF-8 once stored.
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}
