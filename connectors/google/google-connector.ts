import { calendar } from '@googleapis/calendar';
import type { calendar_v3 } from '@googleapis/calendar';
import type { Credentials, OAuth2Client } from 'google-auth-library';
import { isStoredInstant, mergeWithin, SyncError } from '../../src/domain/index.js';
import type { BusyInterval, CalendarConnector, ConnectorSession, OAuthTokens, RemoteEvent } from '../../src/domain/index.js';
import { classifyGoogleError, httpStatusOf } from './google-errors.js';
import { BUSY_FIELDS, TAG_FILTER, busyIntervalOf, fromGoogleEvent, tagOf, toGoogleEvent } from './google-event-mapper.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, createOAuth2Client, toOAuthTokens } from './google-oauth.js';
import type { GoogleConfig } from './google-oauth.js';

// CalendarConnector for Google Calendar v3 (DESIGN.md, "Push sync"): our own event ids make
// inserts idempotent, updates are full `update`s, only events carrying our private extended
// property are read back, and nobody is ever notified (`sendUpdates: 'none'`).

export interface GoogleConnectorDeps {
  /** Per HTTP request; a hung request becomes a retryable NETWORK_TIMEOUT. */
  requestTimeoutMs?: number;
}

/** events.list page size: the API's maximum. */
const LIST_PAGE_SIZE = 2500;

function isGone(error: unknown): boolean {
  const status = httpStatusOf(error);
  return status === 404 || status === 410;
}

export function createGoogleConnector(config: GoogleConfig, deps: GoogleConnectorDeps = {}): CalendarConnector {
  const timeoutMs = deps.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;

  /**
   * Runs `work` with a Calendar client acting for `session`, created per call so it always starts
   * from the tokens the caller holds. Tokens the library refreshes are handed to
   * session.onTokens before this returns. Everything thrown leaves as a SyncError.
   */
  async function withCalendar<T>(session: ConnectorSession, operation: string, work: (api: calendar_v3.Calendar) => Promise<T>): Promise<T> {
    const client = createOAuth2Client(config, timeoutMs);
    client.setCredentials({
      access_token: session.tokens.accessToken,
      refresh_token: session.tokens.refreshToken,
      // Always some expiry: with none, OAuth2Client refreshes and re-sends on any 401 *or 403*
      // by itself, turning a 403 rate limit into a token refresh plus a second write. An unknown
      // expiry is treated as expired (refresh first), which also learns the real one.
      expiry_date: session.tokens.expiresAt ?? 1,
      scope: session.tokens.scope ?? undefined,
      token_type: 'Bearer',
    });

    let latest: OAuthTokens = session.tokens;
    const persisted: Promise<unknown>[] = [];
    client.on('tokens', (credentials: Credentials) => {
      latest = toOAuthTokens(credentials, latest);
      // Settled into a value at once so that a failing store cannot become an unhandled rejection.
      persisted.push(session.onTokens(latest).then(
        () => null,
        (error: unknown) => error ?? new Error('onTokens failed'),
      ));
    });

    const api = calendar({
      version: 'v3',
      // Must be given here: the generated client ignores global root URL settings.
      rootUrl: config.apiRootUrl,
      auth: client,
      // Same as the transporter defaults of createOAuth2Client (which alone suffice), stated
      // here too so that no API call relies on a merge order: the sync engine owns retries.
      retry: false,
      retryConfig: { retry: 0, noResponseRetries: 0 },
      timeout: timeoutMs,
    });

    let result: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      result = { ok: true, value: await withOneReauth(client, () => work(api)) };
    } catch (error) {
      result = { ok: false, error };
    }
    const persistFailures = (await Promise.all(persisted)).filter((outcome) => outcome !== null);
    if (!result.ok) throw classifyGoogleError(result.error, operation);
    if (persistFailures.length > 0) {
      // The remote write happened; a retry repeats it idempotently and persists the tokens then.
      throw new SyncError({ kind: 'retryable', code: 'TOKEN_PERSIST_FAILED', message: `Google ${operation}: refreshed tokens could not be stored` });
    }
    return result.value;
  }

  /**
   * A 401 while our clock still thinks the access token is good (revoked, rotated, clock skew):
   * refresh once and run the work once more. OAuth2Client does this itself only for credentials
   * without an expiry, which we never hand it (see above). A second 401 is classified 'auth'.
   * The work is idempotent as a whole, so repeating its earlier steps is safe.
   */
  async function withOneReauth<T>(client: OAuth2Client, attempt: () => Promise<T>): Promise<T> {
    try {
      return await attempt();
    } catch (error) {
      if (httpStatusOf(error) !== 401 || !client.credentials.refresh_token) throw error;
      await client.refreshAccessToken();
      return await attempt();
    }
  }

  return {
    kind: 'google',

    async upsert(session, target, externalId, event, tag, reminders = null) {
      return withCalendar(session, 'upsert', async (api) => {
        const { calendarId } = target;
        const body = toGoogleEvent(event, tag, undefined, reminders);
        if (externalId !== null) {
          try {
            await api.events.update({ calendarId, eventId: externalId, sendUpdates: 'none', requestBody: body });
            return { externalId };
          } catch (error) {
            // 404/410: not there any more (purged, or never created): create it below.
            if (!isGone(error)) throw error;
          }
        }

        const id = target.idempotencyKey;
        try {
          await api.events.insert({ calendarId, sendUpdates: 'none', requestBody: toGoogleEvent(event, tag, id, reminders) });
          return { externalId: id };
        } catch (error) {
          if (httpStatusOf(error) !== 409) throw error;
        }

        // 409: our id is taken. Either an earlier insert whose response was lost, or an event
        // deleted since: Google keeps deleted events (status "cancelled") and their ids stay
        // taken. Make sure it is ours, then a full update with status "confirmed" restores it.
        const { data: existing } = await api.events.get({ calendarId, eventId: id });
        if (tagOf(existing)?.key !== tag.key) {
          throw new SyncError({ kind: 'permanent', code: 'EVENT_ID_TAKEN', message: 'Google upsert: our event id is held by an event that is not ours' });
        }
        await api.events.update({ calendarId, eventId: id, sendUpdates: 'none', requestBody: body });
        return { externalId: id };
      });
    },

    async remove(session, externalId) {
      await withCalendar(session, 'remove', async (api) => {
        try {
          await api.events.delete({ calendarId: session.calendarId, eventId: externalId, sendUpdates: 'none' });
        } catch (error) {
          // 410 "deleted" (already cancelled) and 404 both mean: nothing left to delete.
          if (!isGone(error)) throw error;
        }
      });
    },

    async removeByKey(session, target, key) {
      await withCalendar(session, 'remove', async (api) => {
        const { calendarId, idempotencyKey: eventId } = target;
        let existing;
        try {
          ({ data: existing } = await api.events.get({ calendarId, eventId }));
        } catch (error) {
          if (isGone(error)) return;
          throw error;
        }
        // Our id held by an event that is not ours (see upsert's 409), or already deleted.
        if (tagOf(existing)?.key !== key || existing.status === 'cancelled') return;
        try {
          await api.events.delete({ calendarId, eventId, sendUpdates: 'none' });
        } catch (error) {
          if (!isGone(error)) throw error;
        }
      });
    },

    async listTagged(session, range) {
      return withCalendar(session, 'list', async (api) => {
        const found: RemoteEvent[] = [];
        const query = {
          calendarId: session.calendarId,
          privateExtendedProperty: [TAG_FILTER],
          // Exclusive lower bound on the event's *end*: events still running at `from` count.
          timeMin: range.from,
          showDeleted: true,
          singleEvents: true,
        };
        for await (const item of eventPages(api, query)) {
          const remote = fromGoogleEvent(item);
          if (remote !== null) found.push(remote);
        }
        return found;
      });
    },

    // events.list rather than freeBusy.query: freeBusy answers merged blocks with no way to leave
    // out our own pushed events (they would count as busy time again), and the calendar.events
    // scope we ask for does not cover it (it needs calendar.readonly, calendar.freebusy or
    // calendar.events.freebusy: a new consent from every connection). The `fields` mask keeps
    // titles, descriptions and attendees' addresses at Google.
    async readBusy(session, range) {
      if (!isStoredInstant(range.from) || !isStoredInstant(range.to)) {
        throw new SyncError({ kind: 'permanent', code: 'INVALID_RANGE', message: 'Google busy: the window needs ISO-8601 UTC instants' });
      }
      return withCalendar(session, 'busy', async (api) => {
        const found: BusyInterval[] = [];
        const query = {
          calendarId: session.calendarId,
          // Exclusive bounds: events ending after `from` and starting before `to`.
          timeMin: range.from,
          timeMax: range.to,
          // Recurring series as their instances, each with its own times and status.
          singleEvents: true,
          fields: BUSY_FIELDS,
        };
        for await (const item of eventPages(api, query)) {
          const busy = busyIntervalOf(item, range.providerZone);
          if (busy !== null) found.push(busy);
        }
        return mergeWithin(found, range);
      });
    },
  };
}

/** Every event events.list answers for `query`, page after page (LIST_PAGE_SIZE at a time). */
async function* eventPages(api: calendar_v3.Calendar, query: calendar_v3.Params$Resource$Events$List): AsyncGenerator<calendar_v3.Schema$Event> {
  let pageToken: string | undefined;
  do {
    const { data } = await api.events.list({ ...query, maxResults: LIST_PAGE_SIZE, ...(pageToken === undefined ? {} : { pageToken }) });
    yield* data.items ?? [];
    pageToken = data.nextPageToken ?? undefined;
  } while (pageToken !== undefined);
}
