import { randomUUID } from 'node:crypto';
import type { SecretBox } from '../crypto/secret-box.js';
import { SyncError, eventTagKey, idempotencyKeyFor } from '../domain/index.js';
import type { CalendarConnector, Clock, Connection, ConnectionKind, JoinLinks, OAuthProvider, Store, SyncTarget } from '../domain/index.js';
import { loggableError, type Logger } from '../logger.js';
import { connectorSession, markNeedsReauth, openTokens } from './connection-tokens.js';
import { cleanupsDue, finishCleanup, nextCleanupAt } from './calendar-cleanup.js';
import { desiredEventFor } from './desired-event.js';
import { MAX_ATTEMPTS, retryDelayMs } from './retry-policy.js';
import { RateLimiter, type RateLimit } from './rate-limiter.js';
import { withLeaseHeartbeat } from './lease-heartbeat.js';
import { BackgroundRunner } from './waker.js';

// The push-sync worker (DESIGN.md, "Push sync: level-triggered reconciliation"): claims due
// targets under a lease, calls the vendor outside any transaction, records the outcome. A crash
// between the call and the record loses nothing: the lease expires, the target is claimed again
// and the connectors' idempotent writes make the retry land on the same event.

export interface SyncWorkerOptions {
  store: Store;
  connectors: ReadonlyMap<ConnectionKind, CalendarConnector>;
  secrets: SecretBox;
  /** Builds the /j/ links pushed events carry for providers on joinLink 'stable'. */
  joinLinks: JoinLinks;
  clock: Clock;
  logger: Logger;
  /** Sessions that ended more than this many days ago are not pushed (the feed window). */
  pastDays: number;
  owner?: string;
  /**
   * How long a claim holds its targets and accounts (default 15 s), renewed every third of it
   * while the batch runs: a worker killed mid-batch holds up its work for at most this long.
   */
  leaseMs?: number;
  batchSize?: number;
  /** Calendar accounts one claim may newly take (default 4), so that workers share them. */
  connectionsPerClaim?: number;
  /** Requests in flight per connection (Graph allows few per mailbox; Google rate-limits per user). */
  perConnectionConcurrency?: number;
  /** Revokes grants when a cleanup finishes (calendar-cleanup.ts); none configured: recorded as not attempted. */
  oauth?: ReadonlyMap<ConnectionKind, OAuthProvider>;
  /** Pace per connection, by vendor (defaults: DEFAULT_RATE_LIMITS). */
  rateLimits?: Partial<Record<ConnectionKind, RateLimit>>;
  random?: () => number;
  /** Told of every attempt's outcome, by connector. */
  metrics?: { syncOperation(connector: ConnectionKind, outcome: TargetOutcome): void };
}

export type TargetOutcome = 'synced' | 'retry' | 'dead' | 'paused' | 'paced' | 'lost-lease';

const DAY_MS = 86_400_000;

/**
 * Google Calendar allows about 600 requests per minute per user by default; Graph allows 10,000
 * per 10 minutes per mailbox (and 4 concurrent). We stay well inside both.
 */
export const DEFAULT_RATE_LIMITS: Record<ConnectionKind, RateLimit> = {
  google: { perSecond: 5, burst: 20 },
  outlook: { perSecond: 8, burst: 20 },
};

export class SyncWorker extends BackgroundRunner {
  readonly owner: string;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly connectionsPerClaim: number;
  private readonly perConnection: number;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly limiters: Record<ConnectionKind, RateLimiter>;

  constructor(private readonly options: SyncWorkerOptions) {
    super({ store: options.store, kind: 'sync' });
    this.owner = options.owner ?? `worker-${randomUUID()}`;
    this.leaseMs = options.leaseMs ?? 15_000;
    this.batchSize = options.batchSize ?? 50;
    this.connectionsPerClaim = options.connectionsPerClaim ?? 4;
    this.perConnection = options.perConnectionConcurrency ?? 2;
    this.random = options.random ?? Math.random;
    this.limiters = {
      google: new RateLimiter(options.rateLimits?.google ?? DEFAULT_RATE_LIMITS.google),
      outlook: new RateLimiter(options.rateLimits?.outlook ?? DEFAULT_RATE_LIMITS.outlook),
    };
    this.log = options.logger.child({ module: 'sync-worker' });
  }

  /** Claims one batch and processes it; resolves with what happened to each target. */
  async runOnce(): Promise<TargetOutcome[]> {
    const now = this.options.clock.now();
    const targets = await this.options.store.claimTargets({
      owner: this.owner,
      now: now.toISOString(),
      leaseUntil: new Date(now.getTime() + this.leaseMs).toISOString(),
      limit: this.batchSize,
      connectionLimit: this.connectionsPerClaim,
    });
    if (targets.length === 0) {
      // Nothing due: accounts with nothing pending go back, so a resync (or another worker) may
      // take them; accounts with retries or paced work stay, so their pacing stays here.
      await this.options.store.releaseIdleConnections(this.owner);
      return [];
    }
    const heartbeat = { ...this.options, owner: this.owner, leaseMs: this.leaseMs, onError: (err: unknown) => this.log.warn({ err: loggableError(err) }, 'could not renew leases') };
    return withLeaseHeartbeat(heartbeat, () => this.processBatch(targets));
  }

  private async processBatch(targets: SyncTarget[]): Promise<TargetOutcome[]> {
    // One lane per connection, at most `perConnection` calls in flight in each lane.
    const lanes = new Map<string, SyncTarget[]>();
    for (const target of targets) lanes.set(target.connectionId, [...(lanes.get(target.connectionId) ?? []), target]);
    const outcomes: TargetOutcome[] = [];
    await Promise.all(
      [...lanes.values()].map(async (lane) => {
        const queue = [...lane];
        const runners = Array.from({ length: Math.min(this.perConnection, queue.length) }, async () => {
          for (let next = queue.shift(); next !== undefined; next = queue.shift()) outcomes.push(await this.process(next));
        });
        await Promise.all(runners);
      }),
    );
    return outcomes;
  }

  /** Runs batches until nothing is due now (tests and shutdown use this; the loop uses start()). */
  async drain(maxBatches = 1000): Promise<TargetOutcome[]> {
    const all: TargetOutcome[] = [];
    for (let i = 0; i < maxBatches; i++) {
      const outcomes = await this.runOnce();
      if (outcomes.length === 0 && (await this.finishCleanups()) === 0) break;
      all.push(...outcomes);
    }
    return all;
  }

  /**
   * Finishes the cleanups whose removals are done (calendar-cleanup.ts), each under the account's
   * lease so that no other worker finishes it too; resolves with how many finished.
   */
  async finishCleanups(): Promise<number> {
    const now = this.options.clock.now();
    let finished = 0;
    for (const connection of await cleanupsDue(this.options.store, now)) {
      const leaseUntil = new Date(now.getTime() + this.leaseMs).toISOString();
      if (!(await this.options.store.leaseConnection(connection.id, this.owner, now.toISOString(), leaseUntil))) continue;
      const deps = { ...this.options, oauth: this.options.oauth ?? new Map(), random: this.random };
      if (await finishCleanup(deps, connection)) finished += 1;
    }
    return finished;
  }

  private async process(target: SyncTarget): Promise<TargetOutcome> {
    const log = this.log.child({ targetId: target.id, connectionId: target.connectionId, sessionId: target.sessionId });
    const connection = await this.options.store.getConnection(target.connectionId);
    const outcome = await this.attempt(target, connection, log);
    if (connection !== null) this.options.metrics?.syncOperation(connection.kind, outcome);
    return outcome;
  }

  private async attempt(target: SyncTarget, connection: Connection | null, log: Logger): Promise<TargetOutcome> {
    const { store, clock } = this.options;
    const connector = connection === null ? undefined : this.options.connectors.get(connection.kind);
    const tokens = connection === null ? null : await this.readTokens(connection, log);
    if (connection === null || connection.status !== 'active' || connector === undefined || tokens === null) {
      await store.releaseTarget(target.id, this.owner, new Date(clock.now().getTime() + this.leaseMs).toISOString());
      return 'paused';
    }
    const wait = this.limiters[connection.kind].take(connection.id, clock.now().getTime());
    if (wait > 0) {
      await store.releaseTarget(target.id, this.owner, new Date(clock.now().getTime() + wait).toISOString());
      return 'paced';
    }

    try {
      const from = new Date(clock.now().getTime() - this.options.pastDays * DAY_MS).toISOString();
      // A calendar being cleaned up (disconnect, offboarding) wants none of our events.
      const desired = connection.cleanup !== null ? null : await desiredEventFor(store, target.providerId, target.sessionId, from, this.options.joinLinks);
      const session = connectorSession({ store, secrets: this.options.secrets, clock }, connection, tokens);
      let externalId = target.externalId;
      const ref = { connectionId: connection.id, calendarId: connection.calendarId, idempotencyKey: idempotencyKeyFor(connection.id, target.providerId, target.sessionId) };
      if (desired !== null) {
        ({ externalId } = await connector.upsert(session, ref, externalId, desired.event, desired.tag, desired.reminders));
      } else if (externalId !== null) {
        await connector.remove(session, externalId);
        externalId = null;
      } else {
        // No id recorded, yet an earlier attempt may have created the event and died before
        // recording it: remove whatever carries our key, or the cancelled session stays live.
        await connector.removeByKey(session, ref, eventTagKey(target.providerId, target.sessionId));
      }
      const recorded = await store.completeTarget(target.id, this.owner, {
        generation: target.generation,
        externalId,
        syncedRevision: desired?.tag.revision ?? null,
        at: clock.now().toISOString(),
      });
      log.debug({ externalEventId: externalId, action: desired === null ? 'remove' : 'upsert', recorded }, 'target synced');
      return recorded ? 'synced' : 'lost-lease';
    } catch (err) {
      return this.recordFailure(target, connection, err, log);
    }
  }

  /**
   * Tokens that no longer open (ENCRYPTION_KEY changed, row damaged) cannot heal by retrying: the
   * connection goes to `error` until it is re-authorised, instead of failing every lease forever.
   */
  private async readTokens(connection: Connection, log: Logger): Promise<ReturnType<typeof openTokens>> {
    try {
      return openTokens(this.options.secrets, connection);
    } catch {
      log.error('stored tokens cannot be opened; the connection needs re-authorisation');
      await this.options.store.transaction(async (tx) => {
        await tx.lockConnection(connection.id);
        const current = await tx.getConnection(connection.id);
        if (current?.status === 'active') {
          await tx.putConnection({ ...current, status: 'error', lastErrorCode: 'TOKENS_UNREADABLE', updatedAt: this.options.clock.now().toISOString() });
        }
      });
      return null;
    }
  }

  private async recordFailure(target: SyncTarget, connection: Connection, err: unknown, log: Logger): Promise<TargetOutcome> {
    const { store, clock } = this.options;
    const now = clock.now();
    const error =
      err instanceof SyncError ? err : new SyncError({ kind: 'retryable', code: 'INTERNAL', message: 'unexpected error', cause: err });
    if (!(err instanceof SyncError)) log.error({ err: loggableError(err) }, 'unexpected error while syncing a target');

    if (error.kind === 'auth') {
      await markNeedsReauth(store, connection.id, error.code, now.toISOString());
      await store.releaseTarget(target.id, this.owner, now.toISOString());
      log.warn({ code: error.code }, 'connection needs re-authorisation; its work is paused');
      return 'paused';
    }
    const attempts = target.attempts + 1;
    const dead = error.kind === 'permanent' || attempts >= MAX_ATTEMPTS;
    const nextAttemptAt = new Date(now.getTime() + retryDelayMs(attempts, error.retryAfterMs, this.random)).toISOString();
    await store.failTarget(target.id, this.owner, { errorCode: error.code, nextAttemptAt, dead, at: now.toISOString() });
    log.warn({ code: error.code, attempts, dead, nextAttemptAt }, dead ? 'target dead-lettered' : 'target will be retried');
    return dead ? 'dead' : 'retry';
  }

  protected async step(): Promise<boolean> {
    if ((await this.runOnce()).length > 0) return true;
    return (await this.finishCleanups()) > 0;
  }

  protected onLoopError(err: unknown): void {
    this.log.error({ err: loggableError(err) }, 'sync loop iteration failed');
  }

  /** Stops the loop, then gives back every lease so another worker takes over at once. */
  override async stop(): Promise<void> {
    await super.stop();
    await this.options.store.releaseLeases(this.owner);
  }

  /**
   * When this worker next has something to do: the earliest due target it may claim, or the
   * earliest put-off cleanup to try again; null for nothing.
   */
  async nextDueAt(): Promise<string | null> {
    const targetDue = await this.options.store.nextDueAt(this.owner);
    const cleanupDue = await nextCleanupAt(this.options.store, this.options.clock.now());
    if (targetDue === null) return cleanupDue;
    return cleanupDue === null || targetDue < cleanupDue ? targetDue : cleanupDue;
  }

  /** Sleeps until the next due time; the store's signal after a write that marked targets dirty cuts it short. */
  protected async idleMs(): Promise<number> {
    const due = await this.nextDueAt();
    const wait = due === null ? 60_000 : Math.max(0, Date.parse(due) - this.options.clock.now().getTime());
    // Even a far due time is re-checked every minute: another process may have added work.
    return Math.min(wait, 60_000);
  }
}
