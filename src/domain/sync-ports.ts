import type { AuditEntry, Connection, FeedTombstone, Offboarding, ResyncJob, SyncHealth, SyncTarget } from './sync-types.js';

// The push-sync part of the Store port (issue 3); StoreReader, StoreWriter and Store extend these.

/** Reads of push-sync state. */
export interface SyncStoreReader {
  getConnection(connectionId: string): Promise<Connection | null>;
  /** Connections of one provider (all statuses), ordered by createdAt then id. */
  listConnections(providerId: string): Promise<Connection[]>;
  /** Every connection, optionally only those with one of the given statuses, ordered by id. */
  listAllConnections(statuses?: readonly Connection['status'][]): Promise<Connection[]>;
  listTargets(connectionId: string): Promise<SyncTarget[]>;
  getTarget(targetId: string): Promise<SyncTarget | null>;
  getJob(jobId: string): Promise<ResyncJob | null>;
  listAudit(options: { limit: number; beforeId?: number }): Promise<AuditEntry[]>;
  syncHealth(now: string): Promise<SyncHealth>;
  /** Pending counts per connection: { pending, dead }. */
  targetCounts(connectionId: string): Promise<{ pending: number; dead: number }>;
  /** Connections whose cleanup is under way (Connection.cleanup set), ordered by id. */
  listConnectionsInCleanup(): Promise<Connection[]>;
  getOffboarding(offboardingId: string): Promise<Offboarding | null>;
  /** A provider's offboardings, newest first. */
  listOffboardings(providerId: string): Promise<Offboarding[]>;
  /** The tombstone of a feed token (SHA-256 hex), or null. */
  findFeedTombstone(tokenHash: string): Promise<FeedTombstone | null>;
}

/** Writes of push-sync state; only inside Store.transaction. */
export interface SyncStoreWriter {
  putConnection(connection: Connection): Promise<void>;
  /**
   * Marks the events of these sessions dirty in every active or needs_reauth connection of the
   * provider: creates missing targets, bumps generation, makes them due at `at` and un-dead.
   * Called in the same transaction as the session change. Returns the number of targets touched.
   */
  markSessionsDirty(providerId: string, sessionIds: readonly string[], at: string): Promise<number>;
  /** Same as markSessionsDirty, for one connection only (initial sync, resync repairs). */
  markConnectionTargetsDirty(connectionId: string, sessionIds: readonly string[], at: string): Promise<number>;
  deleteTargets(connectionId: string): Promise<void>;
  /**
   * Prepares a connection's targets for the removal of our events: those that may have an event
   * (an id recorded, pending, or dead) become due now at a new generation, the others (synced as
   * absent) go. Returns how many had an event id recorded.
   */
  prepareTargetsForRemoval(connectionId: string, at: string): Promise<number>;
  /**
   * Tombstones the provider's live feeds: each token's hash goes to feed_tombstones with the
   * calendar's name, and the feed rows are revoked. Returns how many.
   */
  tombstoneFeeds(providerId: string, calendarName: string, at: string): Promise<number>;
  putOffboarding(offboarding: Offboarding): Promise<void>;
  /**
   * Records that a resync wrote (or removed) this session's event directly, from the state it read
   * when the target was at `generation` (0 when it had none): creates the target if missing, else
   * marks that generation synced. A change marked after that read stays pending for the worker.
   */
  recordTargetSynced(
    connectionId: string,
    providerId: string,
    sessionId: string,
    result: { generation: number; externalId: string | null; syncedRevision: string | null; at: string },
  ): Promise<void>;
  putJob(job: ResyncJob): Promise<void>;
  appendAudit(entry: Omit<AuditEntry, 'id'>): Promise<void>;
  /** Admin retry of a dead-lettered target: un-dead, attempts 0, due now. False if unknown. */
  retryTarget(targetId: string, at: string): Promise<boolean>;
}

export interface ClaimOptions {
  owner: string;
  now: string;
  leaseUntil: string;
  limit: number;
  /** Most calendar accounts (connections) one claim newly leases (default 4), so workers share them. */
  connectionLimit?: number;
}

/** Lease-based work claiming, each call its own short transaction. */
export interface SyncStoreLeases {
  /**
   * Leases up to `connectionLimit` active connections with due work whose lease is free, expired
   * or already the owner's (renewing it), then up to `limit` due targets (pending or retrying,
   * nextAttemptAt <= now, not dead, lease free or expired) of the connections the owner holds,
   * oldest due first. Two workers never get the same target, and never work one account at once.
   */
  claimTargets(options: ClaimOptions): Promise<SyncTarget[]>;
  /** Extends every unexpired lease of this owner (connections and targets) to leaseUntil. */
  renewLeases(owner: string, now: string, leaseUntil: string): Promise<void>;
  /** Gives back every lease of this owner, untouched otherwise (a worker that stops). */
  releaseLeases(owner: string): Promise<void>;
  /** Gives back this owner's accounts that have nothing pending (a worker that went idle). */
  releaseIdleConnections(owner: string): Promise<void>;
  /**
   * Leases one account for work outside claims (a resync): true when it was free, expired or the
   * owner's already; false while another owner holds it.
   */
  leaseConnection(connectionId: string, owner: string, now: string, leaseUntil: string): Promise<boolean>;
  /**
   * Records a successful write done under a lease: syncedGeneration = generation seen, externalId
   * and revision stored, attempts reset, the connection's lastSyncedAt set. False (and nothing
   * written) when the lease was lost.
   */
  completeTarget(
    targetId: string,
    owner: string,
    result: { generation: number; externalId: string | null; syncedRevision: string | null; at: string },
  ): Promise<boolean>;
  /** Records a failed attempt under a lease: retry at nextAttemptAt, or dead-letter when dead. */
  failTarget(targetId: string, owner: string, result: { errorCode: string; nextAttemptAt: string; dead: boolean; at: string }): Promise<boolean>;
  /** Gives a lease back untouched (e.g. the connection needs reauth): due again at `nextAttemptAt`. */
  releaseTarget(targetId: string, owner: string, nextAttemptAt: string): Promise<void>;
  /**
   * When the next pending target of an active connection becomes claimable (its nextAttemptAt,
   * or its lease's end), or null when none is pending. With an owner, targets of accounts another
   * worker holds count from the end of that lease: this owner cannot claim them before.
   */
  nextDueAt(owner?: string): Promise<string | null>;
  /** Leases the oldest queued job, or a running one whose lease expired (a crashed worker's). */
  claimJob(options: Omit<ClaimOptions, 'limit'>): Promise<ResyncJob | null>;
}
