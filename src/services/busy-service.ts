// A provider's other calendars as busy time: the sources (an ICS address, sealed at rest, or one
// of its connected Google / Outlook calendars), reading them (on demand and by the worker), the
// merged busy intervals, and the warning a session written over busy time carries. What is kept of
// a calendar is instants and its source id, nothing else.
import type { SecretBox } from '../crypto/secret-box.js';
import { AppError, ErrorCode, mergeBySource, notFound, providerNotFound, SyncError, validationError, writableProvider } from '../domain/index.js';
import type { BusySource, StoredBusyInterval, CalendarConnector, Clock, ConnectionKind, IcsRead, IcsReader, Session, SourcedBusyInterval, Store } from '../domain/index.js';
import { loggableError, type Logger } from '../logger.js';
import { connectorSession, markNeedsReauth, openTokens } from '../sync/index.js';

export type BusySourceInput = { kind: 'ics'; url: string } | { kind: 'connection'; connectionId: string };

/** A session written over busy time: accepted, with this warning (the provider may mean it). */
export interface BusyConflict {
  code: 'BUSY_CONFLICT';
  message: string;
  from: string;
  to: string;
  sourceIds: string[];
}

export interface BusyServiceOptions {
  store: Store;
  clock: Clock;
  secrets: SecretBox;
  ics: IcsReader;
  logger: Logger;
  /** The vendor adapters connection sources are read through (the sync engine's, by kind). */
  connectors: ReadonlyMap<ConnectionKind, CalendarConnector>;
  /** How often the worker reads each source again. */
  refreshMinutes: number;
}

const DAY_MS = 86_400_000;
/** The longest window GET .../busy answers. */
export const MAX_BUSY_WINDOW_DAYS = 90;
// What is kept of a source: from a week back (sessions being moved) to a year ahead (as feeds show).
const KEEP_PAST_DAYS = 7;
const KEEP_FUTURE_DAYS = 366;
/** A worker's claim on a source it reads: another process may take it after this. */
const CLAIM_MS = 5 * 60_000;
/** The additional data every busy source address is sealed under. */
export const SEAL_CONTEXT = 'busy-source-url';

export class BusyService {
  private readonly log: Logger;

  constructor(private readonly options: BusyServiceOptions) {
    this.log = options.logger.child({ module: 'busy' });
  }

  async put(providerId: string, sourceId: string, input: BusySourceInput): Promise<{ value: BusySource; created: boolean }> {
    const { store, clock, secrets, ics } = this.options;
    const now = clock.now().toISOString();
    let fields: Pick<BusySource, 'kind' | 'urlSealed' | 'urlHost' | 'connectionId'>;
    let url: string | null = null;
    if (input.kind === 'ics') {
      const checked = ics.normalize(input.url);
      if (!(checked instanceof URL)) throw validationError([{ path: 'url', message: checked.reason }], `The calendar address is refused: ${checked.reason}`);
      url = checked.href;
      fields = { kind: 'ics', urlSealed: secrets.seal(url, SEAL_CONTEXT), urlHost: checked.host, connectionId: null };
    } else {
      fields = { kind: 'connection', urlSealed: null, urlHost: null, connectionId: input.connectionId };
    }
    return store.transaction(async (tx) => {
      await tx.lockProvider(providerId);
      writableProvider(await tx.getProvider(providerId), providerId);
      if (fields.connectionId !== null) {
        // One of this provider's own connections, not one it disconnected; any other status is
        // accepted and read as an error until the connection is active (re-authorised).
        const connection = await tx.getConnection(fields.connectionId);
        if (connection === null || connection.providerId !== providerId || connection.status === 'disconnected' || connection.cleanup !== null) throw connectionNotFound(fields.connectionId);
      }
      const existing = await tx.getBusySource(providerId, sourceId);
      // The same address (or connection) again keeps what was read; another one starts over.
      const same =
        existing !== null &&
        existing.kind === fields.kind &&
        (fields.kind === 'ics'
          ? existing.urlSealed !== null && url !== null && secrets.open(existing.urlSealed, SEAL_CONTEXT) === url
          : existing.connectionId === fields.connectionId);
      const value: BusySource =
        same && existing !== null
          ? { ...existing, updatedAt: now }
          : {
              providerId,
              id: sourceId,
              ...fields,
              status: 'pending',
              lastFetchedAt: null,
              lastErrorCode: null,
              etag: null,
              lastModified: null,
              intervalCount: 0,
              nextFetchAt: now,
              createdAt: existing?.createdAt ?? now,
              updatedAt: now,
            };
      if (!same && existing !== null) await tx.replaceBusyIntervals(providerId, sourceId, []);
      await tx.putBusySource(value);
      return { value, created: existing === null };
    });
  }

  async list(providerId: string): Promise<BusySource[]> {
    await this.assertProvider(providerId);
    return this.options.store.listBusySources(providerId);
  }

  async delete(providerId: string, sourceId: string): Promise<void> {
    await this.assertProvider(providerId);
    const removed = await this.options.store.transaction((tx) => tx.deleteBusySource(providerId, sourceId));
    if (!removed) throw busySourceNotFound(sourceId);
  }

  /** Reads the source now (POST .../refresh) and answers with what it holds after. */
  async refresh(providerId: string, sourceId: string): Promise<BusySource> {
    await this.assertProvider(providerId);
    const source = await this.options.store.getBusySource(providerId, sourceId);
    if (source === null) throw busySourceNotFound(sourceId);
    return (await this.read(source)) ?? source;
  }

  /** The worker's round: reads up to `limit` sources that are due; returns how many it read. */
  async refreshDue(limit: number): Promise<number> {
    const now = this.options.clock.now();
    const due = await this.options.store.claimDueBusySources(now.toISOString(), new Date(now.getTime() + CLAIM_MS).toISOString(), limit);
    for (const source of due) await this.read(source);
    return due.length;
  }

  /** Merged busy time in [from, to) (at most MAX_BUSY_WINDOW_DAYS), in UTC, with its sources. */
  async busy(providerId: string, from: string, to: string): Promise<SourcedBusyInterval[]> {
    const span = Date.parse(to) - Date.parse(from);
    if (!(span > 0)) throw validationError([{ path: 'to', message: 'must be after from' }]);
    if (span > MAX_BUSY_WINDOW_DAYS * DAY_MS) throw validationError([{ path: 'to', message: `the window may span at most ${MAX_BUSY_WINDOW_DAYS} days` }]);
    await this.assertProvider(providerId);
    return clippedBySource(await this.options.store.listBusyIntervals(providerId, from, to), from, to);
  }

  /** The warnings of a session written over busy time (none for a cancelled one). */
  conflictsWith(session: Pick<Session, 'providerId' | 'start' | 'end' | 'status'>): Promise<BusyConflict[]> {
    return this.conflictsWithAll([session]);
  }

  /**
   * The warnings of sessions of one provider (a series) written over busy time, in their order:
   * one read of the busy time their span covers, rather than one per session.
   */
  async conflictsWithAll(sessions: readonly Pick<Session, 'providerId' | 'start' | 'end' | 'status'>[]): Promise<BusyConflict[]> {
    const scheduled = sessions.filter((s) => s.status === 'scheduled');
    const first = scheduled[0];
    if (first === undefined) return [];
    let from = first.start;
    let to = first.end;
    for (const s of scheduled) {
      if (s.start < from) from = s.start;
      if (s.end > to) to = s.end;
    }
    const stored = await this.options.store.listBusyIntervals(first.providerId, from, to);
    return scheduled.flatMap((s) =>
      clippedBySource(
        stored.filter((i) => i.end > s.start && i.start < s.end),
        s.start,
        s.end,
      ).map((b): BusyConflict => ({
        code: 'BUSY_CONFLICT',
        message: 'The session overlaps busy time in another of the provider\'s calendars.',
        from: b.start,
        to: b.end,
        sourceIds: b.sourceIds,
      })),
    );
  }

  private async assertProvider(providerId: string) {
    const provider = await this.options.store.getProvider(providerId);
    if (provider === null) throw providerNotFound(providerId);
    return provider;
  }

  /**
   * Reads one source and stores the outcome; null when it was removed meanwhile. A failed read
   * keeps the intervals of the last good one: stale busy time hides a free slot, none at all
   * would offer a taken one.
   */
  private async read(source: BusySource): Promise<BusySource | null> {
    const { store, clock, refreshMinutes } = this.options;
    const provider = await store.getProvider(source.providerId);
    if (provider === null) return null;
    const started = clock.now();
    const window = { from: new Date(started.getTime() - KEEP_PAST_DAYS * DAY_MS), to: new Date(started.getTime() + KEEP_FUTURE_DAYS * DAY_MS) };
    const outcome = await this.readOutcome(source, provider.timezone, window).catch((err: unknown): IcsRead => {
      this.log.warn({ err: loggableError(err), providerId: source.providerId, sourceId: source.id }, 'busy source read failed unexpectedly');
      return { status: 'error', code: 'SOURCE_READ_FAILED' };
    });
    const now = clock.now();
    const next = new Date(now.getTime() + refreshMinutes * 60_000).toISOString();
    return store.transaction(async (tx) => {
      await tx.lockProvider(source.providerId);
      const current = await tx.getBusySource(source.providerId, source.id);
      // Removed, or pointed at another address or connection while this read ran: its result is not this source's.
      if (current === null || current.kind !== source.kind || current.urlSealed !== source.urlSealed || current.connectionId !== source.connectionId) return current;
      const at = now.toISOString();
      let value: BusySource;
      switch (outcome.status) {
        case 'ok':
          await tx.replaceBusyIntervals(source.providerId, source.id, outcome.intervals);
          value = { ...current, status: 'ok', lastFetchedAt: at, lastErrorCode: outcome.truncated ? 'SOURCE_TRUNCATED' : null, etag: outcome.etag, lastModified: outcome.lastModified, intervalCount: outcome.intervals.length, nextFetchAt: next, updatedAt: at };
          break;
        case 'not_modified':
          value = { ...current, status: 'ok', lastFetchedAt: at, lastErrorCode: null, nextFetchAt: next, updatedAt: at };
          break;
        case 'error':
          this.log.info({ providerId: source.providerId, sourceId: source.id, code: outcome.code }, 'busy source read failed');
          value = { ...current, status: 'error', lastFetchedAt: at, lastErrorCode: outcome.code, nextFetchAt: next, updatedAt: at };
          break;
        default: {
          const unknown: never = outcome;
          throw new Error(`unknown read outcome ${String(unknown)}`);
        }
      }
      await tx.putBusySource(value);
      return value;
    });
  }

  /** Async throughout, so that anything thrown (an address that no longer opens) becomes SOURCE_READ_FAILED. */
  private async readOutcome(source: BusySource, providerZone: string, window: { from: Date; to: Date }): Promise<IcsRead> {
    switch (source.kind) {
      case 'ics':
        if (source.urlSealed === null) return { status: 'error', code: 'SOURCE_READ_FAILED' };
        return this.options.ics.read(new URL(this.options.secrets.open(source.urlSealed, SEAL_CONTEXT)), {
          etag: source.etag,
          lastModified: source.lastModified,
          providerZone,
          ...window,
          ownUids: () => this.ownGoogleUids(source.providerId),
        });
      case 'connection':
        return this.readConnection(source, providerZone, window);
      default: {
        const unknown: never = source.kind;
        throw new Error(`unknown busy source kind ${String(unknown)}`);
      }
    }
  }

  /**
   * The UIDs our pushed events have in a Google calendar's ICS export: Google exports an event
   * created with a client-chosen id (ours: the target's idempotency key) as `<id>@google.com`, so
   * a provider who adds that calendar's secret address does not see our sessions as busy time.
   * (Outlook exports Exchange's own iCalUId, which we do not keep: there, only the sessions'
   * times tell, and they are not subtracted, since a real conflict must still show.)
   */
  private async ownGoogleUids(providerId: string): Promise<Set<string>> {
    const uids = new Set<string>();
    for (const connection of await this.options.store.listConnections(providerId)) {
      if (connection.kind !== 'google') continue;
      for (const target of await this.options.store.listTargets(connection.id)) if (target.externalId !== null) uids.add(`${target.externalId}@google.com`);
    }
    return uids;
  }

  /**
   * A connected calendar through its vendor's connector, with the connection's own tokens (those
   * refreshed on the way are stored). Nothing is asked of the vendor for a connection that is not
   * active. A grant found gone pauses the connection as the sync worker does (needs_reauth, so its
   * pushes wait too) and the source says CONNECTION_NEEDS_REAUTH until the provider reconnects.
   */
  private async readConnection(source: BusySource, providerZone: string, window: { from: Date; to: Date }): Promise<IcsRead> {
    const { store, secrets, clock, connectors } = this.options;
    const failed = (code: string): IcsRead => ({ status: 'error', code });
    const connection = source.connectionId === null ? null : await store.getConnection(source.connectionId);
    if (connection === null || connection.providerId !== source.providerId) return failed('CONNECTION_NOT_FOUND');
    if (connection.status === 'needs_reauth') return failed('CONNECTION_NEEDS_REAUTH');
    if (connection.status !== 'active' || connection.cleanup !== null) return failed('CONNECTION_NOT_ACTIVE');
    const connector = connectors.get(connection.kind);
    if (connector === undefined) return failed('CONNECTOR_NOT_CONFIGURED');
    let tokens;
    try {
      tokens = openTokens(secrets, connection);
    } catch {
      // The sync worker moves the connection to `error` for this; busy time just says so.
      return failed('TOKENS_UNREADABLE');
    }
    if (tokens === null) return failed('CONNECTION_NOT_ACTIVE');
    const ids = { providerId: source.providerId, sourceId: source.id, connectionId: connection.id };
    try {
      const intervals = await connector.readBusy(connectorSession({ store, secrets, clock }, connection, tokens), {
        from: window.from.toISOString(),
        to: window.to.toISOString(),
        providerZone,
      });
      return { status: 'ok', intervals, truncated: false, etag: null, lastModified: null };
    } catch (err) {
      if (!(err instanceof SyncError)) throw err;
      if (err.kind === 'auth') {
        await markNeedsReauth(store, connection.id, err.code, clock.now().toISOString());
        this.log.warn({ ...ids, code: err.code }, 'connection needs re-authorisation; its busy time is not read');
        return failed('CONNECTION_NEEDS_REAUTH');
      }
      // Retryable or not, the next round reads it again: SOURCE_RATE_LIMITED, SOURCE_HTTP_503...
      return failed(`SOURCE_${err.code}`);
    }
  }
}

function connectionNotFound(connectionId: string): AppError {
  return new AppError({
    code: ErrorCode.CONNECTION_NOT_FOUND,
    status: 404,
    message: `Connection ${connectionId} does not exist.`,
    details: [{ path: 'connectionId', message: 'no such connection of this provider' }],
  });
}

/** Stored intervals clipped to [from, to) (ISO instants compare as text) and merged with their sources. */
function clippedBySource(stored: readonly StoredBusyInterval[], from: string, to: string): SourcedBusyInterval[] {
  return mergeBySource(stored.map((i) => ({ sourceId: i.sourceId, start: i.start < from ? from : i.start, end: i.end > to ? to : i.end })));
}

export function busySourceNotFound(sourceId: string): AppError {
  return notFound(ErrorCode.BUSY_SOURCE_NOT_FOUND, `Busy source ${sourceId} does not exist.`);
}
