import type { SyncStoreLeases, SyncStoreReader, SyncStoreWriter } from './sync-ports.js';
import type { BusySource, StoredBusyInterval } from './busy-source.js';
import type { BusyInterval } from './busy.js';
import type { FeedToken, Location, Provider, Session, SessionStatus } from './types.js';
import type { PortalLink, WebSession } from './web-session.js';

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

/** What a feed poll needs to know to answer from a cached body: which feed, whose, which revision. */
export interface FeedRevision {
  feedId: string;
  providerId: string;
  /**
   * The provider's createdAt: with feedRevision it names one rendering, since a provider deleted
   * and created again under the same id counts its revisions from 0 again.
   */
  providerCreatedAt: string;
  feedRevision: number;
}

/**
 * What decides a session's rendered event besides its provider and location (whose changes
 * refresh eventFingerprint): while these are equal, its VEVENT is byte-identical.
 */
export type SessionVersion = Pick<Session, 'id' | 'eventFingerprint' | 'sequence' | 'lastModified' | 'createdAt'>;

/** Reads. Every list is ordered deterministically (sessions by start, then id; others by id). */
export interface StoreReader extends SyncStoreReader, SecretsStoreReader {
  getProvider(providerId: string): Promise<Provider | null>;
  listLocations(providerId: string): Promise<Location[]>;
  getLocation(providerId: string, locationId: string): Promise<Location | null>;
  getSession(providerId: string, sessionId: string): Promise<Session | null>;
  /** Sessions of one provider matching every given filter, ordered by start then id. */
  listSessions(providerId: string, query?: SessionQuery): Promise<Session[]>;
  /**
   * The versions of the provider's scheduled sessions that end after endAfter and start before
   * startBefore, ordered by start then id: what a feed needs to tell which cached events still hold.
   */
  listSessionVersions(providerId: string, window: { endAfter: string; startBefore: string }): Promise<SessionVersion[]>;
  /**
   * The provider's sessions written after its feed revision `since` (every status, any time:
   * moved out of a feed's window and cancelled ones too), by start then id, and its count of
   * deleted sessions, both as of one moment: a feed cached at `since` plus these changes is
   * current, if no session was deleted since it read that count (see sessionDeletions).
   */
  listSessionChanges(providerId: string, since: number): Promise<{ changed: Session[]; deletions: number }>;
  /** How many of the provider's sessions were ever deleted (0 for an unknown provider). */
  sessionDeletions(providerId: string): Promise<number>;
  /** The provider's sessions with these ids (those that exist), ordered by start then id. */
  getSessions(providerId: string, sessionIds: readonly string[]): Promise<Session[]>;
  listFeeds(providerId: string): Promise<FeedToken[]>;
  /**
   * The unrevoked feed with this token hash, its provider and the provider's feedRevision, or
   * null (unknown and revoked alike): one indexed query, asked on every poll it cannot skip.
   */
  findFeedRevision(tokenHash: string): Promise<FeedRevision | null>;
  /** findFeedRevision for many token hashes in one query: the answers by token hash (unknown and revoked absent). */
  findFeedRevisions(tokenHashes: readonly string[]): Promise<Map<string, FeedRevision>>;
  /** The provider's busy sources, by id. */
  listBusySources(providerId: string): Promise<BusySource[]>;
  getBusySource(providerId: string, sourceId: string): Promise<BusySource | null>;
  /** The provider's stored busy intervals that overlap [from, to) (end > from, start < to), by start, then sourceId, then end. */
  listBusyIntervals(providerId: string, from: string, to: string): Promise<StoredBusyInterval[]>;
  /** The session whose join token hashes to this, or null (unknown, or its session deleted). */
  findJoinSession(tokenHash: string): Promise<{ providerId: string; sessionId: string } | null>;
  /** Ids of the provider's sessions whose join token hash is not stored yet, by id. */
  listSessionsWithoutJoinToken(providerId: string): Promise<string[]>;
  /** The web session with this id hash, revoked and expired ones included (the caller judges), or null. */
  getWebSession(idHash: string): Promise<WebSession | null>;
}

/** Writes; only reachable inside Store.transaction so that related rows change together. */
export interface StoreWriter extends SyncStoreWriter, SecretsStoreWriter {
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
  /** Stores each session's join token hash where none is stored yet (a stored one is never replaced). */
  setJoinTokenHashes(providerId: string, entries: readonly { sessionId: string; tokenHash: string }[]): Promise<void>;
  putFeed(feed: FeedToken): Promise<void>;
  /** Sets revokedAt on an unrevoked feed of this provider; false when none matched. */
  revokeFeed(providerId: string, feedId: string, at: string): Promise<boolean>;
  /** Atomically increments the provider's feedRevision and returns the new value. */
  bumpFeedRevision(providerId: string, at: string): Promise<number>;
  /** Insert or replace by (providerId, id). */
  putBusySource(source: BusySource): Promise<void>;
  /** Removes the source and every interval read from it; false when it did not exist. */
  deleteBusySource(providerId: string, sourceId: string): Promise<boolean>;
  /** Replaces every interval stored for the source with these (start < end, ISO UTC instants). */
  replaceBusyIntervals(providerId: string, sourceId: string, intervals: readonly BusyInterval[]): Promise<void>;
  /** Inserts a new web session (an id hash is never reused). */
  putWebSession(session: WebSession): Promise<void>;
  /** Sets revokedAt on an unrevoked session; false when none matched. */
  revokeWebSession(idHash: string, at: string): Promise<boolean>;
  /** Inserts a new portal link. */
  putPortalLink(link: PortalLink): Promise<void>;
  /**
   * Marks the link used at `at` if it is unused and expires after `at`, in one statement (two
   * redeemers of one link: exactly one gets it); the link as used, or null (unknown, used, expired).
   */
  usePortalLink(tokenHash: string, at: string): Promise<PortalLink | null>;
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
  /**
   * Calls listener after a committed transaction moved providers' feed revisions
   * (bumpFeedRevision, putProvider), with their ids: this process's own once the commit is final
   * (on PostgreSQL, after the feed fence settled) and, on PostgreSQL while this process listens
   * (see feedLookupEpoch), other processes' as the fence hears them, when the notification could
   * name them (not past ~7,000 characters of ids). Returns the unsubscribe function.
   */
  onFeedsChanged(listener: (providerIds: ReadonlySet<string>) => void): () => void;
  /**
   * Claims up to `limit` busy sources (both kinds, ics and connection) whose nextFetchAt is at or before `now`,
   * oldest due first: moves their nextFetchAt to `until` in the same statement, so another
   * process (or a worker that crashed holding them) gets them only once `until` passes.
   */
  claimDueBusySources(now: string, until: string, limit: number): Promise<BusySource[]>;
  /** Up to `limit` providers whose id or name contains `text` (case-insensitive for ASCII), by id. */
  searchProviders(text: string, limit: number): Promise<Provider[]>;
  /** Best-effort fetch bookkeeping of `count` polls (default 1), outside any transaction; never affects the feed revision. */
  recordFeedFetch(feedId: string, at: string, userAgent: string | null, count?: number): Promise<void>;
  /**
   * A number that changes whenever a commit may have changed what findFeedRevision answers for
   * some token (a feed revoked, a provider's revision bumped, a provider written or deleted), so
   * that a caller may keep answers while it stays the same; null when the store cannot tell
   * without a query. On PostgreSQL, where other processes commit, it is the feed fence's
   * (src/store/feed-fence.ts): null until this process listens and holds its lease (the first call
   * starts that) and whenever it does not, and a commit elsewhere moves it before that commit's
   * writer has returned.
   */
  feedLookupEpoch(): number | null;
  /**
   * Like feedLookupEpoch, but moving only on commits that may change which feed and provider a
   * token names (a feed revoked or tombstoned, a provider deleted), not on revision bumps: while it
   * stays the same, a kept answer of findFeedRevision holds but for its feedRevision, which the
   * provider's row tells. On PostgreSQL it is feedLookupEpoch (the fence tells no kinds apart).
   */
  feedTokenEpoch(): number | null;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** This process's database connections: total, idle, and callers waiting for one. */
  poolStats(): PoolStats;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Settings and sealed values: what key rotation (npm run rotate-keys) and the stored join-link key
// need. The store never opens a sealed value; it lists them and swaps them by compare-and-set.

/** The columns that hold values sealed by the SecretBox, each opened under its own context. */
export type SealedValueKind = 'connection-tokens' | 'pkce-verifier' | 'busy-source-url';

/** One stored sealed value and the row it lives in. */
export type SealedValue =
  | { kind: 'connection-tokens' | 'pkce-verifier'; connectionId: string; sealed: string }
  | { kind: 'busy-source-url'; providerId: string; sourceId: string; sealed: string };

/** Replace `value.sealed` (as it was read) with `next`. */
export interface SealedValueChange {
  value: SealedValue;
  next: string;
}

export interface SecretsStoreReader {
  /** The stored value of the setting, or null when none is stored. */
  getSetting(name: string): Promise<string | null>;
  /**
   * Up to `limit` non-null values of this kind whose row comes after `after` (null: from the
   * start), in row-key order (connection id; provider id, then source id): pages that together
   * visit every row that exists throughout, once.
   */
  listSealedValues(kind: SealedValueKind, after: SealedValue | null, limit: number): Promise<SealedValue[]>;
}

export interface SecretsStoreWriter {
  /**
   * Stores the setting unless one is stored already, and returns the value stored after this
   * call: two writers racing agree on the first one's value.
   */
  putSettingIfAbsent(name: string, value: string, at: string): Promise<string>;
  /** Sets the setting to `value` only if it is `expected` now; whether it did. */
  compareAndSetSetting(name: string, expected: string, value: string, at: string): Promise<boolean>;
  /**
   * Each change is applied only if its row still holds `value.sealed` (compare-and-set), so a value
   * written meanwhile (a token refresh) is never overwritten; per change, whether it was applied.
   * Rows' other columns (updated_at included) are left as they are.
   */
  compareAndSetSealedValues(changes: readonly SealedValueChange[]): Promise<boolean[]>;
}
