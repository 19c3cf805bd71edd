import { checkTelehealthLink, ErrorCode, expandSeries, notFound, providerNotFound, validationError, writableProvider } from '../domain/index.js';
import type { ClientRef, Clock, JoinLinks, Location, Provider, Session, SessionStatus, Store, StoreTx , AppError} from '../domain/index.js';
import { withRefreshedEvent } from './event-refresh.js';
import { ensureJoinTokens } from './join-tokens.js';
import { assertNoLinkConflicts } from './link-conflicts.js';
import { linkRejected } from './location-service.js';
import type { UpsertResult } from './provider-service.js';

export interface SessionInput {
  /** ISO UTC instants, already validated: end > start, at most 24 h apart. */
  start: string;
  end: string;
  locationId: string | null;
  /** Raw per-session link, checked against the telehealth policy here. */
  telehealthUrl: string | null;
  client: ClientRef | null;
  status: SessionStatus;
}

export interface SeriesInput {
  seriesId: string;
  firstStart: string;
  timezone: string | null;
  durationMinutes: number;
  frequency: 'weekly' | 'biweekly';
  count: number | null;
  until: string | null;
  locationId: string | null;
  telehealthUrl: string | null;
  client: ClientRef | null;
}

export interface SessionResult extends UpsertResult<Session> {
  warnings: string[];
}

export interface SeriesResult {
  sessions: Session[];
  created: number;
  updated: number;
  unchanged: number;
  /** Sessions of an earlier version of this series that no longer belong to it, now cancelled. */
  cancelled: string[];
  warnings: string[];
}

interface Placement {
  locationId: string | null;
  telehealthUrl: string | null;
  warnings: string[];
}

function sessionNotFound(sessionId: string): AppError {
  return notFound(ErrorCode.SESSION_NOT_FOUND, `Session ${sessionId} does not exist.`);
}

/** Where a session takes place: its location (or the default) and any checked per-session link. */
function place(
  locations: ReadonlyMap<string, Location>,
  locationId: string | null,
  rawUrl: string | null,
): Placement {
  const warnings: string[] = [];
  let telehealthUrl: string | null = null;
  if (rawUrl !== null) {
    const check = checkTelehealthLink(rawUrl);
    if (!check.ok) throw linkRejected('telehealthUrl', check.reason);
    telehealthUrl = check.url;
    warnings.push(...check.warnings);
  }
  let location: Location | null;
  if (locationId !== null) {
    location = locations.get(locationId) ?? null;
    if (location === null) throw validationError([{ path: 'locationId', message: `location ${locationId} does not exist for this provider` }]);
  } else {
    location = [...locations.values()].find((l) => l.isDefault) ?? null;
    if (location === null && telehealthUrl === null) {
      throw validationError([{ path: 'locationId', message: 'required: the provider has no default location (or give telehealthUrl)' }]);
    }
  }
  if (telehealthUrl !== null && location?.kind === 'office') {
    throw validationError([{ path: 'telehealthUrl', message: `location ${location.id} is an office; a telehealth link needs a virtual location` }]);
  }
  return { locationId: location?.id ?? null, telehealthUrl, warnings };
}

/** Identity-preserving merge of an input into the stored row (or a new row). */
function buildSession(
  providerId: string,
  sessionId: string,
  existing: Session | null,
  fields: Omit<Session, 'providerId' | 'id' | 'uid' | 'sequence' | 'eventFingerprint' | 'lastModified' | 'createdAt' | 'updatedAt' | 'seriesId'> & { seriesId?: string | null },
  uidDomain: string,
  now: string,
): Session {
  return {
    providerId,
    id: sessionId,
    uid: existing?.uid ?? `${providerId}.${sessionId}@${uidDomain}`,
    ...fields,
    seriesId: fields.seriesId !== undefined ? fields.seriesId : (existing?.seriesId ?? null),
    sequence: existing?.sequence ?? 0,
    eventFingerprint: existing?.eventFingerprint ?? '',
    lastModified: existing?.lastModified ?? now,
    createdAt: existing?.createdAt ?? now,
    updatedAt: existing?.updatedAt ?? now,
  };
}

function sameStoredFields(a: Session, b: Session): boolean {
  const key = (s: Session) =>
    JSON.stringify([s.start, s.end, s.locationId, s.telehealthUrl, s.client?.id, s.client?.firstName, s.client?.lastName, s.client === null, s.status, s.seriesId]);
  return key(a) === key(b);
}

/** What save() writes for `next` over `existing`: nothing when no stored field changed. */
function prepareSave(provider: Provider, locations: ReadonlyMap<string, Location>, existing: Session | null, next: Session, now: string, links: JoinLinks) {
  if (existing !== null && sameStoredFields(existing, next)) return { session: existing, feedChanged: false, write: false };
  const location = next.locationId === null ? null : (locations.get(next.locationId) ?? null);
  const refreshed = withRefreshedEvent(next, provider, location, now, links);
  return { session: { ...(refreshed ?? next), updatedAt: now }, feedChanged: refreshed !== null, write: true };
}

export class SessionService {
  // Writes that mark push targets dirty need not wake the sync worker: the store signals it when
  // the transaction commits, in whichever process it runs.
  constructor(private readonly deps: { store: Store; clock: Clock; uidDomain: string; joinLinks: JoinLinks }) {}

  /** Locks the provider (the overlap guard reads its sessions to decide), then reads it. */
  private async loadProvider(tx: StoreTx, providerId: string): Promise<{ provider: Provider; locations: Map<string, Location> }> {
    await tx.lockProvider(providerId);
    const provider = writableProvider(await tx.getProvider(providerId), providerId);
    const locations = new Map((await tx.listLocations(providerId)).map((l) => [l.id, l] as const));
    return { provider, locations };
  }

  /**
   * Writes `next` if it differs from `existing`, re-rendering its event (SEQUENCE +1 when the
   * event changed). Returns the stored session and whether the feed changed.
   */
  private async save(tx: StoreTx, provider: Provider, locations: ReadonlyMap<string, Location>, existing: Session | null, next: Session, now: string) {
    const saved = prepareSave(provider, locations, existing, next, now, this.deps.joinLinks);
    if (saved.write) await tx.putSession(saved.session);
    if (existing === null) await ensureJoinTokens(tx, provider.id, this.deps.joinLinks);
    return saved;
  }

  async put(providerId: string, sessionId: string, input: SessionInput): Promise<SessionResult> {
    const now = this.deps.clock.now().toISOString();
    return this.deps.store.transaction(async (tx) => {
      const { provider, locations } = await this.loadProvider(tx, providerId);
      const placement = place(locations, input.locationId, input.telehealthUrl);
      const existing = await tx.getSession(providerId, sessionId);
      const next = buildSession(
        providerId,
        sessionId,
        existing,
        {
          start: input.start,
          end: input.end,
          locationId: placement.locationId,
          telehealthUrl: placement.telehealthUrl,
          client: input.client,
          status: input.status,
        },
        this.deps.uidDomain,
        now,
      );
      await assertNoLinkConflicts(tx, providerId, [next], locations);
      const { session, feedChanged } = await this.save(tx, provider, locations, existing, next, now);
      if (feedChanged) {
        await tx.bumpFeedRevision(providerId, now);
        await tx.markSessionsDirty(providerId, [sessionId], now);
      }
      return { value: session, created: existing === null, warnings: placement.warnings };
    });
  }

  async get(providerId: string, sessionId: string): Promise<Session> {
    if ((await this.deps.store.getProvider(providerId)) === null) throw providerNotFound(providerId);
    const session = await this.deps.store.getSession(providerId, sessionId);
    if (session === null) throw sessionNotFound(sessionId);
    return session;
  }

  /** Sessions that overlap [from, to); both optional. */
  async list(providerId: string, range: { from?: string; to?: string }): Promise<Session[]> {
    if ((await this.deps.store.getProvider(providerId)) === null) throw providerNotFound(providerId);
    return this.deps.store.listSessions(providerId, {
      ...(range.from !== undefined ? { endAfter: range.from } : {}),
      ...(range.to !== undefined ? { startBefore: range.to } : {}),
    });
  }

  async delete(providerId: string, sessionId: string): Promise<void> {
    const now = this.deps.clock.now().toISOString();
    await this.deps.store.transaction(async (tx) => {
      await tx.lockProvider(providerId);
      writableProvider(await tx.getProvider(providerId), providerId);
      if (!(await tx.deleteSession(providerId, sessionId))) throw sessionNotFound(sessionId);
      await tx.bumpFeedRevision(providerId, now);
      // The target outlives the session so that the worker can delete its external event.
      await tx.markSessionsDirty(providerId, [sessionId], now);
    });
  }

  /**
   * Creates or replaces a weekly/biweekly series as sessions `<seriesId>-1..n`, all or nothing.
   * Sessions of an earlier version of the series beyond the new end are cancelled, not deleted,
   * so history is kept and calendars drop them.
   */
  async putSeries(providerId: string, input: SeriesInput): Promise<SeriesResult> {
    const now = this.deps.clock.now().toISOString();
    return this.deps.store.transaction(async (tx) => {
      const { provider, locations } = await this.loadProvider(tx, providerId);
      const expansion = expandSeries({
        firstStart: input.firstStart,
        timezone: input.timezone ?? provider.timezone,
        durationMinutes: input.durationMinutes,
        frequency: input.frequency,
        ...(input.count !== null ? { count: input.count } : {}),
        ...(input.until !== null ? { until: input.until } : {}),
      });
      if (!expansion.ok) throw validationError(expansion.errors);
      const placement = place(locations, input.locationId, input.telehealthUrl);

      const previous = await tx.listSessions(providerId, { seriesId: input.seriesId });
      const previousById = new Map(previous.map((s) => [s.id, s] as const));
      const planned: { existing: Session | null; next: Session }[] = [];
      for (const occurrence of expansion.occurrences) {
        const sessionId = `${input.seriesId}-${occurrence.index}`;
        const existing = previousById.get(sessionId) ?? (await tx.getSession(providerId, sessionId));
        const next = buildSession(
          providerId,
          sessionId,
          existing,
          {
            start: occurrence.start,
            end: occurrence.end,
            locationId: placement.locationId,
            telehealthUrl: placement.telehealthUrl,
            client: input.client,
            status: 'scheduled',
            seriesId: input.seriesId,
          },
          this.deps.uidDomain,
          now,
        );
        planned.push({ existing, next });
      }
      const keep = new Set(planned.map((p) => p.next.id));
      const dropped = previous.filter((s) => !keep.has(s.id) && s.status === 'scheduled');
      await assertNoLinkConflicts(tx, providerId, planned.map((p) => p.next), locations);

      const result: SeriesResult = { sessions: [], created: 0, updated: 0, unchanged: 0, cancelled: [], warnings: placement.warnings };
      const changed: string[] = [];
      // Up to 104 occurrences and the dropped ones, written in a few set-based upserts.
      const writes: Session[] = [];
      for (const { existing, next } of planned) {
        const saved = prepareSave(provider, locations, existing, next, now, this.deps.joinLinks);
        if (saved.write) writes.push(saved.session);
        result.sessions.push(saved.session);
        if (saved.feedChanged) changed.push(next.id);
        if (existing === null) result.created += 1;
        else if (saved.session === existing) result.unchanged += 1;
        else result.updated += 1;
      }
      for (const session of dropped) {
        const saved = prepareSave(provider, locations, session, { ...session, status: 'cancelled' }, now, this.deps.joinLinks);
        if (saved.write) writes.push(saved.session);
        if (saved.feedChanged) changed.push(session.id);
        result.cancelled.push(session.id);
      }
      await tx.putSessions(writes);
      if (result.created > 0) await ensureJoinTokens(tx, providerId, this.deps.joinLinks);
      if (changed.length === 0) return result;
      await tx.bumpFeedRevision(providerId, now);
      await tx.markSessionsDirty(providerId, changed, now);
      return result;
    });
  }
}
