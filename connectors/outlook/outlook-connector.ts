import type { AuthenticationProvider, Context, GraphRequest, Middleware, MiddlewareOptions } from '@microsoft/microsoft-graph-client';
import { AuthenticationHandler, AuthenticationHandlerOptions, Client, TelemetryHandler } from '@microsoft/microsoft-graph-client';
import type { BusyInterval, BusyReadRange, CalendarConnector, Clock, ConnectorSession, ConnectorTarget, OAuthTokens, RemoteEvent } from '../../src/domain/index.js';
import { isStoredInstant, mergeWithin, SyncError } from '../../src/domain/index.js';
import type { GraphEventRead } from './graph-event-mapper.js';
import {
  EXPAND_TAG_KEY,
  EXPAND_TAG_PROPERTIES,
  SELECT_BUSY_FIELDS,
  SELECT_READ_FIELDS,
  busyIntervalOfGraph,
  filterByTagKey,
  filterTaggedEndingAfter,
  fromGraphEvent,
  readTag,
  toGraphCreateEvent,
  toGraphEvent,
} from './graph-event-mapper.js';
import { graphStatus, toSyncError } from './graph-errors.js';
import type { MicrosoftConfig, MicrosoftHttpDeps, MicrosoftTokenClient } from './microsoft-oauth.js';
import { createMicrosoftTokenClient, resolveMicrosoftConfig, systemClock } from './microsoft-oauth.js';

// CalendarConnector for Outlook / Microsoft 365 calendars through Microsoft Graph v1.0
// (DESIGN.md, "Push sync"). Creates carry a deterministic transactionId and are preceded by a
// lookup of our tag, PATCH updates, ids are immutable, at most two requests per mailbox in flight.
//
// The Graph client's default middleware chain (Client.init / initWithMiddleware with an
// authProvider) includes RetryHandler, which retries POST/PATCH on 429/503/504 by itself and
// sleeps inside the call. We build the chain ourselves without it (and without RedirectHandler):
// TelemetryHandler -> RefreshOnUnauthorized -> AuthenticationHandler -> FetchHandler. The sync
// engine owns retries and backoff (SyncError.retryAfterMs carries Retry-After).

export interface OutlookConnectorDeps extends MicrosoftHttpDeps {
  /** Requests in flight per mailbox (connection); Microsoft allows 4, we keep to 2. Default 2. */
  maxConcurrentPerConnection?: number;
}

/** Refresh this long before the access token's stated expiry. */
const EXPIRY_SKEW_MS = 60_000;

/** Ask for immutable ids (stable across folder moves) and times in UTC on every request. */
const PREFER = 'IdType="ImmutableId", outlook.timezone="UTC"';

const PAGE_SIZE = 100;
/** calendarView page size for busy time: a year of a busy calendar (~2,000 events) in 8 small pages. */
const BUSY_PAGE_SIZE = 250;


/** At most `limit` tasks at a time per key; waiting tasks start in arrival order. */
class KeyedSemaphore {
  private readonly slots = new Map<string, { active: number; waiting: (() => void)[] }>();

  constructor(private readonly limit: number) {}

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = { active: 0, waiting: [] };
      this.slots.set(key, slot);
    }
    if (slot.active >= this.limit) {
      const current = slot;
      await new Promise<void>((resolve) => current.waiting.push(resolve));
    } else {
      slot.active += 1;
    }
    try {
      return await task();
    } finally {
      const next = slot.waiting.shift();
      if (next !== undefined) {
        next(); // the slot passes straight to the next waiter
      } else {
        slot.active -= 1;
        if (slot.active === 0) this.slots.delete(key);
      }
    }
  }
}

/**
 * The access token of one connection: refreshed shortly before expiry or after a 401, one refresh
 * at a time, each refresh handed to session.onTokens so the store keeps the newest tokens. If
 * storing fails, the request fails (retryable, before its write) and the next call stores them
 * again before doing anything else; the new tokens are used meanwhile.
 */
class ConnectionTokens {
  private received: OAuthTokens;
  private current: OAuthTokens;
  private unsaved: OAuthTokens | null = null;
  private session: ConnectorSession;
  private refreshing: Promise<void> | null = null;

  constructor(
    session: ConnectorSession,
    private readonly tokenClient: MicrosoftTokenClient,
    private readonly clock: Clock,
  ) {
    this.session = session;
    this.received = session.tokens;
    this.current = session.tokens;
  }

  /** Tokens from the store win unless they are the ones we started from or already replaced. */
  bind(session: ConnectorSession): void {
    this.session = session;
    const incoming = session.tokens.accessToken;
    if (incoming !== this.received.accessToken && incoming !== this.current.accessToken) {
      this.received = session.tokens;
      this.current = session.tokens;
      this.unsaved = null;
    }
  }

  async accessToken(): Promise<string> {
    if (this.refreshing !== null) await this.refreshing;
    await this.persist();
    const { expiresAt } = this.current;
    if (expiresAt !== null && expiresAt - EXPIRY_SKEW_MS <= this.clock.now().getTime()) await this.refresh();
    return this.current.accessToken;
  }

  /** After a 401 for `rejected`: refresh unless someone already replaced that token. */
  async replace(rejected: string | null): Promise<void> {
    if (this.refreshing !== null) {
      await this.refreshing;
      return;
    }
    if (rejected !== null && rejected !== this.current.accessToken) return;
    await this.refresh();
  }

  private refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const { refreshToken } = this.current;
    if (refreshToken === null) {
      throw new SyncError({ kind: 'auth', code: 'NO_REFRESH_TOKEN', message: 'The access token expired and there is no refresh token.' });
    }
    const tokens = await this.tokenClient.refresh(refreshToken);
    this.current = tokens;
    this.unsaved = tokens;
    await this.persist();
  }

  private async persist(): Promise<void> {
    const tokens = this.unsaved;
    if (tokens === null) return;
    try {
      await this.session.onTokens(tokens);
    } catch {
      throw new SyncError({ kind: 'retryable', code: 'TOKEN_PERSIST_FAILED', message: 'Refreshed Microsoft tokens could not be stored.' });
    }
    if (this.unsaved === tokens) this.unsaved = null;
  }
}

/**
 * Per-request middleware options: which connection's tokens to use, whether the 401 retry was
 * spent, and the SyncError behind a failure inside the chain (the client wraps whatever a
 * middleware throws into a GraphError, losing our classification).
 */
class ConnectionRequestOptions implements MiddlewareOptions {
  retriedAfter401 = false;
  failure: SyncError | null = null;
  readonly authProvider: AuthenticationProvider;

  constructor(
    readonly tokens: ConnectionTokens,
    private readonly clock: Clock,
  ) {
    this.authProvider = {
      getAccessToken: async () => {
        try {
          return await this.tokens.accessToken();
        } catch (error) {
          throw this.fail(error);
        }
      },
    };
  }

  fail(error: unknown): SyncError {
    this.failure = toSyncError(error, this.clock.now().getTime());
    return this.failure;
  }
}

function headerRecord(context: Context): Record<string, string> | null {
  const headers = context.options?.headers;
  if (headers === undefined || headers instanceof Headers || Array.isArray(headers)) return null;
  return headers as Record<string, string>;
}

/**
 * Graph answers 401 when an access token expired early or was revoked: refresh once and send the
 * request again (with the new token). A second 401 goes back to the caller as 'auth'.
 */
class RefreshOnUnauthorized implements Middleware {
  private next: Middleware | undefined;

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    const next = this.next;
    if (next === undefined) throw new Error('RefreshOnUnauthorized needs a next middleware.');
    await next.execute(context);
    const options = context.middlewareControl?.getMiddlewareOptions(ConnectionRequestOptions);
    if (context.response?.status !== 401 || !(options instanceof ConnectionRequestOptions) || options.retriedAfter401) return;
    options.retriedAfter401 = true;
    const headers = headerRecord(context);
    const sent = headers?.Authorization?.replace(/^Bearer /, '') ?? null;
    try {
      await options.tokens.replace(sent);
    } catch (error) {
      throw options.fail(error);
    }
    await context.response.body?.cancel();
    // AuthenticationHandler appends to an existing Authorization header: remove the stale one.
    if (headers !== null) delete headers.Authorization;
    await next.execute(context);
  }
}

/** The end of the chain: the injected fetch (the client's HTTPMessageHandler only uses the global one). */
class FetchHandler implements Middleware {
  constructor(private readonly fetchImpl: typeof fetch) {}

  async execute(context: Context): Promise<void> {
    context.response = await this.fetchImpl(context.request, context.options as RequestInit);
  }
}

function calendarPath(calendarId: string): string {
  return calendarId === 'primary' ? '/me/calendar' : `/me/calendars/${encodeURIComponent(calendarId)}`;
}

interface GraphPage {
  value?: GraphEventRead[];
  '@odata.nextLink'?: string;
}

export function createOutlookConnector(config: MicrosoftConfig, deps: OutlookConnectorDeps = {}): CalendarConnector {
  const resolved = resolveMicrosoftConfig(config);
  const clock = deps.clock ?? systemClock;
  const tokenClient = createMicrosoftTokenClient(config, deps);
  const limiter = new KeyedSemaphore(deps.maxConcurrentPerConnection ?? 2);
  const connections = new Map<string, ConnectionTokens>();

  const telemetry = new TelemetryHandler();
  const refresher = new RefreshOnUnauthorized();
  // The default provider is never used: every request names its connection's provider.
  const auth = new AuthenticationHandler({
    getAccessToken: () => Promise.reject(new Error('A Graph request was sent without its connection.')),
  });
  telemetry.setNext(refresher);
  refresher.setNext(auth);
  auth.setNext(new FetchHandler(deps.fetch ?? globalThis.fetch));

  const graphUrl = new URL(resolved.graphUrl);
  if (graphUrl.protocol !== 'https:') {
    // The Graph client never attaches the bearer token to a non-https URL: fail at start, not with 401s.
    throw new Error('The Microsoft Graph URL must be https.');
  }
  const client = Client.initWithMiddleware({
    middleware: telemetry,
    baseUrl: resolved.graphUrl,
    // AuthenticationHandler attaches the bearer token only to https URLs on graph.microsoft.com
    // (and national clouds) or on these hosts; hostnames only, no port.
    customHosts: new Set([graphUrl.hostname]),
    ...(deps.fetchOptions === undefined ? {} : { fetchOptions: deps.fetchOptions }),
  });

  function tokensFor(session: ConnectorSession): ConnectionTokens {
    let tokens = connections.get(session.connectionId);
    if (tokens === undefined) {
      tokens = new ConnectionTokens(session, tokenClient, clock);
      connections.set(session.connectionId, tokens);
    } else {
      tokens.bind(session);
    }
    return tokens;
  }

  /**
   * Every page of a Graph collection: the first request as `first` builds it, then each
   * @odata.nextLink, which must stay on Graph's own host (the request carries the tokens).
   */
  async function* pages(session: ConnectorSession, first: (api: (path: string) => GraphRequest) => GraphRequest): AsyncGenerator<GraphPage> {
    let next: string | undefined = undefined;
    do {
      const link: string | undefined = next;
      const page: GraphPage = await send<GraphPage>(session, (api) => (link !== undefined ? api(link) : first(api)), (request) => request.get() as Promise<GraphPage>);
      yield page;
      next = page['@odata.nextLink'];
      if (next !== undefined && new URL(next).origin !== graphUrl.origin) {
        throw new SyncError({ kind: 'permanent', code: 'UNEXPECTED_NEXT_LINK', message: 'Microsoft Graph returned a next page on another host.' });
      }
    } while (next !== undefined);
  }

  /** One Graph request under the connection's concurrency limit; failures stay raw for the caller. */
  function send<T>(session: ConnectorSession, build: (api: (path: string) => GraphRequest) => GraphRequest, run: (request: GraphRequest) => Promise<T>): Promise<T> {
    const tokens = tokensFor(session);
    return limiter.run(session.connectionId, async () => {
      const options = new ConnectionRequestOptions(tokens, clock);
      const request = build((path) => client.api(path))
        .header('Prefer', PREFER)
        .middlewareOptions([options, new AuthenticationHandlerOptions(options.authProvider)]);
      try {
        return await run(request);
      } catch (error) {
        throw options.failure ?? error;
      }
    });
  }

  const fail = (error: unknown): SyncError => toSyncError(error, clock.now().getTime());

  async function findByKey(session: ConnectorSession, calendar: string, key: string): Promise<GraphEventRead[]> {
    const page = await send<GraphPage>(
      session,
      (api) => api(`${calendar}/events`).filter(encodeURIComponent(filterByTagKey(key))).expand(encodeURIComponent(EXPAND_TAG_PROPERTIES)).select(SELECT_READ_FIELDS).top(10),
      (request) => request.get() as Promise<GraphPage>,
    );
    // Graph compares extended property values case-insensitively: keep exact matches only.
    return (page.value ?? []).filter((raw) => typeof raw.id === 'string' && readTag(raw)?.key === key);
  }

  async function patch(session: ConnectorSession, calendar: string, id: string, body: unknown): Promise<GraphEventRead> {
    return send<GraphEventRead>(
      session,
      (api) => api(`${calendar}/events/${encodeURIComponent(id)}`),
      (request) => request.patch(body) as Promise<GraphEventRead>,
    );
  }

  async function deleteEvent(session: ConnectorSession, calendar: string, id: string): Promise<void> {
    try {
      await send(
        session,
        (api) => api(`${calendar}/events/${encodeURIComponent(id)}`),
        (request) => request.delete() as Promise<unknown>,
      );
    } catch (error) {
      const status = graphStatus(error);
      if (status === 404 || status === 410) return;
      throw fail(error);
    }
  }

  return {
    kind: 'outlook',

    async upsert(session: ConnectorSession, target: ConnectorTarget, externalId: string | null, event, tag, reminders = null) {
      let update: ReturnType<typeof toGraphEvent>;
      let create: ReturnType<typeof toGraphCreateEvent>;
      try {
        update = toGraphEvent(event, tag, reminders);
        create = toGraphCreateEvent(event, tag, target.idempotencyKey, reminders);
      } catch (error) {
        throw new SyncError({ kind: 'permanent', code: 'INVALID_EVENT', message: 'The event cannot be written to Microsoft Graph.', cause: error });
      }
      const calendar = calendarPath(target.calendarId);
      try {
        if (externalId !== null) {
          try {
            const updated = await patch(session, calendar, externalId, update);
            return { externalId: typeof updated.id === 'string' ? updated.id : externalId };
          } catch (error) {
            // Gone (deleted in Outlook): make it again below; anything else is a real failure.
            if (graphStatus(error) !== 404) throw error;
          }
        }
        // A create whose response was lost left an event carrying our tag: adopt it, no duplicate.
        const [existing, ...duplicates] = await findByKey(session, calendar, tag.key);
        if (existing?.id !== undefined) {
          const updated = await patch(session, calendar, existing.id, update);
          for (const duplicate of duplicates) if (duplicate.id !== undefined) await deleteEvent(session, calendar, duplicate.id);
          return { externalId: typeof updated.id === 'string' ? updated.id : existing.id };
        }
        const created = await send<GraphEventRead>(
          session,
          (api) => api(`${calendar}/events`),
          (request) => request.post(create) as Promise<GraphEventRead>,
        );
        if (typeof created.id !== 'string' || created.id === '') {
          throw new SyncError({ kind: 'retryable', code: 'CREATE_RESPONSE_INVALID', message: 'Microsoft Graph created an event without returning its id.' });
        }
        return { externalId: created.id };
      } catch (error) {
        throw fail(error);
      }
    },

    async remove(session: ConnectorSession, externalId: string) {
      await deleteEvent(session, calendarPath(session.calendarId), externalId);
    },

    async removeByKey(session: ConnectorSession, target: ConnectorTarget, key: string) {
      const calendar = calendarPath(target.calendarId);
      let found: GraphEventRead[];
      try {
        found = await findByKey(session, calendar, key);
      } catch (error) {
        throw fail(error);
      }
      for (const event of found) if (event.id !== undefined) await deleteEvent(session, calendar, event.id);
    },

    async readBusy(session: ConnectorSession, range: BusyReadRange): Promise<BusyInterval[]> {
      // calendarView, not /events: it expands recurring series into their occurrences within the
      // window. https://learn.microsoft.com/graph/api/calendar-list-calendarview
      const view = `${calendarPath(session.calendarId)}/calendarView`;
      if (!isStoredInstant(range.from) || !isStoredInstant(range.to)) {
        throw new SyncError({ kind: 'permanent', code: 'INVALID_RANGE', message: 'readBusy needs ISO-8601 UTC instants.' });
      }
      const found: BusyInterval[] = [];
      try {
        const first = (api: (path: string) => GraphRequest) =>
          api(view)
            .query({ startDateTime: encodeURIComponent(range.from), endDateTime: encodeURIComponent(range.to) })
            .select(SELECT_BUSY_FIELDS)
            .expand(encodeURIComponent(EXPAND_TAG_KEY))
            .top(BUSY_PAGE_SIZE);
        for await (const page of pages(session, first)) {
          for (const raw of page.value ?? []) {
            const busy = busyIntervalOfGraph(raw, range.providerZone);
            if (busy !== null) found.push(busy);
          }
        }
      } catch (error) {
        throw fail(error);
      }
      return mergeWithin(found, range);
    },

    async listTagged(session: ConnectorSession, range: { from: string }): Promise<RemoteEvent[]> {
      const calendar = calendarPath(session.calendarId);
      const from = Date.parse(range.from);
      const found: RemoteEvent[] = [];
      try {
        let filter: string;
        try {
          filter = filterTaggedEndingAfter(range.from);
        } catch (error) {
          throw new SyncError({ kind: 'permanent', code: 'INVALID_RANGE', message: 'listTagged needs an ISO-8601 UTC instant.', cause: error });
        }
        const first = (api: (path: string) => GraphRequest) =>
          api(`${calendar}/events`).filter(encodeURIComponent(filter)).expand(encodeURIComponent(EXPAND_TAG_PROPERTIES)).select(SELECT_READ_FIELDS).top(PAGE_SIZE);
        for await (const page of pages(session, first)) {
          for (const raw of page.value ?? []) {
            const remote = fromGraphEvent(raw);
            // The server filters on end already; this keeps the contract if a page says otherwise.
            if (remote !== null && !(Date.parse(remote.end) < from)) found.push(remote);
          }
        }
      } catch (error) {
        throw fail(error);
      }
      return found;
    },
  };
}
