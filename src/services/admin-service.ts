import { randomUUID } from 'node:crypto';
import { ErrorCode, notFound } from '../domain/index.js';
import type { AuditEntry, Clock, Connection, ConnectionStatus, FeedToken, Offboarding, Provider, ResyncJob, Store, SyncHealth, SyncTarget } from '../domain/index.js';

// Admin operations on push sync: resync jobs, sync health, dead-letter retries and the audit log.
// Every action is written to the audit log in the same transaction as its effect (ids only). The
// store wakes the resync runner and the sync worker when a job or a retry commits.

export interface AdminServiceDeps {
  store: Store;
  clock: Clock;
}

/** What the console shows of one provider: ids, states and error codes, no session content. */
export interface ProviderOverview {
  provider: Provider;
  feeds: FeedToken[];
  connections: Connection[];
  /** Targets dead-lettered or failing (an error code recorded), most recently changed first. */
  errors: SyncTarget[];
  /** Its offboardings, newest first (empty while the provider is with the practice). */
  offboardings: Offboarding[];
}

export class AdminService {
  constructor(private readonly deps: AdminServiceDeps) {}

  async queueResync(request: ResyncJob['request'], actor: string): Promise<ResyncJob> {
    const now = this.deps.clock.now().toISOString();
    const job: ResyncJob = {
      id: randomUUID(),
      kind: 'resync',
      status: 'queued',
      request,
      progress: { total: 0, done: 0, created: 0, updated: 0, deleted: 0, unchanged: 0, failed: 0 },
      plan: null,
      error: null,
      actor,
      leaseOwner: null,
      leaseUntil: null,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
    };
    await this.deps.store.transaction(async (tx) => {
      await tx.putJob(job);
      await tx.appendAudit({
        at: now,
        actor,
        action: request.dryRun ? 'resync.plan' : 'resync.run',
        target: `job:${job.id}`,
        details: {
          providerIds: request.providerIds === null ? 'all' : request.providerIds.join(','),
          connectionIds: request.connectionIds === null ? null : request.connectionIds.join(','),
          dryRun: request.dryRun,
        },
      });
    });
    return job;
  }

  async job(jobId: string): Promise<ResyncJob> {
    const job = await this.deps.store.getJob(jobId);
    if (job === null) throw notFound(ErrorCode.JOB_NOT_FOUND, `Job ${jobId} does not exist.`);
    return job;
  }

  /** Sync health plus the age of the oldest pending change, the figure to alert on. */
  async health(): Promise<SyncHealth & { oldestPendingAgeSeconds: number | null }> {
    const now = this.deps.clock.now();
    const health = await this.deps.store.syncHealth(now.toISOString());
    const since = health.oldestPendingSince;
    return { ...health, oldestPendingAgeSeconds: since === null ? null : Math.max(0, Math.round((now.getTime() - Date.parse(since)) / 1000)) };
  }

  /** How many calendar connections are in each status (every status listed, 0 included). */
  async connectionCounts(): Promise<Record<ConnectionStatus, number>> {
    const counts: Record<ConnectionStatus, number> = { active: 0, needs_reauth: 0, error: 0, pending_authorization: 0, disconnected: 0 };
    for (const connection of await this.deps.store.listAllConnections()) counts[connection.status] += 1;
    return counts;
  }

  async retryTarget(targetId: string, actor: string): Promise<void> {
    const now = this.deps.clock.now().toISOString();
    await this.deps.store.transaction(async (tx) => {
      if (!(await tx.retryTarget(targetId, now))) throw notFound(ErrorCode.TARGET_NOT_FOUND, `Target ${targetId} does not exist.`);
      await tx.appendAudit({ at: now, actor, action: 'target.retry', target: `target:${targetId}`, details: {} });
    });
  }

  searchProviders(text: string, limit: number): Promise<Provider[]> {
    return this.deps.store.searchProviders(text, limit);
  }

  async providerOverview(providerId: string, errorLimit: number): Promise<ProviderOverview> {
    const { store } = this.deps;
    const provider = await store.getProvider(providerId);
    if (provider === null) throw notFound(ErrorCode.PROVIDER_NOT_FOUND, `Provider ${providerId} does not exist.`);
    const [feeds, connections, offboardings] = await Promise.all([store.listFeeds(providerId), store.listConnections(providerId), store.listOffboardings(providerId)]);
    const targets = (await Promise.all(connections.map((c) => store.listTargets(c.id)))).flat();
    const errors = targets
      .filter((t) => t.deadAt !== null || t.lastErrorCode !== null)
      .sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0))
      .slice(0, errorLimit);
    return { provider, feeds, connections, errors, offboardings };
  }

  audit(options: { limit: number; beforeId?: number }): Promise<AuditEntry[]> {
    return this.deps.store.listAudit(options);
  }
}
