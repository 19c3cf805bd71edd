import { ErrorCode, notFound } from '../domain/index.js';
import type { Clock, JoinLinkMode, JoinLinks, PrivacySettings, Provider, Store } from '../domain/index.js';
import { refreshSessionEvents } from './event-refresh.js';
import { ensureJoinTokens } from './join-tokens.js';

export interface ProviderInput {
  name: string;
  email: string | null;
  timezone: string;
  privacy: PrivacySettings;
  /** Absent: the provider's current setting, 'stable' for a new provider. */
  joinLink?: JoinLinkMode;
}

export interface UpsertResult<T> {
  value: T;
  created: boolean;
}

export function providerNotFound(providerId: string): Error {
  return notFound(ErrorCode.PROVIDER_NOT_FOUND, `Provider ${providerId} does not exist.`);
}

function sameProvider(a: Provider, input: ProviderInput & { joinLink: JoinLinkMode }): boolean {
  return (
    a.name === input.name &&
    a.email === input.email &&
    a.timezone === input.timezone &&
    a.privacy.mode === input.privacy.mode &&
    a.privacy.baaAttested === input.privacy.baaAttested &&
    a.joinLink === input.joinLink
  );
}

export class ProviderService {
  constructor(private readonly deps: { store: Store; clock: Clock; joinLinks: JoinLinks }) {}

  /** Idempotent upsert: the same input twice leaves the row, its events and the feed untouched. */
  async put(providerId: string, input: ProviderInput): Promise<UpsertResult<Provider>> {
    const now = this.deps.clock.now().toISOString();
    return this.deps.store.transaction(async (tx) => {
      await tx.lockProvider(providerId);
      const existing = await tx.getProvider(providerId);
      const joinLink = input.joinLink ?? existing?.joinLink ?? 'stable';
      if (existing !== null && sameProvider(existing, { ...input, joinLink })) return { value: existing, created: false };

      const provider: Provider = {
        id: providerId,
        name: input.name,
        email: input.email,
        timezone: input.timezone,
        privacy: input.privacy,
        joinLink,
        reminders: existing?.reminders ?? null,
        offboardedAt: existing?.offboardedAt ?? null,
        feedRevision: existing?.feedRevision ?? 0,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      await tx.putProvider(provider);
      if (existing !== null) {
        // Name, zone and privacy mode change every event's title or TZID; joinLink its link. The
        // sessions' token hashes are stored before any event carries their /j/ links.
        if (joinLink === 'stable') await ensureJoinTokens(tx, providerId, this.deps.joinLinks);
        const changed = await refreshSessionEvents(tx, provider, await tx.listSessions(providerId), now, this.deps.joinLinks);
        await tx.markSessionsDirty(providerId, changed, now);
      }
      const feedRevision = await tx.bumpFeedRevision(providerId, now);
      return { value: { ...provider, feedRevision }, created: existing === null };
    });
  }

  async get(providerId: string): Promise<Provider> {
    const provider = await this.deps.store.getProvider(providerId);
    if (provider === null) throw providerNotFound(providerId);
    return provider;
  }

  async delete(providerId: string): Promise<void> {
    const deleted = await this.deps.store.transaction(async (tx) => {
      await tx.lockProvider(providerId);
      return tx.deleteProvider(providerId);
    });
    if (!deleted) throw providerNotFound(providerId);
  }
}
