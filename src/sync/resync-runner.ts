import { randomUUID } from 'node:crypto';
import type { SecretBox } from '../crypto/secret-box.js';
import { SyncError, idempotencyKeyFor } from '../domain/index.js';
import type {
  CalendarConnector,
  CalendarEvent,
  Clock,
  Connection,
  ConnectionKind,
  EventTag,
  JoinLinks,
  RemoteEvent,
  ResyncJob,
  ResyncPlanItem,
  Store,
} from '../domain/index.js';
import { loggableError, type Logger } from '../logger.js';
import { connectorSession, markNeedsReauth, openTokens } from './connection-tokens.js';
import { desiredEventOf, type DesiredEvent } from './desired-event.js';
import { withLeaseHeartbeat } from './lease-heartbeat.js';
import { BackgroundRunner } from './waker.js';

// Admin resync = diff, not replay (DESIGN.md): list our tagged events in the window, compare with
// what the database wants, then create the missing, update the drifted (also hand edits), delete
// the orphans and duplicates. A dry run stores the plan and writes nothing. A resync right after a
// finished one finds nothing to do.

export interface ResyncRunnerOptions {
  store: Store;
  connectors: ReadonlyMap<ConnectionKind, CalendarConnector>;
  secrets: SecretBox;
  joinLinks: JoinLinks;
  clock: Clock;
  logger: Logger;
  pastDays: number;
  owner?: string;
  leaseMs?: number;
  /** Waits between attempts to take an account a sync worker holds (default: real time). */
  sleep?: (ms: number) => Promise<void>;
}

/** Account leases of a resync: short, renewed while it works, as the sync worker's. */
const ACCOUNT_LEASE_MS = 15_000;
/** How long a resync waits for a worker to give an account back before the job fails. */
const ACCOUNT_WAIT_MS = 60_000;
const ACCOUNT_POLL_MS = 250;

interface PlannedWrite extends ResyncPlanItem {
  desired: DesiredEvent | null;
  /** The target's generation when the plan read the session (0 without a target). */
  generation: number;
}

const DAY_MS = 86_400_000;

/** Fields a person can edit in their calendar; any difference is drift to repair. */
function drifted(remote: RemoteEvent, event: CalendarEvent, tag: EventTag): string | null {
  if (remote.cancelled) return 'cancelled in the calendar';
  if (remote.tag.revision !== tag.revision) return 'older revision';
  if (Date.parse(remote.start) !== Date.parse(event.start) || Date.parse(remote.end) !== Date.parse(event.end)) return 'time edited';
  if (remote.summary !== event.summary) return 'title edited';
  if ((remote.location ?? null) !== (event.location ?? null)) return 'location edited';
  return null;
}

export class ResyncRunner extends BackgroundRunner {
  readonly owner: string;
  private readonly leaseMs: number;
  private readonly log: Logger;

  constructor(private readonly options: ResyncRunnerOptions) {
    super({ store: options.store, kind: 'jobs' });
    this.owner = options.owner ?? `resync-${randomUUID()}`;
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
    this.log = options.logger.child({ module: 'resync' });
  }

  protected step(): Promise<boolean> {
    return this.runOnce();
  }

  /** Jobs of a crashed process are taken over once their lease expires: poll at that pace. */
  protected async idleMs(): Promise<number> {
    return this.leaseMs;
  }

  protected onLoopError(err: unknown): void {
    this.log.error({ err: loggableError(err) }, 'resync loop iteration failed');
  }

  private nowIso(): string {
    return this.options.clock.now().toISOString();
  }

  private leaseUntil(): string {
    return new Date(this.options.clock.now().getTime() + this.leaseMs).toISOString();
  }

  private async save(job: ResyncJob): Promise<void> {
    await this.options.store.transaction((tx) => tx.putJob({ ...job, leaseUntil: this.leaseUntil() }));
  }

  /** Claims and runs one job; false when none was waiting. */
  async runOnce(): Promise<boolean> {
    const job = await this.options.store.claimJob({ owner: this.owner, now: this.nowIso(), leaseUntil: this.leaseUntil() });
    if (job === null) return false;
    const log = this.log.child({ jobId: job.id });
    // A job taken over from a crashed worker starts its diff afresh: the diff is idempotent.
    const running: ResyncJob = {
      ...job,
      status: 'running',
      startedAt: job.startedAt ?? this.nowIso(),
      progress: { total: 0, done: 0, created: 0, updated: 0, deleted: 0, unchanged: 0, failed: 0 },
      plan: null,
    };
    await this.save(running);
    try {
      await this.execute(running);
      await this.save({ ...running, status: 'succeeded', finishedAt: this.nowIso(), leaseOwner: null });
      log.info({ progress: running.progress, dryRun: running.request.dryRun }, 'resync finished');
    } catch (err) {
      log.error({ err: loggableError(err) }, 'resync failed');
      await this.save({ ...running, status: 'failed', error: err instanceof SyncError ? err.code : 'INTERNAL', finishedAt: this.nowIso(), leaseOwner: null });
    }
    return true;
  }

  private async connectionsFor(job: ResyncJob): Promise<Connection[]> {
    const { store } = this.options;
    const { providerIds, connectionIds } = job.request;
    if (connectionIds !== null) {
      const found = await Promise.all(connectionIds.map((id) => store.getConnection(id)));
      return found.filter((c): c is Connection => c !== null && c.status === 'active' && c.cleanup === null);
    }
    // A calendar being cleaned up (disconnect, offboarding) is the worker's to empty, not to repair.
    const active = (await store.listAllConnections(['active'])).filter((c) => c.cleanup === null);
    return providerIds === null ? active : active.filter((c) => providerIds.includes(c.providerId));
  }

  private async execute(job: ResyncJob): Promise<void> {
    const plans: { connection: Connection; writes: PlannedWrite[]; unchanged: number }[] = [];
    for (const connection of await this.connectionsFor(job)) {
      plans.push({ connection, ...(await this.holdingAccount(connection, () => this.plan(connection))) });
    }
    job.progress.total = plans.reduce((n, p) => n + p.writes.length + p.unchanged, 0);
    job.progress.unchanged = plans.reduce((n, p) => n + p.unchanged, 0);
    job.progress.done = job.progress.unchanged;
    job.plan = plans.flatMap((p) => p.writes.map(({ desired: _d, generation: _g, ...item }) => item));
    await this.save(job);
    if (job.request.dryRun) return;

    for (const { connection, writes } of plans) {
      if (writes.length > 0) await this.holdingAccount(connection, () => this.apply(job, connection, writes));
    }
  }

  /**
   * Runs fn holding the account's lease, as a sync worker would: a resync and a worker (of this
   * process or another) never call one account's vendor API, or refresh its tokens, at once.
   * Waits up to a minute for a busy account, then fails the job (an admin can run it again).
   */
  private async holdingAccount<T>(connection: Connection, fn: () => Promise<T>): Promise<T> {
    const { store, clock } = this.options;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const until = () => new Date(clock.now().getTime() + ACCOUNT_LEASE_MS).toISOString();
    for (let waited = 0; !(await store.leaseConnection(connection.id, this.owner, clock.now().toISOString(), until())); waited += ACCOUNT_POLL_MS) {
      if (waited >= ACCOUNT_WAIT_MS) throw new SyncError({ kind: 'retryable', code: 'ACCOUNT_BUSY', message: 'a sync worker kept the account' });
      await sleep(ACCOUNT_POLL_MS);
    }
    const heartbeat = { store, clock, owner: this.owner, leaseMs: ACCOUNT_LEASE_MS, onError: (err: unknown) => this.log.warn({ err: loggableError(err) }, 'could not renew the account lease') };
    try {
      return await withLeaseHeartbeat(heartbeat, fn);
    } finally {
      await store.releaseLeases(this.owner);
    }
  }

  private async plan(connection: Connection): Promise<{ writes: PlannedWrite[]; unchanged: number }> {
    const { store } = this.options;
    const connector = this.options.connectors.get(connection.kind);
    const tokens = openTokens(this.options.secrets, connection);
    if (connector === undefined || tokens === null) return { writes: [], unchanged: 0 };
    const from = new Date(this.options.clock.now().getTime() - this.options.pastDays * DAY_MS).toISOString();
    const session = connectorSession({ store, secrets: this.options.secrets, clock: this.options.clock }, connection, tokens);
    const remote = (await connector.listTagged(session, { from })).filter((r) => r.tag.key.startsWith(`${connection.providerId}/`));

    const provider = await store.getProvider(connection.providerId);
    const desired = new Map<string, DesiredEvent & { sessionId: string }>();
    if (provider !== null) {
      const locations = new Map((await store.listLocations(provider.id)).map((l) => [l.id, l] as const));
      for (const s of await store.listSessions(provider.id, { status: 'scheduled', endAfter: from })) {
        // The tag's revision covers the reminders: a reminders change is an 'older revision' here.
        const want = desiredEventOf(s, provider, s.locationId === null ? null : (locations.get(s.locationId) ?? null), this.options.joinLinks);
        desired.set(want.tag.key, { sessionId: s.id, ...want });
      }
    }
    const targets = new Map((await store.listTargets(connection.id)).map((t) => [t.sessionId, t] as const));
    const remoteByKey = new Map<string, RemoteEvent[]>();
    for (const r of remote) remoteByKey.set(r.tag.key, [...(remoteByKey.get(r.tag.key) ?? []), r]);

    const writes: PlannedWrite[] = [];
    let unchanged = 0;
    for (const [key, want] of desired) {
      const found = remoteByKey.get(key) ?? [];
      remoteByKey.delete(key);
      // Keep the event we know (or a live one); every other copy is a duplicate to delete.
      const knownId = targets.get(want.sessionId)?.externalId;
      const keep = found.find((r) => r.externalId === knownId) ?? found.find((r) => !r.cancelled) ?? found[0];
      for (const extra of found) {
        if (extra !== keep && !extra.cancelled) {
          writes.push({ connectionId: connection.id, action: 'delete', sessionId: want.sessionId, externalId: extra.externalId, reason: 'duplicate', desired: null, generation: 0 });
        }
      }
      const base = { connectionId: connection.id, sessionId: want.sessionId, desired: want, generation: targets.get(want.sessionId)?.generation ?? 0 };
      if (keep === undefined) {
        writes.push({ ...base, action: 'create', externalId: null, reason: 'missing' });
      } else {
        const why = drifted(keep, want.event, want.tag);
        if (why === null) unchanged += 1;
        else writes.push({ ...base, action: 'update', externalId: keep.externalId, reason: why });
      }
    }
    for (const [key, orphans] of remoteByKey) {
      for (const orphan of orphans) {
        if (orphan.cancelled) continue;
        const sessionId = key.slice(connection.providerId.length + 1);
        writes.push({
          connectionId: connection.id,
          action: 'delete',
          sessionId,
          externalId: orphan.externalId,
          reason: 'no scheduled session',
          desired: null,
          generation: targets.get(sessionId)?.generation ?? 0,
        });
      }
    }
    return { writes, unchanged };
  }

  private async apply(job: ResyncJob, connection: Connection, writes: PlannedWrite[]): Promise<void> {
    const { store, clock } = this.options;
    const connector = this.options.connectors.get(connection.kind);
    const tokens = openTokens(this.options.secrets, connection);
    if (connector === undefined || tokens === null) return;
    const session = connectorSession({ store, secrets: this.options.secrets, clock }, connection, tokens);
    let authFailed: SyncError | null = null;

    for (const write of writes) {
      if (authFailed !== null) {
        job.progress.failed += 1;
        job.progress.done += 1;
        continue;
      }
      try {
        if (write.action === 'delete') {
          if (write.externalId !== null) await connector.remove(session, write.externalId);
          if (write.reason !== 'duplicate' && write.sessionId !== null) {
            await store.transaction((tx) =>
              tx.recordTargetSynced(connection.id, connection.providerId, write.sessionId!, { generation: write.generation, externalId: null, syncedRevision: null, at: clock.now().toISOString() }),
            );
          }
          job.progress.deleted += 1;
        } else if (write.desired !== null && write.sessionId !== null) {
          const key = idempotencyKeyFor(connection.id, connection.providerId, write.sessionId);
          const { externalId } = await connector.upsert(
            session,
            { connectionId: connection.id, calendarId: connection.calendarId, idempotencyKey: key },
            write.externalId,
            write.desired.event,
            write.desired.tag,
            write.desired.reminders,
          );
          await store.transaction((tx) =>
            tx.recordTargetSynced(connection.id, connection.providerId, write.sessionId!, {
              generation: write.generation,
              externalId,
              syncedRevision: write.desired!.tag.revision,
              at: clock.now().toISOString(),
            }),
          );
          if (write.action === 'create') job.progress.created += 1;
          else job.progress.updated += 1;
        }
      } catch (err) {
        job.progress.failed += 1;
        const error = err instanceof SyncError ? err : null;
        this.log.warn({ jobId: job.id, connectionId: connection.id, sessionId: write.sessionId, code: error?.code ?? 'INTERNAL' }, 'resync write failed');
        if (error?.kind === 'auth') {
          authFailed = error;
          await markNeedsReauth(store, connection.id, error.code, clock.now().toISOString());
        } else if (write.sessionId !== null && write.action !== 'delete') {
          // Left to the worker's retry and backoff.
          await store.transaction((tx) => tx.markConnectionTargetsDirty(connection.id, [write.sessionId!], clock.now().toISOString()));
        }
      }
      job.progress.done += 1;
      if (job.progress.done % 20 === 0) await this.save(job);
    }
  }
}
