import type { SyncStoreLeases, SyncStoreReader, SyncStoreWriter } from './sync-ports.js';
import type { FeedToken, Location, Provider, Session, SessionStatus } from './types.js';

/** Source of "now"; injected so that tests and renders never read the real clock. */
export interface Clock {
  now(): Date;
}

export interface SessionQuery {
  /** Sessions that end after this instant (ISO UTC). */
  endAfter?: string;
  /** Sessions that start before this instant (ISO UTC). */
  startBefore?: string;
  status?: SessionStatus;
  locationId?: string;
  seriesId?: string;
}

export interface ActiveFeed {
  feed: FeedToken;
  provider: Provider;
}

/** Reads. Every list is ordered deterministically (sessions by start, then id; others by id). */
export interface StoreReader extends SyncStoreReader {
  getProvider(providerId: string): Promise<Provider | null>;
  listLocations(providerId: string): Promise<Location[]>;
  getLocation(providerId: string, locationId: string): Promise<Location | null>;
  getSession(providerId: string, sessionId: string): Promise<Session | null>;
  /** Sessions of one provider matching every given filter, ordered by start then id. */
  listSessions(providerId: string, query?: SessionQuery): Promise<Session[]>;
  listFeeds(providerId: string): Promise<FeedToken[]>;
  /** The unrevoked feed with this token hash and its provider, or null (unknown and revoked alike). */
  findActiveFeed(tokenHash: string): Promise<ActiveFeed | null>;
}

/** Writes; only reachable inside Store.transaction so that related rows change together. */
export interface StoreWriter extends SyncStoreWriter {
  /**
   * Serialises this transaction with every other that locks the same provider, until it ends.
   * Take it first in every transaction that reads a provider's rows to decide what to write
   * (the overlap guard, a location still in use, an idempotent upsert).
   */
  lockProvider(providerId: string): Promise<void>;
  /** The same for one calendar connection (OAuth state, tokens, status changes). */
  lockConnection(connectionId: string): Promise<void>;
  /** Insert or replace by id (feedRevision is written as given). */
  putProvider(provider: Provider): Promise<void>;
  /** Removes the provider with its locations, sessions and feeds; false when it did not exist. */
  deleteProvider(providerId: string): Promise<boolean>;
  putLocation(location: Location): Promise<void>;
  deleteLocation(providerId: string, locationId: string): Promise<boolean>;
  putSession(session: Session): Promise<void>;
  /** putSession for many at once: a few set-based statements rather than one per session. */
  putSessions(sessions: readonly Session[]): Promise<void>;
  deleteSession(providerId: string, sessionId: string): Promise<boolean>;
  putFeed(feed: FeedToken): Promise<void>;
  /** Sets revokedAt on an unrevoked feed of this provider; false when none matched. */
  revokeFeed(providerId: string, feedId: string, at: string): Promise<boolean>;
  /** Atomically increments the provider's feedRevision and returns the new value. */
  bumpFeedRevision(providerId: string, at: string): Promise<number>;
}

export interface StoreTx extends StoreReader, StoreWriter {}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** Work a background runner waits for: push targets made due, or resync jobs queued. */
export type WorkKind = 'sync' | 'jobs';

export interface Store extends StoreReader, SyncStoreLeases {
  /**
   * Runs fn in one transaction: all its writes land or none do. On SQLite transactions never
   * interleave. On PostgreSQL they run READ COMMITTED: a read-check-write is race-free for what
   * fn locked first (tx.lockProvider, tx.lockConnection), and every statement sees what others
   * committed before it. A deadlock or serialization failure is retried (a few times, then 503
   * SERVICE_UNAVAILABLE), so fn may run more than once and must do nothing but work through its tx.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /**
   * Calls listener after a committed transaction queued work of this kind (targets marked dirty or
   * retried: 'sync'; a job queued: 'jobs'), in this process or, on PostgreSQL, in any process on
   * the database. Calls may be spurious (after a reconnect, every kind is signalled once); returns
   * the unsubscribe function.
   */
  onWork(kind: WorkKind, listener: () => void): () => void;
  /** Best-effort fetch bookkeeping of `count` polls (default 1), outside any transaction; never affects the feed revision. */
  recordFeedFetch(feedId: string, at: string, userAgent: string | null, count?: number): Promise<void>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** This process's database connections: total, idle, and callers waiting for one. */
  poolStats(): PoolStats;
  close(): Promise<void>;
}
