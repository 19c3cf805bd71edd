import { normaliseReminders, providerNotFound, sameReminders, writableProvider } from '../domain/index.js';
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
  /** Popup reminders of pushed events (minutes before). Absent: the current setting, null (calendar defaults) for a new provider. */
  reminders?: number[] | null;
}

export interface UpsertResult<T> {
  value: T;
  created: boolean;
}

/** Whether what the feed and the pushed events' content show is the same (reminders aside). */
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
      const found = await tx.getProvider(providerId);
      const existing = found === null ? null : writableProvider(found, providerId);
      const joinLink = input.joinLink ?? existing?.joinLink ?? 'stable';
      const reminders = input.reminders === undefined ? (existing?.reminders ?? null) : normaliseReminders(input.reminders);
      const sameContent = existing !== null && sameProvider(existing, { ...input, joinLink });
      const remindersChanged = existing !== null && !sameReminders(existing.reminders, reminders);
      if (existing !== null && sameContent && !remindersChanged) return { value: existing, created: false };

      const provider: Provider = {
        id: providerId,
        name: input.name,
        email: input.email,
        timezone: input.timezone,
        privacy: input.privacy,
        joinLink,
        reminders,
        offboardedAt: existing?.offboardedAt ?? null,
        feedRevision: existing?.feedRevision ?? 0,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      await tx.putProvider(provider);
      if (existing !== null && remindersChanged) {
        // Reminders live only in pushed events, outside the session's fingerprint and SEQUENCE:
        // every upcoming pushed event is rewritten, the feed (and its revision) stays as it is.
        const upcoming = await tx.listSessions(providerId, { status: 'scheduled', endAfter: now });
        await tx.markSessionsDirty(providerId, upcoming.map((s) => s.id), now);
        if (sameContent) return { value: provider, created: false };
      }
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
}
