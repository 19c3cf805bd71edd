import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { FakeCalendarServer, FakeFault, FakeOperation, FakeStoredEvent } from './fake-calendar.js';
import { fetchTrustingCertificate, testCertificate } from './test-certificate.js';

// A fake Microsoft Graph v1.0 (calendar events) and Microsoft identity platform token endpoint,
// over HTTPS with a throwaway certificate, speaking closely enough for the real
// @microsoft/microsoft-graph-client: Graph JSON error bodies, transactionId dedupe on create,
// immutable vs. REST ids (Prefer: IdType="ImmutableId"), hard deletes, extended-property $filter
// and $expand in exactly the shapes the Outlook connector sends (anything else is a 400, so drift
// between fake and connector is loud), $select, $top, @odata.nextLink paging with $skip, and
// calendarView (startDateTime/endDateTime: the events overlapping the window).

export interface FakeGraphOptions {
  clientId?: string;
  clientSecret?: string;
  /** Put into the id_token of code redemptions (email and preferred_username). */
  accountEmail?: string;
  /** Default page size of event lists without $top (Graph's is 10). */
  pageSize?: number;
  /** Largest page the fake returns whatever $top says (Graph: 1000 for events); lower it to force paging. */
  maxPageSize?: number;
  /** The fake's clock for token lifetimes; default Date.now. */
  now?: () => number;
  /**
   * Consent starts as an admin's consent for every user (one 'AllPrincipals' grant, with
   * TENANT_WIDE_SCOPE) instead of each user's own 'Principal' grant made when tokens are issued.
   */
  tenantWideConsent?: boolean;
  /**
   * false: the app lacks DelegatedPermissionGrant.ReadWrite.All, so the oauth2PermissionGrants
   * endpoints answer 403 Authorization_RequestDenied. Default true.
   */
  canManagePermissionGrants?: boolean;
  /** Page size of oauth2PermissionGrants lists (Graph's default is 100); lower it to force @odata.nextLink. */
  grantPageSize?: number;
}

/** A delegated permission grant (oAuth2PermissionGrant) of the fake's app, as Graph represents it. */
export interface FakePermissionGrant {
  id: string;
  /** Object id of our app's service principal. */
  clientId: string;
  consentType: 'Principal' | 'AllPrincipals';
  /** The user's object id; null for AllPrincipals. */
  principalId: string | null;
  /** Object id of Microsoft Graph's service principal. */
  resourceId: string;
  /** Space-separated delegated permissions. */
  scope: string;
}

/** What "Grant admin consent" for all of the app's permissions gives: the calendar access included. */
export const TENANT_WIDE_SCOPE = 'Calendars.ReadWrite User.Read offline_access openid email DelegatedPermissionGrant.ReadWrite.All';

export interface RecordedRequest {
  operation: FakeOperation | 'other';
  method: string;
  /** Path without the query, e.g. "/v1.0/me/calendar/events". */
  path: string;
  query: Record<string, string>;
  /** Lower-case header names, as node gives them. */
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON (API) or form fields (token endpoint); null without a body. */
  body: unknown;
  /** The JSON the fake answered a successful API request with (after $select); null otherwise. */
  responseBody: string | null;
}

export interface FakeGraphServer extends FakeCalendarServer {
  /** PEM of the server's self-signed certificate: the CA a client must trust. */
  readonly caCert: string;
  /** Origin to use as the connector's loginUrl (token endpoint at /{tenant}/oauth2/v2.0/token). */
  readonly loginUrl: string;
  /** Same as apiUrl: the connector's graphUrl (requests go to /v1.0/...). */
  readonly graphUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** A fetch that trusts caCert; pass it to the connector as deps.fetch. */
  readonly fetch: typeof fetch;
  /** Every request so far, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** From now on, API requests (not token requests) wait after arrival until released. */
  hold(): void;
  /** Resolves once at least `count` API requests are waiting. */
  waitForHeld(count: number): Promise<void>;
  heldCount(): number;
  /** Lets every currently waiting request proceed (in arrival order); holding stays on. */
  releaseHeld(): void;
  /** Stops holding and releases everything waiting. */
  stopHolding(): void;
  /** Highest number of API requests in flight at once (arrived, not yet answered). */
  maxConcurrentApiRequests(): number;
  /** Makes a calendar id unknown (404) from now on; every other id exists. */
  removeCalendar(calendarId: string): void;
  /**
   * Stores an event as a person's calendar app would have written it: Graph fields as given
   * (start/end as { dateTime, timeZone: 'UTC' }, showAs, isCancelled, isAllDay, subject...) and
   * single-value extended properties. Returns its immutable id.
   */
  putRawEvent(calendarId: string, fields: Record<string, unknown>, properties?: { id: string; value: string }[]): string;
  /** As FakeCalendarServer's; its redemption consents for `user` (a label; default the account email). */
  issueAuthorizationCode(codeChallenge: string, redirectUri: string, user?: string): string;
  /** As FakeCalendarServer's, for `user` (a label; default the account email): users are who consent grants belong to. */
  issueTokens(options?: { expiresInSeconds?: number; user?: string }): { accessToken: string; refreshToken: string; expiresAt: number };
  /** The directory's user object id behind a label (default the account email), created on first use. */
  userId(user?: string): string;
  /** Object id of the app's service principal in the fake tenant (the grants' clientId). */
  readonly servicePrincipalId: string;
  /** The app's delegated permission grants as they stand. */
  permissionGrants(): FakePermissionGrant[];
  /** An admin consents for every user (adds an 'AllPrincipals' grant; default scope TENANT_WIDE_SCOPE). */
  grantTenantWideConsent(scope?: string): void;
}

interface StoredGraphEvent {
  immutableId: string;
  restId: string;
  calendarId: string;
  createdDateTime: string;
  lastModifiedDateTime: string;
  changeKey: string;
  iCalUId: string;
  transactionId: string | null;
  /** Writable Graph fields as last written (subject, body, start, end, location, ...). */
  fields: Record<string, unknown>;
  /** Single-value extended properties by normalised id. */
  properties: Map<string, { id: string; value: string }>;
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Our tag's property ids, as the Outlook connector writes them (for FakeStoredEvent.tag). */
const TAG_KEY_ID = 'String {9ced5288-5cda-49f2-ad67-29584fc43a33} Name sessionsyncKey';
const TAG_REVISION_ID = 'String {9ced5288-5cda-49f2-ad67-29584fc43a33} Name sessionsyncRevision';

const DEFAULT_ERROR_CODES: Record<number, string> = {
  400: 'BadRequest',
  401: 'InvalidAuthenticationToken',
  403: 'ErrorAccessDenied',
  404: 'ErrorItemNotFound',
  409: 'ErrorIrresolvableConflict',
  410: 'ErrorItemNotFound',
  429: 'ApplicationThrottled',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceNotAvailable',
  504: 'GatewayTimeout',
};

/** Properties a client may write; anything else is a 400 like Graph's RequestBodyRead. */
const WRITABLE = new Set([
  'subject',
  'body',
  'start',
  'end',
  'location',
  'isOnlineMeeting',
  'onlineMeetingProvider',
  'sensitivity',
  'showAs',
  'responseRequested',
  'isReminderOn',
  'reminderMinutesBeforeStart',
  'attendees',
  'categories',
  'importance',
  'allowNewTimeProposals',
  'transactionId',
  'singleValueExtendedProperties',
]);

/** Properties $select may name. */
const SELECTABLE = new Set([
  'id',
  'subject',
  'body',
  'bodyPreview',
  'start',
  'end',
  'location',
  'isCancelled',
  'sensitivity',
  'showAs',
  'responseRequested',
  'isOnlineMeeting',
  'onlineMeetingProvider',
  'onlineMeeting',
  'isReminderOn',
  'reminderMinutesBeforeStart',
  'attendees',
  'categories',
  'importance',
  'transactionId',
  'createdDateTime',
  'lastModifiedDateTime',
  'changeKey',
  'iCalUId',
  'organizer',
  'type',
  'isAllDay',
]);

const ONLINE_MEETING_PROVIDERS = new Set(['unknown', 'teamsForBusiness', 'skypeForBusiness', 'skypeForConsumer']);

const QUOTED = "'((?:[^']|'')*)'";
const unquote = (s: string): string => s.replaceAll("''", "'");
const FILTER_BY_VALUE = new RegExp(`^singleValueExtendedProperties/any\\(ep: ep/id eq ${QUOTED} and ep/value eq ${QUOTED}\\)$`, 'i');
const FILTER_HAS_PROPERTY = new RegExp(`^singleValueExtendedProperties/any\\(ep: ep/id eq ${QUOTED} and ep/value ne null\\)(?: and end/dateTime ge ${QUOTED})?$`, 'i');
const EXPAND = new RegExp(`^singleValueExtendedProperties\\(\\$filter=id eq ${QUOTED}((?: or id eq ${QUOTED})*)\\)$`);
const EXPAND_MORE = new RegExp(` or id eq ${QUOTED}`, 'g');
const PROPERTY_ID = /^String \{([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\} Name (\S+)$/;
const GRAPH_DATE_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,7}))?$/;
/** The directory objects grant revocation uses (handleDirectory). */
const DIRECTORY_PATH = /^\/v1\.0\/(?:me|servicePrincipals\([^/]*\)|oauth2PermissionGrants(?:\/[^/]+)?)$/;
const SERVICE_PRINCIPAL_PATH = /^\/v1\.0\/servicePrincipals\(appId=([^/]*)\)$/;
const GRANT_PATH = /^\/v1\.0\/oauth2PermissionGrants(?:\/([^/]+))?$/;
const GRANT_FILTER_BY_PRINCIPAL = new RegExp(`^clientId eq ${QUOTED} and principalId eq ${QUOTED}$`);
const GRANT_FILTER_BY_CONSENT_TYPE = new RegExp(`^clientId eq ${QUOTED} and consentType eq ${QUOTED}$`);
const QUOTED_WHOLE = new RegExp(`^${QUOTED}$`);
/** The scope of a user's own consent made by issueTokens() (a code redemption records the scope it asked for). */
const DEFAULT_USER_SCOPE = 'offline_access openid email Calendars.ReadWrite User.Read';
const REVOKED_ACCESS_MESSAGE = 'The access token was issued under a consent that has been revoked.';

/** Graph compares the GUID of a property id case-insensitively and the name case-sensitively. */
function normalisePropertyId(id: string): string | null {
  const match = PROPERTY_ID.exec(id);
  if (match === null) return null;
  return `String {${(match[1] ?? '').toLowerCase()}} Name ${match[2] ?? ''}`;
}

/** { dateTime, timeZone: 'UTC' } -> epoch ms, or a 400. */
function parseGraphDateTime(value: unknown, field: string): number {
  if (typeof value !== 'object' || value === null) throw new HttpFailure(400, 'ErrorInvalidRequest', `${field} must be a dateTimeTimeZone.`);
  const { dateTime, timeZone } = value as { dateTime?: unknown; timeZone?: unknown };
  if (typeof dateTime !== 'string' || typeof timeZone !== 'string') throw new HttpFailure(400, 'ErrorInvalidRequest', `${field} needs dateTime and timeZone.`);
  // The fake knows one zone; a connector sending another must fail loudly rather than shift times.
  if (timeZone !== 'UTC') throw new HttpFailure(400, 'ErrorTimeZoneNotSupportedException', `The fake supports timeZone UTC only, got ${timeZone}.`);
  const match = GRAPH_DATE_TIME.exec(dateTime);
  if (match === null) throw new HttpFailure(400, 'ErrorInvalidRequest', `${field}.dateTime is not a Graph dateTime (no offset allowed).`);
  return Date.parse(`${match[1] ?? ''}.${(match[2] ?? '').padEnd(3, '0').slice(0, 3)}Z`);
}

function graphDateTime(ms: number): { dateTime: string; timeZone: string } {
  return { dateTime: `${new Date(ms).toISOString().slice(0, 23)}0000`, timeZone: 'UTC' };
}

function eventStartMs(event: StoredGraphEvent, field: 'start' | 'end'): number {
  return parseGraphDateTime(event.fields[field], field);
}

function newImmutableId(): string {
  return `AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A${randomBytes(18).toString('base64url')}AAA=`;
}

function newRestId(): string {
  return `AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZi${randomBytes(18).toString('base64url')}AAA=`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export async function startFakeGraph(options: FakeGraphOptions = {}): Promise<FakeGraphServer> {
  const certificate = await testCertificate();
  const now = options.now ?? Date.now;
  const clientId = options.clientId ?? 'fake-client-id';
  const clientSecret = options.clientSecret ?? 'fake-client-secret';
  const accountEmail = options.accountEmail ?? 'provider@example.test';
  const pageSize = options.pageSize ?? 10;
  const maxPageSize = options.maxPageSize ?? 1000;

  const events: StoredGraphEvent[] = [];
  const byId = new Map<string, StoredGraphEvent>();
  const removedCalendars = new Set<string>();
  const accessTokens = new Map<string, { expiresAt: number; grantId: string }>();
  const refreshTokens = new Map<string, string>();
  const revokedGrants = new Set<string>();
  const codes = new Map<string, { challenge: string; redirectUri: string; used: boolean; user: string }>();
  const faults: { fault: FakeFault; remaining: number }[] = [];
  const counts = new Map<FakeOperation, number>();
  const requests: RecordedRequest[] = [];
  // The directory: users, our app's service principal, its consent grants, and which user each token
  // family (grantId) acts for. A family works while its user has consent covering the calendar.
  const canManagePermissionGrants = options.canManagePermissionGrants ?? true;
  const grantPageSize = options.grantPageSize ?? 100;
  const servicePrincipalId = randomUUID();
  const graphResourceId = randomUUID();
  const users = new Map<string, string>();
  const familyUser = new Map<string, string>();
  const consentGrants = new Map<string, FakePermissionGrant>();
  /** Families whose consent grant was deleted through the API: their access tokens answer 401 too. */
  const accessRevoked = new Set<string>();
  if (options.tenantWideConsent === true) addConsentGrant('AllPrincipals', null, TENANT_WIDE_SCOPE);

  let holding = false;
  const held: (() => void)[] = [];
  const heldWaiters: { count: number; resolve: () => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;

  function notifyHeldWaiters(): void {
    for (let i = heldWaiters.length - 1; i >= 0; i -= 1) {
      const waiter = heldWaiters[i];
      if (waiter !== undefined && held.length >= waiter.count) {
        heldWaiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  function releaseAll(): void {
    for (const release of held.splice(0)) release();
  }

  function takeFault(operation: FakeOperation): FakeFault | null {
    const entry = faults.find((f) => f.fault.operation === operation && f.remaining > 0);
    if (entry === undefined) return null;
    entry.remaining -= 1;
    return entry.fault;
  }

  function userIdOf(user: string): string {
    let id = users.get(user);
    if (id === undefined) {
      id = randomUUID();
      users.set(user, id);
    }
    return id;
  }

  function addConsentGrant(consentType: FakePermissionGrant['consentType'], principalId: string | null, scope: string): void {
    // Graph's grant ids are opaque base64url strings of ~43 characters.
    const id = randomBytes(32).toString('base64url');
    consentGrants.set(id, { id, clientId: servicePrincipalId, consentType, principalId, resourceId: graphResourceId, scope });
  }

  /** Whether the user may still get calendar tokens: their own grant, or a tenant-wide one covering the calendar. */
  function hasConsent(userId: string): boolean {
    for (const grant of consentGrants.values()) {
      if (grant.consentType === 'Principal' && grant.principalId === userId) return true;
      if (grant.consentType === 'AllPrincipals' && grant.scope.split(' ').includes('Calendars.ReadWrite')) return true;
    }
    return false;
  }

  /** A new token family for a user who consents now (their own grant, unless a tenant-wide one covers them). */
  function startFamily(user: string, scope: string): string {
    const userId = userIdOf(user);
    if (!hasConsent(userId)) addConsentGrant('Principal', userId, scope.split(' ').filter((s) => s !== '').join(' '));
    const grantId = randomUUID();
    familyUser.set(grantId, userId);
    return grantId;
  }

  /** After a grant was deleted through the API: families of users left without consent get invalid_grant and 401. */
  function revokeFamiliesWithoutConsent(): void {
    for (const [grantId, userId] of familyUser) {
      if (hasConsent(userId)) continue;
      revokedGrants.add(grantId);
      accessRevoked.add(grantId);
    }
  }

  function mintTokens(grantId: string, expiresInSeconds: number): { accessToken: string; refreshToken: string; expiresAt: number } {
    const accessToken = `fake-at-${randomBytes(16).toString('base64url')}`;
    const refreshToken = `fake-rt-${randomBytes(16).toString('base64url')}`;
    const expiresAt = now() + expiresInSeconds * 1000;
    accessTokens.set(accessToken, { expiresAt, grantId });
    refreshTokens.set(refreshToken, grantId);
    return { accessToken, refreshToken, expiresAt };
  }

  function calendarExists(calendarId: string): boolean {
    return !removedCalendars.has(calendarId);
  }

  /** Outlook's one reminder; null while neither field was ever written (the mailbox default applies). */
  function reminderOf(fields: Record<string, unknown>): number[] | null {
    if (fields.isReminderOn === undefined && fields.reminderMinutesBeforeStart === undefined) return null;
    if (fields.isReminderOn === false) return [];
    return [typeof fields.reminderMinutesBeforeStart === 'number' ? fields.reminderMinutesBeforeStart : 15];
  }

  function toStored(event: StoredGraphEvent): FakeStoredEvent {
    const body = event.fields.body;
    const location = event.fields.location;
    const key = event.properties.get(normalisePropertyId(TAG_KEY_ID) ?? '')?.value;
    const revision = event.properties.get(normalisePropertyId(TAG_REVISION_ID) ?? '')?.value;
    const displayName = isRecord(location) && typeof location.displayName === 'string' ? location.displayName : '';
    const content = isRecord(body) && typeof body.content === 'string' ? body.content : '';
    return {
      id: event.immutableId,
      calendarId: event.calendarId,
      summary: typeof event.fields.subject === 'string' ? event.fields.subject : '',
      location: displayName === '' ? null : displayName,
      description: content === '' ? null : content,
      start: new Date(eventStartMs(event, 'start')).toISOString(),
      end: new Date(eventStartMs(event, 'end')).toISOString(),
      cancelled: false,
      reminders: reminderOf(event.fields),
      tag: key === undefined ? null : { key, revision: revision ?? '' },
      raw: represent(event, { immutable: true, expand: null, select: null, allProperties: true }),
    };
  }

  function represent(event: StoredGraphEvent, how: { immutable: boolean; expand: string[] | null; select: string[] | null; allProperties?: boolean }): Record<string, unknown> {
    const full: Record<string, unknown> = {
      '@odata.etag': `W/"${event.changeKey}"`,
      id: how.immutable ? event.immutableId : event.restId,
      createdDateTime: event.createdDateTime,
      lastModifiedDateTime: event.lastModifiedDateTime,
      changeKey: event.changeKey,
      categories: [],
      transactionId: event.transactionId,
      originalStartTimeZone: 'UTC',
      originalEndTimeZone: 'UTC',
      iCalUId: event.iCalUId,
      reminderMinutesBeforeStart: 15,
      isReminderOn: true,
      hasAttachments: false,
      subject: '',
      bodyPreview: '',
      importance: 'normal',
      sensitivity: 'normal',
      isAllDay: false,
      isCancelled: false,
      isOrganizer: true,
      responseRequested: true,
      showAs: 'busy',
      type: 'singleInstance',
      isOnlineMeeting: false,
      onlineMeetingProvider: 'unknown',
      onlineMeeting: null,
      allowNewTimeProposals: true,
      responseStatus: { response: 'organizer', time: '0001-01-01T00:00:00Z' },
      body: { contentType: 'html', content: '' },
      location: { displayName: '', locationType: 'default', uniqueIdType: 'unknown', address: {}, coordinates: {} },
      attendees: [],
      organizer: { emailAddress: { name: 'Provider', address: accountEmail } },
      ...event.fields,
    };
    const body = full.body;
    if (isRecord(body) && typeof body.content === 'string') full.bodyPreview = body.content.slice(0, 255);
    const location = full.location;
    if (isRecord(location)) full.location = { locationType: 'default', uniqueIdType: 'unknown', address: {}, coordinates: {}, ...location };
    let out: Record<string, unknown> = full;
    if (how.select !== null) {
      out = { '@odata.etag': full['@odata.etag'], id: full.id };
      for (const name of how.select) out[name] = full[name];
    }
    const wanted = how.allProperties === true ? [...event.properties.keys()] : how.expand;
    if (wanted !== null) {
      out.singleValueExtendedProperties = wanted.flatMap((id) => {
        const property = event.properties.get(id);
        return property === undefined ? [] : [{ id: property.id, value: property.value }];
      });
    }
    return out;
  }

  function validateWrite(body: unknown, kind: 'create' | 'update'): Record<string, unknown> {
    if (!isRecord(body)) throw new HttpFailure(400, 'RequestBodyRead', 'The request body must be a JSON object.');
    for (const name of Object.keys(body)) {
      if (name === 'onlineMeeting') throw new HttpFailure(400, 'ErrorInvalidProperty', 'onlineMeeting is read-only.');
      if (!WRITABLE.has(name)) throw new HttpFailure(400, 'RequestBodyRead', `The property '${name}' does not exist on type 'microsoft.graph.event'.`);
    }
    if (kind === 'create' && (body.start === undefined || body.end === undefined)) throw new HttpFailure(400, 'ErrorInvalidRequest', 'start and end are required.');
    const start = body.start === undefined ? null : parseGraphDateTime(body.start, 'start');
    const end = body.end === undefined ? null : parseGraphDateTime(body.end, 'end');
    if (start !== null && end !== null && end < start) throw new HttpFailure(400, 'ErrorInvalidRequest', 'end is before start.');
    if (body.subject !== undefined && typeof body.subject !== 'string') throw new HttpFailure(400, 'RequestBodyRead', 'subject must be a string.');
    if (body.body !== undefined && (!isRecord(body.body) || !['text', 'html'].includes(String(body.body.contentType)))) {
      throw new HttpFailure(400, 'RequestBodyRead', 'body needs contentType text or html.');
    }
    if (body.location !== undefined && (!isRecord(body.location) || typeof body.location.displayName !== 'string')) {
      throw new HttpFailure(400, 'RequestBodyRead', 'location needs a displayName.');
    }
    if (body.onlineMeetingProvider !== undefined && !ONLINE_MEETING_PROVIDERS.has(String(body.onlineMeetingProvider))) {
      throw new HttpFailure(400, 'RequestBodyRead', 'onlineMeetingProvider must be one of Graph\'s own meeting products.');
    }
    if (body.isReminderOn !== undefined && typeof body.isReminderOn !== 'boolean') throw new HttpFailure(400, 'RequestBodyRead', 'isReminderOn must be a boolean.');
    if (body.reminderMinutesBeforeStart !== undefined && (typeof body.reminderMinutesBeforeStart !== 'number' || !Number.isInteger(body.reminderMinutesBeforeStart) || body.reminderMinutesBeforeStart < 0)) {
      throw new HttpFailure(400, 'RequestBodyRead', 'reminderMinutesBeforeStart must be a non-negative integer.');
    }
    if (body.transactionId !== undefined && typeof body.transactionId !== 'string') throw new HttpFailure(400, 'RequestBodyRead', 'transactionId must be a string.');
    if (body.singleValueExtendedProperties !== undefined) {
      if (!Array.isArray(body.singleValueExtendedProperties)) throw new HttpFailure(400, 'RequestBodyRead', 'singleValueExtendedProperties must be an array.');
      for (const property of body.singleValueExtendedProperties as unknown[]) {
        if (!isRecord(property) || typeof property.id !== 'string' || typeof property.value !== 'string' || normalisePropertyId(property.id) === null) {
          throw new HttpFailure(400, 'ErrorInvalidExtendedPropertyValue', 'Extended properties need an id "String {guid} Name x" and a string value.');
        }
      }
    }
    return body;
  }

  function applyWrite(event: StoredGraphEvent, body: Record<string, unknown>): void {
    for (const [name, value] of Object.entries(body)) {
      if (name === 'transactionId') continue;
      if (name === 'singleValueExtendedProperties') {
        for (const property of value as { id: string; value: string }[]) {
          const id = normalisePropertyId(property.id) ?? property.id;
          event.properties.set(id, { id: property.id, value: property.value });
        }
        continue;
      }
      if (name === 'start' || name === 'end') {
        event.fields[name] = graphDateTime(parseGraphDateTime(value, name));
        continue;
      }
      event.fields[name] = value;
    }
    touch(event);
  }

  function touch(event: StoredGraphEvent): void {
    event.lastModifiedDateTime = new Date(now()).toISOString();
    event.changeKey = randomBytes(12).toString('base64');
  }

  function insert(calendarId: string, transactionId: string | null): StoredGraphEvent {
    const created = new Date(now()).toISOString();
    const event: StoredGraphEvent = {
      immutableId: newImmutableId(),
      restId: newRestId(),
      calendarId,
      createdDateTime: created,
      lastModifiedDateTime: created,
      changeKey: randomBytes(12).toString('base64'),
      iCalUId: `040000008200E00074C5B7101A82E008${randomBytes(16).toString('hex').toUpperCase()}`,
      transactionId,
      fields: {},
      properties: new Map(),
    };
    events.push(event);
    byId.set(event.immutableId, event);
    byId.set(event.restId, event);
    return event;
  }

  function removeEvent(event: StoredGraphEvent): void {
    events.splice(events.indexOf(event), 1);
    byId.delete(event.immutableId);
    byId.delete(event.restId);
  }

  function findEvent(calendarId: string, id: string): StoredGraphEvent {
    const event = byId.get(id);
    if (event === undefined || event.calendarId !== calendarId) throw new HttpFailure(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return event;
  }

  function checkQueryOptions(query: URLSearchParams, allowed: readonly string[]): void {
    for (const name of query.keys()) {
      if (name.startsWith('$') && !allowed.includes(name)) {
        throw new HttpFailure(400, 'BadRequest', `Query option '${name}' is not supported by the fake.`);
      }
    }
  }

  function listEvents(calendarId: string, query: URLSearchParams, path: string, immutable: boolean): Record<string, unknown> {
    checkQueryOptions(query, ['$filter', '$expand', '$select', '$top', '$skip']);
    let matching = events.filter((e) => e.calendarId === calendarId);
    const filter = query.get('$filter');
    if (filter !== null) {
      const byValue = FILTER_BY_VALUE.exec(filter);
      const hasProperty = byValue === null ? FILTER_HAS_PROPERTY.exec(filter) : null;
      if (byValue !== null) {
        const id = normalisePropertyId(unquote(byValue[1] ?? ''));
        // Graph compares string extended property values case-insensitively.
        const value = unquote(byValue[2] ?? '').toLowerCase();
        matching = matching.filter((e) => id !== null && e.properties.get(id)?.value.toLowerCase() === value);
      } else if (hasProperty !== null) {
        const id = normalisePropertyId(unquote(hasProperty[1] ?? ''));
        matching = matching.filter((e) => id !== null && e.properties.has(id));
        if (hasProperty[2] !== undefined) {
          const from = parseGraphDateTime({ dateTime: unquote(hasProperty[2]), timeZone: 'UTC' }, 'end/dateTime');
          matching = matching.filter((e) => eventStartMs(e, 'end') >= from);
        }
      } else {
        throw new HttpFailure(400, 'BadRequest', 'Invalid filter clause (the fake accepts only the shapes the Outlook connector sends).');
      }
    }
    return page(matching, query, path, immutable, 'events');
  }

  /** An ISO-8601 date-time of a calendarView window; without an offset it is UTC (as Graph reads it). */
  function windowBound(query: URLSearchParams, name: 'startDateTime' | 'endDateTime'): number {
    const raw = query.get(name);
    if (raw === null) {
      throw new HttpFailure(400, 'ErrorInvalidParameter', 'This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.');
    }
    const ms = Date.parse(/(Z|[+-]\d{2}:\d{2})$/i.test(raw) ? raw : `${raw}Z`);
    if (Number.isNaN(ms)) throw new HttpFailure(400, 'ErrorInvalidParameter', `The value '${raw}' of parameter '${name}' is invalid.`);
    return ms;
  }

  /** GET .../calendarView: every event overlapping [startDateTime, endDateTime), by start. */
  function calendarView(calendarId: string, query: URLSearchParams, path: string, immutable: boolean): Record<string, unknown> {
    checkQueryOptions(query, ['$expand', '$select', '$top', '$skip']);
    const from = windowBound(query, 'startDateTime');
    const to = windowBound(query, 'endDateTime');
    const matching = events
      .filter((e) => e.calendarId === calendarId && eventStartMs(e, 'end') > from && eventStartMs(e, 'start') < to)
      .sort((a, b) => eventStartMs(a, 'start') - eventStartMs(b, 'start'));
    return page(matching, query, path, immutable, 'calendarView');
  }

  /** One page of `matching` with $expand, $select, $top and $skip applied, and the next page's link. */
  function page(matching: StoredGraphEvent[], query: URLSearchParams, path: string, immutable: boolean, collection: string): Record<string, unknown> {
    let expand: string[] | null = null;
    const expandParam = query.get('$expand');
    if (expandParam !== null) {
      const match = EXPAND.exec(expandParam);
      if (match === null) throw new HttpFailure(400, 'BadRequest', 'Invalid $expand (the fake accepts only singleValueExtendedProperties($filter=id eq ...)).');
      const ids = [unquote(match[1] ?? ''), ...[...(match[2] ?? '').matchAll(EXPAND_MORE)].map((m) => unquote(m[1] ?? ''))];
      expand = ids.map((id) => normalisePropertyId(id) ?? id);
    }
    let select: string[] | null = null;
    const selectParam = query.get('$select');
    if (selectParam !== null) {
      select = selectParam.split(',').map((s) => s.trim());
      for (const name of select) if (!SELECTABLE.has(name)) throw new HttpFailure(400, 'BadRequest', `Could not find a property named '${name}' on type 'microsoft.graph.event'.`);
    }
    const top = query.get('$top') === null ? pageSize : Number(query.get('$top'));
    const skip = query.get('$skip') === null ? 0 : Number(query.get('$skip'));
    if (!Number.isInteger(top) || top < 1 || top > 1000 || !Number.isInteger(skip) || skip < 0) throw new HttpFailure(400, 'BadRequest', 'Invalid $top or $skip.');
    const size = Math.min(top, maxPageSize);
    const slice = matching.slice(skip, skip + size);
    const result: Record<string, unknown> = {
      '@odata.context': `${apiUrl}/v1.0/$metadata#users('me')/${collection}`,
      value: slice.map((e) => represent(e, { immutable, expand, select })),
    };
    if (skip + size < matching.length) {
      const params: string[] = [];
      for (const [name, value] of query) if (name !== '$skip') params.push(`${name}=${encodeURIComponent(value)}`);
      params.push(`$skip=${skip + size}`);
      result['@odata.nextLink'] = `${apiUrl}${path}?${params.join('&')}`;
    }
    return result;
  }

  /**
 * Sends an API answer as Graph does: a failure in Graph's error body, 204 with no body, or JSON;
 * a drop-response fault applies the request and then destroys the socket instead.
 */
function answer(req: IncomingMessage, res: ServerResponse, record: RecordedRequest, fault: FakeFault | null | undefined, outcome: HttpFailure | { status: number; payload: unknown }): void {
  if (fault?.network === 'drop-response') {
    req.socket.destroy();
    return;
  }
  if (outcome instanceof HttpFailure) {
    graphError(res, outcome.status, outcome.code, outcome.message, req);
    return;
  }
  if (outcome.status === 204) {
    res.writeHead(204, { 'request-id': randomUUID() });
    res.end();
    return;
  }
  record.responseBody = JSON.stringify(outcome.payload);
  sendJson(res, outcome.status, outcome.payload);
}

function graphError(res: ServerResponse, status: number, code: string, message: string, req: IncomingMessage, extraHeaders: Record<string, string> = {}): void {
    sendJson(
      res,
      status,
      { error: { code, message, innerError: { date: new Date(now()).toISOString().slice(0, 19), 'request-id': randomUUID(), 'client-request-id': String(req.headers['client-request-id'] ?? '') } } },
      extraHeaders,
    );
  }

  function sendJson(res: ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'request-id': randomUUID(),
      ...extraHeaders,
    });
    res.end(text);
  }

  function readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  type Route = { operation: FakeOperation; calendarId: string; eventId: string | null; view?: true } | null;

  function route(method: string, path: string): Route {
    const view = /^\/v1\.0\/me\/(?:calendar|calendars\/([^/]+))\/calendarView$/.exec(path);
    if (view !== null) return method === 'GET' ? { operation: 'list', calendarId: view[1] === undefined ? 'primary' : decodeURIComponent(view[1]), eventId: null, view: true } : null;
    const match = /^\/v1\.0\/me\/(?:calendar|calendars\/([^/]+))\/events(?:\/([^/]+))?$/.exec(path);
    if (match === null) return null;
    const calendarId = match[1] === undefined ? 'primary' : decodeURIComponent(match[1]);
    const eventId = match[2] === undefined ? null : decodeURIComponent(match[2]);
    if (eventId === null) {
      if (method === 'GET') return { operation: 'list', calendarId, eventId };
      if (method === 'POST') return { operation: 'create', calendarId, eventId };
      return null;
    }
    if (method === 'GET') return { operation: 'get', calendarId, eventId };
    if (method === 'PATCH') return { operation: 'update', calendarId, eventId };
    if (method === 'DELETE') return { operation: 'delete', calendarId, eventId };
    return null;
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL, text: string): Promise<void> {
    const method = req.method ?? 'GET';
    const target = route(method, url.pathname);
    let body: unknown = null;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const record: RecordedRequest = { operation: target?.operation ?? 'other', method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: { ...req.headers }, body, responseBody: null };
    requests.push(record);
    if (target === null) {
      graphError(res, 400, 'BadRequest', `Resource not found for the segment (${method} ${url.pathname}).`, req);
      return;
    }
    counts.set(target.operation, (counts.get(target.operation) ?? 0) + 1);

    const admitted = await admit(req, res, target.operation);
    if (admitted === null) return;
    const { fault } = admitted;

    const prefer = [req.headers.prefer ?? []].flat().join(', ');
    const immutable = /IdType="ImmutableId"/i.test(prefer);
    const zone = /outlook\.timezone="([^"]*)"/i.exec(prefer)?.[1];
    let status = 200;
    let payload: unknown = null;
    try {
      if (zone !== undefined && zone !== 'UTC') throw new HttpFailure(400, 'BadRequest', 'The fake answers in UTC only.');
      if (!calendarExists(target.calendarId)) throw new HttpFailure(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
      switch (target.operation) {
        case 'list':
          payload = target.view === true ? calendarView(target.calendarId, url.searchParams, url.pathname, immutable) : listEvents(target.calendarId, url.searchParams, url.pathname, immutable);
          break;
        case 'create': {
          const write = validateWrite(body, 'create');
          const transactionId = typeof write.transactionId === 'string' ? write.transactionId : null;
          // Graph dedupes creates carrying a transactionId it has seen: the retry gets the first event.
          const existing = transactionId === null ? undefined : events.find((e) => e.calendarId === target.calendarId && e.transactionId === transactionId);
          const event = existing ?? insert(target.calendarId, transactionId);
          if (existing === undefined) applyWrite(event, write);
          status = 201;
          payload = represent(event, { immutable, expand: null, select: null });
          break;
        }
        case 'get': {
          const event = findEvent(target.calendarId, target.eventId ?? '');
          payload = represent(event, { immutable, expand: null, select: null });
          break;
        }
        case 'update': {
          const event = findEvent(target.calendarId, target.eventId ?? '');
          const write = validateWrite(body, 'update');
          // "After you set transactionId when creating an event, you cannot change it."
          if (write.transactionId !== undefined && write.transactionId !== event.transactionId) {
            throw new HttpFailure(400, 'ErrorInvalidRequest', 'transactionId cannot be changed.');
          }
          applyWrite(event, write);
          payload = represent(event, { immutable, expand: null, select: null });
          break;
        }
        case 'delete': {
          removeEvent(findEvent(target.calendarId, target.eventId ?? ''));
          status = 204;
          break;
        }
        case 'token':
          throw new HttpFailure(400, 'BadRequest', 'Not an API operation.');
      }
    } catch (error) {
      if (!(error instanceof HttpFailure)) throw error;
      answer(req, res, record, fault, error);
      return;
    }
    answer(req, res, record, fault, { status, payload });
  }

  /** The bearer token's family, or null after answering 401 as Graph does. */
  /**
   * What every API request goes through before its handler: held while the test holds requests,
   * then the bearer token checked, then the next injected fault of `operation` (none: null)
   * answered if it is one that answers at once. The token's grant and the fault left for the
   * answer (one that shapes it), or null once the request has been answered.
   */
  async function admit(req: IncomingMessage, res: ServerResponse, operation: FakeOperation | null): Promise<{ issued: { expiresAt: number; grantId: string }; fault: FakeFault | null } | null> {
    if (holding) {
      await new Promise<void>((resolve) => {
        held.push(resolve);
        notifyHeldWaiters();
      });
    }
    const issued = authorised(req, res);
    if (issued === null) return null;
    const fault = operation === null ? null : takeFault(operation);
    if (fault?.network === 'reset') {
      req.socket.destroy();
      return null;
    }
    if (fault !== null && fault.network === undefined) {
      const status = fault.status ?? 503;
      graphError(res, status, fault.reason ?? DEFAULT_ERROR_CODES[status] ?? 'UnknownError', 'Injected failure.', req, fault.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(fault.retryAfterSeconds) });
      return null;
    }
    return { issued, fault };
  }

  function authorised(req: IncomingMessage, res: ServerResponse): { expiresAt: number; grantId: string } | null {
    const authorization = req.headers.authorization;
    const token = typeof authorization === 'string' && authorization.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : null;
    const issued = token === null ? undefined : accessTokens.get(token);
    if (issued === undefined) {
      graphError(res, 401, 'InvalidAuthenticationToken', token === null ? 'Access token is empty.' : 'IDX14100: JWT is not well formed.', req);
      return null;
    }
    if (issued.expiresAt <= now()) {
      graphError(res, 401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.', req);
      return null;
    }
    if (accessRevoked.has(issued.grantId)) {
      graphError(res, 401, 'InvalidAuthenticationToken', REVOKED_ACCESS_MESSAGE, req);
      return null;
    }
    return issued;
  }

  /** `$select` over an entity; unknown names are a 400 as in Graph. */
  function selected(entity: Record<string, unknown>, query: URLSearchParams, type: string): Record<string, unknown> {
    const param = query.get('$select');
    if (param === null) return entity;
    const out: Record<string, unknown> = { '@odata.context': entity['@odata.context'] };
    for (const name of param.split(',').map((n) => n.trim())) {
      if (!(name in entity) || name.startsWith('@')) throw new HttpFailure(400, 'Request_BadRequest', `Could not find a property named '${name}' on type '${type}'.`);
      out[name] = entity[name];
    }
    return out;
  }

  /** GET /v1.0/oauth2PermissionGrants with one of the two $filter forms grant revocation sends; paged with $skiptoken. */
  function listGrants(query: URLSearchParams): Record<string, unknown> {
    checkQueryOptions(query, ['$filter', '$skiptoken']);
    const filter = query.get('$filter');
    const byPrincipal = filter === null ? null : GRANT_FILTER_BY_PRINCIPAL.exec(filter);
    const byConsentType = filter === null || byPrincipal !== null ? null : GRANT_FILTER_BY_CONSENT_TYPE.exec(filter);
    if (filter === null || (byPrincipal === null && byConsentType === null)) {
      throw new HttpFailure(400, 'Request_UnsupportedQuery', 'Unsupported query (the fake accepts clientId eq and principalId eq, or clientId eq and consentType eq).');
    }
    const match = byPrincipal ?? byConsentType;
    const spId = unquote(match?.[1] ?? '');
    const second = unquote(match?.[2] ?? '');
    const matching = [...consentGrants.values()].filter((g) => g.clientId === spId && (byPrincipal !== null ? g.principalId === second : g.consentType === second));
    const skipToken = query.get('$skiptoken');
    const skip = skipToken === null ? 0 : Number(Buffer.from(skipToken, 'base64url').toString('utf8'));
    if (!Number.isInteger(skip) || skip < 0) throw new HttpFailure(400, 'Request_BadRequest', 'Invalid $skiptoken.');
    const result: Record<string, unknown> = {
      '@odata.context': `${apiUrl}/v1.0/$metadata#oauth2PermissionGrants`,
      value: matching.slice(skip, skip + grantPageSize).map((g) => ({ ...g })),
    };
    if (skip + grantPageSize < matching.length) {
      const token = Buffer.from(String(skip + grantPageSize)).toString('base64url');
      result['@odata.nextLink'] = `${apiUrl}/v1.0/oauth2PermissionGrants?$filter=${encodeURIComponent(filter)}&$skiptoken=${token}`;
    }
    return result;
  }

  /**
   * The directory objects grant revocation reads and deletes: GET /v1.0/me, GET
   * /v1.0/servicePrincipals(appId='...'), GET /v1.0/oauth2PermissionGrants?$filter=..., and DELETE
   * /v1.0/oauth2PermissionGrants/{id} (FakeOperation 'revoke': faults and counts). The grants
   * endpoints answer 403 Authorization_RequestDenied without DelegatedPermissionGrant.ReadWrite.All.
   * Deleting a grant is stricter than Graph, which honours access tokens already issued for their
   * lifetime: here they answer 401 at once, and the refresh tokens invalid_grant.
   */
  async function handleDirectory(req: IncomingMessage, res: ServerResponse, url: URL, text: string): Promise<void> {
    const method = req.method ?? 'GET';
    const grantPath = GRANT_PATH.exec(url.pathname);
    const grantId = grantPath?.[1] === undefined ? null : decodeURIComponent(grantPath[1]);
    const operation = grantId !== null && method === 'DELETE' ? 'revoke' : 'other';
    const record: RecordedRequest = { operation, method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: { ...req.headers }, body: text === '' ? null : text, responseBody: null };
    requests.push(record);
    if (operation === 'revoke') counts.set('revoke', (counts.get('revoke') ?? 0) + 1);

    // Only the revocation takes injected faults here; reading /me and the grants never fails.
    const admitted = await admit(req, res, operation === 'revoke' ? 'revoke' : null);
    if (admitted === null) return;
    const { issued, fault } = admitted;

    let status = 200;
    let payload: unknown = null;
    try {
      const servicePrincipal = SERVICE_PRINCIPAL_PATH.exec(url.pathname);
      if (method !== (grantId === null ? 'GET' : 'DELETE')) throw new HttpFailure(405, 'Request_BadRequest', `The fake does not support ${method} ${url.pathname}.`);
      if (url.pathname === '/v1.0/me') {
        checkQueryOptions(url.searchParams, ['$select']);
        const userId = familyUser.get(issued.grantId) ?? userIdOf(accountEmail);
        const user = { '@odata.context': `${apiUrl}/v1.0/$metadata#users/$entity`, id: userId, displayName: 'Provider', mail: accountEmail, userPrincipalName: accountEmail };
        payload = selected(user, url.searchParams, 'microsoft.graph.user');
      } else if (servicePrincipal !== null) {
        checkQueryOptions(url.searchParams, ['$select']);
        const key = QUOTED_WHOLE.exec(decodeURIComponent(servicePrincipal[1] ?? ''));
        if (key === null) throw new HttpFailure(400, 'Request_BadRequest', 'appId must be a quoted string.');
        if (unquote(key[1] ?? '') !== clientId) {
          throw new HttpFailure(404, 'Request_ResourceNotFound', "Resource 'servicePrincipals' does not exist or one of its queried reference-property objects are not present.");
        }
        const entity = { '@odata.context': `${apiUrl}/v1.0/$metadata#servicePrincipals/$entity`, id: servicePrincipalId, appId: clientId, displayName: 'sessionsync' };
        payload = selected(entity, url.searchParams, 'microsoft.graph.servicePrincipal');
      } else {
        if (!canManagePermissionGrants) throw new HttpFailure(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
        if (grantId === null) {
          payload = listGrants(url.searchParams);
        } else {
          if (!consentGrants.delete(grantId)) {
            throw new HttpFailure(404, 'Request_ResourceNotFound', `Resource '${grantId}' does not exist or one of its queried reference-property objects are not present.`);
          }
          revokeFamiliesWithoutConsent();
          status = 204;
        }
      }
    } catch (error) {
      if (!(error instanceof HttpFailure)) throw error;
      answer(req, res, record, fault, error);
      return;
    }
    answer(req, res, record, fault, { status, payload });
  }

  function oauthError(res: ServerResponse, status: number, error: string, code: number, description: string, extraHeaders: Record<string, string> = {}): void {
    sendJson(
      res,
      status,
      { error, error_description: `AADSTS${code}: ${description} Trace ID: ${randomUUID()}`, error_codes: [code], timestamp: new Date(now()).toISOString(), trace_id: randomUUID(), correlation_id: randomUUID() },
      extraHeaders,
    );
  }

  function idToken(user: string = accountEmail): string {
    const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const header = { typ: 'JWT', alg: 'RS256', kid: 'fake' };
    const claims = { aud: clientId, iss: `${apiUrl}/fake-tenant/v2.0`, iat: Math.floor(now() / 1000), exp: Math.floor(now() / 1000) + 3600, email: user, preferred_username: user, name: 'Provider', tid: 'fake-tenant', ver: '2.0' };
    return `${encode(header)}.${encode(claims)}.${randomBytes(32).toString('base64url')}`;
  }

  function handleToken(req: IncomingMessage, res: ServerResponse, url: URL, text: string): void {
    const form = Object.fromEntries(new URLSearchParams(text));
    requests.push({ operation: 'token', method: req.method ?? 'POST', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: { ...req.headers }, body: form, responseBody: null });
    counts.set('token', (counts.get('token') ?? 0) + 1);
    const fault = takeFault('token');
    if (fault?.network !== undefined) {
      req.socket.destroy();
      return;
    }
    if (fault !== null) {
      const status = fault.status ?? 400;
      const error = fault.reason ?? (status >= 500 || status === 429 ? 'temporarily_unavailable' : 'invalid_grant');
      oauthError(res, status, error, error === 'invalid_grant' ? 70008 : 50196, 'Injected failure.', fault.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(fault.retryAfterSeconds) });
      return;
    }
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      oauthError(res, 400, 'invalid_request', 900144, 'The request body must be application/x-www-form-urlencoded.');
      return;
    }
    if (form.client_id !== clientId) {
      oauthError(res, 400, 'unauthorized_client', 700016, 'Application was not found in the directory.');
      return;
    }
    if (form.client_secret !== clientSecret) {
      oauthError(res, 401, 'invalid_client', 7000215, 'Invalid client secret provided.');
      return;
    }
    const scope = form.scope ?? '';
    let grantId: string;
    let issueIdToken = false;
    let user = accountEmail;
    if (form.grant_type === 'authorization_code') {
      const code = codes.get(form.code ?? '');
      if (code === undefined) {
        oauthError(res, 400, 'invalid_grant', 70008, 'The provided authorization code or refresh token has expired due to inactivity.');
        return;
      }
      if (code.used) {
        oauthError(res, 400, 'invalid_grant', 54005, 'OAuth2 Authorization code was already redeemed.');
        return;
      }
      code.used = true;
      if (form.redirect_uri !== code.redirectUri) {
        oauthError(res, 400, 'invalid_grant', 50148, 'The redirect_uri does not match the one used for the authorization code.');
        return;
      }
      const verifier = form.code_verifier ?? '';
      if (createHash('sha256').update(verifier).digest('base64url') !== code.challenge) {
        oauthError(res, 400, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
        return;
      }
      grantId = startFamily(code.user, scope);
      user = code.user;
      issueIdToken = scope.split(' ').includes('openid');
    } else if (form.grant_type === 'refresh_token') {
      const known = refreshTokens.get(form.refresh_token ?? '');
      if (known === undefined) {
        oauthError(res, 400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
        return;
      }
      if (revokedGrants.has(known)) {
        oauthError(res, 400, 'invalid_grant', 50173, 'The provided grant has expired due to it being revoked.');
        return;
      }
      grantId = known;
    } else {
      oauthError(res, 400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
      return;
    }
    const minted = mintTokens(grantId, 3600);
    sendJson(res, 200, {
      token_type: 'Bearer',
      scope: scope.split(' ').filter((s) => s !== 'offline_access' && s !== 'openid' && s !== 'email').join(' '),
      expires_in: 3600,
      ext_expires_in: 3600,
      access_token: minted.accessToken,
      refresh_token: minted.refreshToken,
      ...(issueIdToken ? { id_token: idToken(user) } : {}),
    });
  }

  let closing = false;
  const sockets = new Set<Socket>();
  const server = https.createServer({ key: certificate.key, cert: certificate.cert }, (req, res) => {
    if (closing) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'https://fake.invalid');
    const isToken = req.method === 'POST' && /^\/[^/]+\/oauth2\/v2\.0\/token$/.test(url.pathname);
    if (!isToken) {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      res.on('close', () => {
        inFlight -= 1;
      });
    }
    readBody(req)
      .then(async (text) => {
        if (isToken) handleToken(req, res, url, text);
        else if (DIRECTORY_PATH.test(url.pathname)) await handleDirectory(req, res, url, text);
        else await handleApi(req, res, url, text);
      })
      .catch((error: unknown) => {
        if (!res.headersSent) graphError(res, 500, 'InternalServerError', error instanceof Error ? error.message : 'fake failure', req);
      });
  });
  // Every TCP connection, including those still in the TLS handshake (closeAllConnections() only
  // knows HTTP connections), so that close() never waits for a keep-alive timeout.
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const apiUrl = `https://127.0.0.1:${port}`;

  return {
    apiUrl,
    graphUrl: apiUrl,
    loginUrl: apiUrl,
    tokenUrl: `${apiUrl}/common/oauth2/v2.0/token`,
    caCert: certificate.cert,
    clientId,
    clientSecret,
    fetch: fetchTrustingCertificate(certificate.cert),
    requests,
    issueTokens(issueOptions = {}) {
      return mintTokens(startFamily(issueOptions.user ?? accountEmail, DEFAULT_USER_SCOPE), issueOptions.expiresInSeconds ?? 3600);
    },
    issueAuthorizationCode(codeChallenge, redirectUri, user = accountEmail) {
      const code = `fake-code-${randomBytes(16).toString('base64url')}`;
      codes.set(code, { challenge: codeChallenge, redirectUri, used: false, user });
      return code;
    },
    inject(fault) {
      faults.push({ fault, remaining: fault.times ?? 1 });
    },
    expireAccessTokens() {
      const past = now() - 1;
      for (const issued of accessTokens.values()) issued.expiresAt = Math.min(issued.expiresAt, past);
    },
    revokeGrants() {
      for (const grantId of refreshTokens.values()) revokedGrants.add(grantId);
      // The person removed the app (My Apps): their own consent grants go with it.
      for (const grant of [...consentGrants.values()]) if (grant.consentType === 'Principal') consentGrants.delete(grant.id);
    },
    isGrantRevoked(refreshToken) {
      const grantId = refreshTokens.get(refreshToken);
      return grantId === undefined || revokedGrants.has(grantId);
    },
    servicePrincipalId,
    userId(user) {
      return userIdOf(user ?? accountEmail);
    },
    permissionGrants() {
      return [...consentGrants.values()].map((grant) => ({ ...grant }));
    },
    grantTenantWideConsent(scope = TENANT_WIDE_SCOPE) {
      addConsentGrant('AllPrincipals', null, scope);
    },
    events(calendarId) {
      return events.filter((e) => e.calendarId === calendarId).map(toStored);
    },
    editExternally(calendarId, id, patch) {
      const event = findEvent(calendarId, id);
      if (patch.summary !== undefined) event.fields.subject = patch.summary;
      if (patch.start !== undefined) event.fields.start = graphDateTime(Date.parse(patch.start));
      if (patch.end !== undefined) event.fields.end = graphDateTime(Date.parse(patch.end));
      touch(event);
    },
    deleteExternally(calendarId, id) {
      removeEvent(findEvent(calendarId, id));
    },
    addUntaggedEvent(calendarId, summary, start, end) {
      const event = insert(calendarId, null);
      event.fields = {
        subject: summary,
        start: graphDateTime(Date.parse(start)),
        end: graphDateTime(Date.parse(end)),
        body: { contentType: 'html', content: '' },
      };
      return event.immutableId;
    },
    requestCount(operation) {
      return counts.get(operation) ?? 0;
    },
    hold() {
      holding = true;
    },
    waitForHeld(count) {
      if (held.length >= count) return Promise.resolve();
      return new Promise<void>((resolve) => heldWaiters.push({ count, resolve }));
    },
    heldCount() {
      return held.length;
    },
    releaseHeld() {
      releaseAll();
    },
    stopHolding() {
      holding = false;
      releaseAll();
    },
    maxConcurrentApiRequests() {
      return maxInFlight;
    },
    removeCalendar(calendarId) {
      removedCalendars.add(calendarId);
    },
    putRawEvent(calendarId, fields, properties = []) {
      const event = insert(calendarId, null);
      event.fields = structuredClone(fields);
      for (const property of properties) event.properties.set(normalisePropertyId(property.id) ?? property.id, { ...property });
      return event.immutableId;
    },
    async close() {
      closing = true;
      holding = false;
      const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
      releaseAll();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
