import { randomUUID } from 'node:crypto';
import { feedCalendarMeta } from '../../feeds/feed-body.js';
import { ErrorCode, notFound, providerNotFound } from '../domain/index.js';
import type { Clock, Offboarding, Store } from '../domain/index.js';
import type { Logger } from '../logger.js';
import { beginCleanup, outcome, settleOffboarding } from '../sync/calendar-cleanup.js';

// A provider who leaves leaves no trace (issue 11). Offboarding, in one transaction: the provider
// is marked as gone (nothing more can be written for them), every live feed URL is tombstoned
// (an empty calendar under the same name, then 410), and every connected calendar starts its
// cleanup (calendar-cleanup.ts: the worker removes our events, revokes the grant, forgets the
// tokens). The offboarding record says, per connection, what was done or what could not be; with
// mode 'delete' the provider's record goes once every calendar is done.

export interface OffboardingServiceDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
}

/** An offboarding as the API shows it: with each removing connection's events still to go. */
export interface OffboardingView {
  offboarding: Offboarding;
  /** Per connection still removing: events waiting for the worker (sync-health shows their retries). */
  pending: Record<string, number>;
}

export class OffboardingService {
  private readonly log: Logger;

  constructor(private readonly deps: OffboardingServiceDeps) {
    this.log = deps.logger.child({ module: 'offboarding' });
  }

  /**
   * Offboards the provider, or (mode 'delete') offboards and then deletes it. Asking again while
   * one is under way answers that one; 'delete' after a finished 'offboard' deletes the record at
   * once (its calendars are already clean).
   */
  async offboard(providerId: string, mode: Offboarding['mode'], actor: string): Promise<OffboardingView> {
    const at = this.deps.clock.now().toISOString();
    const offboarding = await this.deps.store.transaction(async (tx) => {
      await tx.lockProvider(providerId);
      const provider = await tx.getProvider(providerId);
      if (provider === null) throw providerNotFound(providerId);
      if (provider.offboardedAt !== null) {
        const [latest] = await tx.listOffboardings(providerId);
        if (latest !== undefined && mode === 'delete' && latest.mode === 'offboard') {
          const escalated: Offboarding = { ...latest, mode: 'delete', finishedAt: null };
          await tx.putOffboarding(escalated);
          await settleOffboarding(tx, latest.id, null, at);
          return (await tx.getOffboarding(latest.id)) ?? escalated;
        }
        if (latest !== undefined) return latest;
      }
      await tx.putProvider({ ...provider, offboardedAt: at, updatedAt: at });
      const feedsTombstoned = await tx.tombstoneFeeds(providerId, feedCalendarMeta(provider).name, at);
      const connections = (await tx.listConnections(providerId)).filter((c) => c.status !== 'disconnected');
      const record: Offboarding = {
        id: randomUUID(),
        providerId,
        mode,
        actor,
        requestedAt: at,
        finishedAt: null,
        feedsTombstoned,
        // Every connection is listed as removing before any starts, so that one finishing at
        // once (it cannot reach its calendar) does not find the others missing and end it all.
        connections: connections.map((c) => outcome(c)),
      };
      await tx.putOffboarding(record);
      await tx.appendAudit({
        at,
        actor,
        action: 'provider.offboard.start',
        target: `provider:${providerId}`,
        details: { offboardingId: record.id, mode, connections: connections.length, feedsTombstoned },
      });
      for (const connection of connections) {
        await beginCleanup(tx, connection, { reason: 'offboard', offboardingId: record.id, removeEvents: true, actor }, at);
      }
      await settleOffboarding(tx, record.id, null, at);
      return (await tx.getOffboarding(record.id)) ?? record;
    });
    this.log.info({ providerId, offboardingId: offboarding.id, mode, finished: offboarding.finishedAt !== null }, 'provider offboarding');
    return this.view(offboarding);
  }

  async get(offboardingId: string): Promise<OffboardingView> {
    const offboarding = await this.deps.store.getOffboarding(offboardingId);
    if (offboarding === null) throw notFound(ErrorCode.OFFBOARDING_NOT_FOUND, `Offboarding ${offboardingId} does not exist.`);
    return this.view(offboarding);
  }

  /** The provider's offboardings, newest first (also after the provider was deleted). */
  async list(providerId: string): Promise<OffboardingView[]> {
    return Promise.all((await this.deps.store.listOffboardings(providerId)).map((o) => this.view(o)));
  }

  private async view(offboarding: Offboarding): Promise<OffboardingView> {
    const pending: Record<string, number> = {};
    for (const c of offboarding.connections) {
      if (c.status === 'removing') pending[c.connectionId] = (await this.deps.store.targetCounts(c.connectionId)).pending;
    }
    return { offboarding, pending };
  }
}
