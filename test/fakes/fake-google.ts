// A fake Google: the OAuth 2.0 consent + token endpoints and Calendar v3 events, on 127.0.0.1 with
// an OS-chosen port, speaking the wire protocol closely enough for the real googleapis client:
// Google's JSON error bodies, client-chosen base32hex ids, etags, deletes that keep the event with
// status "cancelled" (so re-inserting the id is a 409), private extended property filters, paging,
// `dateTime` answered in the event's zone with an offset (as Google does), and the `fields`
// partial-response mask (what a masked-out field would have said never leaves the fake).
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeCalendarServer, FakeFault, FakeOperation, FakeStoredEvent } from './fake-calendar.js';

type Json = Record<string, unknown>;

export interface RecordedGoogleRequest {
  operation: FakeOperation | 'authorize' | 'other';
  method: string;
  path: string;
  query: URLSearchParams;
  /** Parsed JSON (API) or form fields (token endpoint); null without a body. */
  body: unknown;
  /** The body the fake answered with (after the `fields` mask); null until answered or without one. */
  responseBody: string | null;
}

export interface FakeGoogleOptions {
  /** Largest page events.list returns whatever maxResults asks (Google may return fewer). */
  pageSize?: number;
  /** Account the consent screen "signs in"; goes into the id_token's email claim. */
  accountEmail?: string;
  now?: () => number;
  /** Called as each request arrives (benchmarks time the pushes they cause with it). */
  onRequest?: (request: RecordedGoogleRequest) => void;
}

export interface FakeGoogle extends FakeCalendarServer {
  /** Consent screen: GET answers 302 to redirect_uri with code and state, as if the user agreed. */
  readonly authUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly accountEmail: string;
  /** Every request that reached the fake, in order. */
  readonly requests: readonly RecordedGoogleRequest[];
  /** A consent by `account` (default: accountEmail), as the consent screen would issue it. */
  issueAuthorizationCode(codeChallenge: string, redirectUri: string, account?: string): string;
  /** Google's token revocation endpoint (RFC 7009). */
  readonly revokeUrl: string;
  /** Stores a raw Event resource as given (e.g. an event that is not ours holding some id). */
  putRawEvent(calendarId: string, resource: Json): void;
}

const DEFAULT_SCOPE = 'https://www.googleapis.com/auth/calendar.events openid https://www.googleapis.com/auth/userinfo.email';
const EVENT_ID = /^[a-v0-9]{5,1024}$/;
const API_PATH = /^\/calendar\/v3\/calendars\/([^/]+)\/events(?:\/([^/]+))?$/;
const STATUS_TEXT: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  410: 'NOT_FOUND',
  412: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};
const DEFAULT_REASON: Record<number, string> = {
  400: 'badRequest',
  401: 'authError',
  403: 'forbidden',
  404: 'notFound',
  409: 'duplicate',
  410: 'deleted',
  412: 'conditionNotMet',
  429: 'rateLimitExceeded',
};
const REASON_MESSAGE: Record<string, string> = {
  rateLimitExceeded: 'Rate Limit Exceeded',
  userRateLimitExceeded: 'User Rate Limit Exceeded',
  quotaExceeded: 'Calendar usage limits exceeded.',
  dailyLimitExceeded: 'Daily Limit Exceeded',
  forbidden: 'Forbidden',
  authError: 'Invalid Credentials',
  notFound: 'Not Found',
  duplicate: 'The requested identifier already exists.',
  deleted: 'Resource has been deleted',
  conditionNotMet: 'Precondition Failed',
  backendError: 'Backend Error',
  badRequest: 'Bad Request',
};
const USAGE_LIMIT_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'quotaExceeded', 'dailyLimitExceeded']);

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message ?? REASON_MESSAGE[reason] ?? reason);
  }
}

class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(error);
  }
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function googleErrorBody(status: number, reason: string, message: string): Json {
  const domain = USAGE_LIMIT_REASONS.has(reason) ? 'usageLimits' : 'global';
  return { error: { code: status, message, errors: [{ message, domain, reason }], status: STATUS_TEXT[status] ?? 'UNKNOWN' } };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'application/json; charset=UTF-8', ...headers }, body: JSON.stringify(body) };
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function randomId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuv';
  return Array.from(randomBytes(26), (b) => alphabet[b & 31]).join('');
}

function token(prefix: string): string {
  return `${prefix}.${randomBytes(24).toString('base64url')}`;
}

/** "2026-11-10T10:00:00-05:00" (or "...Z" in UTC), the way Google renders an event's dateTime. */
export function formatInZone(ms: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'longOffset',
  }).formatToParts(new Date(ms));
  const part = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  const gmt = part('timeZoneName').replace('GMT', '');
  return `${part('year')}-${part('month')}-${part('day')}T${part('hour')}:${part('minute')}:${part('second')}${gmt === '' ? 'Z' : gmt}`;
}

/** An EventDateTime as Google stores and answers it; 400 when it is missing or invalid. */
function normaliseTime(value: unknown, which: 'start' | 'end', defaultZone: string): Json {
  if (!isRecord(value)) throw new ApiError(400, 'required', `Missing ${which} time.`);
  if (typeof value.date === 'string' && value.dateTime === undefined) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value.date)) throw new ApiError(400, 'invalid', `Invalid ${which} time.`);
    return { date: value.date };
  }
  if (typeof value.dateTime !== 'string') throw new ApiError(400, 'required', `Missing ${which} time.`);
  // RFC 3339 requires an offset unless a timeZone says how to read a local time.
  const hasOffset = /(Z|[+-]\d{2}:\d{2})$/i.test(value.dateTime);
  const ms = Date.parse(value.dateTime);
  if (!hasOffset || Number.isNaN(ms)) throw new ApiError(400, 'invalid', `Invalid ${which} time.`);
  const timeZone = typeof value.timeZone === 'string' ? value.timeZone : defaultZone;
  try {
    return { dateTime: formatInZone(ms, timeZone), timeZone };
  } catch {
    throw new ApiError(400, 'invalid', `Invalid time zone definition for ${which} time.`);
  }
}

/**
 * Event.reminders as Google stores it, refused as Google does: useDefault with overrides, more
 * than 5 overrides, a method other than email/popup, minutes outside 0..40320. Absent: defaults.
 */
function normaliseReminders(value: unknown): Json {
  if (value === undefined || value === null) return { useDefault: true };
  if (!isRecord(value) || typeof value.useDefault !== 'boolean') throw new ApiError(400, 'required', 'Missing reminders.useDefault.');
  const overrides = value.overrides ?? [];
  if (!Array.isArray(overrides)) throw new ApiError(400, 'invalid', 'Invalid reminders.overrides.');
  if (value.useDefault && overrides.length > 0) throw new ApiError(400, 'cannotUseDefaultRemindersAndSpecifyOverride', 'Cannot specify both default reminders and overrides at the same time.');
  if (overrides.length > 5) throw new ApiError(400, 'invalid', 'Too many reminders.');
  for (const o of overrides as unknown[]) {
    if (!isRecord(o) || (o.method !== 'popup' && o.method !== 'email')) throw new ApiError(400, 'invalid', 'Invalid reminder method.');
    if (typeof o.minutes !== 'number' || !Number.isInteger(o.minutes) || o.minutes < 0 || o.minutes > 40_320) throw new ApiError(400, 'invalid', 'Invalid reminder minutes.');
  }
  return value.useDefault ? { useDefault: true } : { useDefault: false, ...(overrides.length > 0 ? { overrides: clone(overrides as Json[]) } : {}) };
}

function remindersOf(value: unknown): number[] | null {
  if (!isRecord(value) || value.useDefault !== false) return null;
  const overrides = Array.isArray(value.overrides) ? value.overrides : [];
  return overrides.flatMap((o) => (isRecord(o) && o.method === 'popup' && typeof o.minutes === 'number' ? [o.minutes] : [])).sort((a, b) => a - b);
}

function instantOf(value: unknown): number {
  if (!isRecord(value)) return Number.NaN;
  const raw = typeof value.dateTime === 'string' ? value.dateTime : typeof value.date === 'string' ? `${value.date}T00:00:00Z` : '';
  return Date.parse(raw);
}

function isoOf(value: unknown): string {
  const ms = instantOf(value);
  return Number.isNaN(ms) ? '' : new Date(ms).toISOString();
}

/** Our tag, read the way the connector writes it (connectors/google/google-event-mapper.ts). */
function tagOf(resource: Json): FakeStoredEvent['tag'] {
  const ext = resource.extendedProperties;
  const priv = isRecord(ext) && isRecord(ext.private) ? ext.private : null;
  if (priv === null || priv.sessionsync !== '1' || typeof priv.sessionsyncKey !== 'string') return null;
  return { key: priv.sessionsyncKey, revision: typeof priv.sessionsyncRevision === 'string' ? priv.sessionsyncRevision : '' };
}

function matchesExtended(resource: Json, kind: 'private' | 'shared', constraints: string[]): boolean {
  const ext = resource.extendedProperties;
  const props = isRecord(ext) && isRecord(ext[kind]) ? ext[kind] : {};
  return constraints.every((constraint) => {
    const eq = constraint.indexOf('=');
    if (eq <= 0) throw new ApiError(400, 'invalid', 'Invalid extended property constraint.');
    return props[constraint.slice(0, eq)] === constraint.slice(eq + 1);
  });
}

/** A `fields` selection: each name maps to everything under it (true) or to a narrower selection. */
type FieldSelection = Map<string, FieldSelection | true>;

/**
 * Parses Google's partial-response syntax: "a,b/c,d(e,f/g)" (commas between fields, "/" into a
 * sub-object, parentheses for several sub-fields). https://developers.google.com/workspace/calendar/api/guides/performance#partial-response
 */
function parseFields(spec: string): FieldSelection {
  let at = 0;
  const fail = (): never => {
    throw new ApiError(400, 'invalidParameter', `Invalid field selection ${spec}`);
  };
  const merge = (into: FieldSelection, name: string, value: FieldSelection | true): void => {
    const current = into.get(name);
    if (current === true || value === true) into.set(name, true);
    else if (current === undefined) into.set(name, value);
    else for (const [k, v] of value) merge(current, k, v);
  };
  const name = (): string => {
    const match = /^[A-Za-z0-9_@.-]+/.exec(spec.slice(at));
    if (match === null) return fail();
    at += match[0].length;
    return match[0];
  };
  const list = (): FieldSelection => {
    const out: FieldSelection = new Map();
    for (;;) {
      const path = [name()];
      while (spec[at] === '/') {
        at += 1;
        path.push(name());
      }
      let leaf: FieldSelection | true = true;
      if (spec[at] === '(') {
        at += 1;
        leaf = list();
        if (spec[at] !== ')') fail();
        at += 1;
      }
      const value = path.slice(1).reduceRight<FieldSelection | true>((inner, key) => new Map([[key, inner]]), leaf);
      merge(out, path[0]!, value);
      if (spec[at] !== ',') return out;
      at += 1;
    }
  };
  const selection = list();
  if (at !== spec.length) fail();
  return selection;
}

/** `value` with only the selected fields (arrays: each element selected alike). */
function selectFields(value: unknown, selection: FieldSelection): unknown {
  if (Array.isArray(value)) return value.map((item) => selectFields(item, selection));
  if (!isRecord(value)) return value;
  const out: Json = {};
  for (const [key, sub] of selection) {
    if (!(key in value)) continue;
    out[key] = sub === true ? value[key] : selectFields(value[key], sub);
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function operationOf(method: string, path: string): RecordedGoogleRequest['operation'] {
  if (path === '/token') return 'token';
  if (path === '/revoke') return 'revoke';
  if (path === '/o/oauth2/v2/auth') return 'authorize';
  const match = API_PATH.exec(path);
  if (!match) return 'other';
  const hasId = match[2] !== undefined;
  switch (method) {
    case 'POST':
      return hasId ? 'other' : 'create';
    case 'GET':
      return hasId ? 'get' : 'list';
    case 'PUT':
    case 'PATCH':
      return hasId ? 'update' : 'other';
    case 'DELETE':
      return hasId ? 'delete' : 'other';
    default:
      return 'other';
  }
}

interface AccessGrant {
  refreshToken: string;
  expiresAt: number;
  expired: boolean;
}

interface AuthCode {
  /** The Google account that consented (its address). */
  account: string;
  challenge: string;
  redirectUri: string;
  scope: string;
  used: boolean;
}

export async function startFakeGoogle(options: FakeGoogleOptions = {}): Promise<FakeGoogle> {
  const now = options.now ?? (() => Date.now());
  const clientId = 'fake-client-id.apps.googleusercontent.com';
  const clientSecret = 'fake-client-secret';
  const accountEmail = options.accountEmail ?? 'provider@example.com';
  const maxPage = options.pageSize ?? 2500;

  const calendars = new Map<string, Map<string, Json>>();
  const accessTokens = new Map<string, AccessGrant>();
  // A grant is per account and app: revoking any of an account's tokens ends all of them.
  const refreshTokens = new Map<string, { revoked: boolean; scope: string; account: string }>();
  const codes = new Map<string, AuthCode>();
  const faults: Array<FakeFault & { remaining: number }> = [];
  const counts = new Map<string, number>();
  const requests: RecordedGoogleRequest[] = [];
  let version = 0;

  function calendarOf(calendarId: string): Map<string, Json> {
    let events = calendars.get(calendarId);
    if (!events) {
      events = new Map();
      calendars.set(calendarId, events);
    }
    return events;
  }

  function stamp(resource: Json): Json {
    version += 1;
    resource.updated = new Date(now()).toISOString();
    resource.etag = `"${createHash('sha256').update(`${version}`).digest('hex').slice(0, 16)}"`;
    return resource;
  }

  function mint(refreshToken: string, expiresInSeconds: number): { accessToken: string; expiresAt: number } {
    const accessToken = token('ya29');
    const expiresAt = now() + expiresInSeconds * 1000;
    accessTokens.set(accessToken, { refreshToken, expiresAt, expired: false });
    return { accessToken, expiresAt };
  }

  function idToken(account: string = accountEmail): string {
    const enc = (value: Json): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const iat = Math.floor(now() / 1000);
    return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ iss: 'https://accounts.google.com', aud: clientId, sub: '1234567890', email: account, email_verified: true, iat, exp: iat + 3600 })}.`;
  }

  function takeFault(operation: RecordedGoogleRequest['operation']): FakeFault | null {
    const index = faults.findIndex((f) => f.operation === operation);
    if (index < 0) return null;
    const fault = faults[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) faults.splice(index, 1);
    return fault;
  }

  function faultReply(fault: FakeFault): Reply {
    const status = fault.status ?? 500;
    const headers: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
    if (fault.operation === 'token' || fault.operation === 'revoke') {
      const error = fault.reason ?? (status >= 500 ? 'internal_failure' : 'invalid_request');
      return json(status, { error, error_description: 'Injected failure' }, headers);
    }
    const reason = fault.reason ?? DEFAULT_REASON[status] ?? (status >= 500 ? 'backendError' : 'badRequest');
    const message = REASON_MESSAGE[reason] ?? reason;
    if (status === 401) headers['www-authenticate'] = 'Bearer realm="https://accounts.google.com/", error="invalid_token"';
    return json(status, googleErrorBody(status, reason, message), headers);
  }

  // ---- OAuth -------------------------------------------------------------------------------

  function authorize(query: URLSearchParams): Reply {
    const redirectUri = query.get('redirect_uri');
    if (query.get('client_id') !== clientId || !redirectUri) {
      return { status: 400, headers: { 'content-type': 'text/plain' }, body: 'Error 400: invalid_request (client_id or redirect_uri)' };
    }
    if (query.get('response_type') !== 'code' || query.get('code_challenge_method') !== 'S256' || !query.get('code_challenge')) {
      return { status: 400, headers: { 'content-type': 'text/plain' }, body: 'Error 400: invalid_request (response_type, PKCE)' };
    }
    const code = issueCode(query.get('code_challenge')!, redirectUri, query.get('scope') ?? DEFAULT_SCOPE);
    const target = new URL(redirectUri);
    target.searchParams.set('code', code);
    const state = query.get('state');
    if (state !== null) target.searchParams.set('state', state);
    target.searchParams.set('scope', query.get('scope') ?? DEFAULT_SCOPE);
    return { status: 302, headers: { location: target.toString() }, body: '' };
  }

  function issueCode(challenge: string, redirectUri: string, scope: string, account: string = accountEmail): string {
    const code = `4/${randomBytes(24).toString('base64url')}`;
    codes.set(code, { account, challenge, redirectUri, scope, used: false });
    return code;
  }

  function tokenEndpoint(req: IncomingMessage, form: URLSearchParams): Reply {
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const [user, password] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
      id = user ?? null;
      secret = password ?? null;
    }
    if (id !== clientId || secret !== clientSecret) throw new OAuthError(401, 'invalid_client', 'Unauthorized');

    switch (form.get('grant_type')) {
      case 'authorization_code': {
        const code = codes.get(form.get('code') ?? '');
        if (!code || code.used) throw new OAuthError(400, 'invalid_grant', 'Malformed auth code.');
        if (form.get('redirect_uri') !== code.redirectUri) throw new OAuthError(400, 'redirect_uri_mismatch', 'Bad Request');
        const verifier = form.get('code_verifier');
        if (!verifier) throw new OAuthError(400, 'invalid_grant', 'Missing code verifier.');
        if (createHash('sha256').update(verifier).digest('base64url') !== code.challenge) throw new OAuthError(400, 'invalid_grant', 'Invalid code verifier.');
        code.used = true;
        const refreshToken = token('1/');
        refreshTokens.set(refreshToken, { revoked: false, scope: code.scope, account: code.account });
        const { accessToken } = mint(refreshToken, 3599);
        return json(200, { access_token: accessToken, expires_in: 3599, refresh_token: refreshToken, scope: code.scope, token_type: 'Bearer', id_token: idToken(code.account) });
      }
      case 'refresh_token': {
        const refreshToken = form.get('refresh_token') ?? '';
        const grant = refreshTokens.get(refreshToken);
        if (!grant || grant.revoked) throw new OAuthError(400, 'invalid_grant', 'Token has been expired or revoked.');
        const { accessToken } = mint(refreshToken, 3599);
        // Google answers a refresh without a refresh_token: the old one stays valid.
        return json(200, { access_token: accessToken, expires_in: 3599, scope: grant.scope, token_type: 'Bearer', id_token: idToken(grant.account) });
      }
      default:
        throw new OAuthError(400, 'unsupported_grant_type', 'Invalid grant_type.');
    }
  }

  /**
   * Google's revocation endpoint: POST /revoke with `token` (query or form), a refresh token or an
   * access token; either ends the whole grant. 200 `{}`, or 400 invalid_token for an unknown,
   * expired or already revoked token. No client authentication, as at Google.
   */
  function revokeEndpoint(given: string): Reply {
    const refreshToken = refreshTokens.has(given) ? given : accessTokens.get(given)?.refreshToken;
    const grant = refreshToken === undefined ? undefined : refreshTokens.get(refreshToken);
    if (grant === undefined || grant.revoked) throw new OAuthError(400, 'invalid_token', 'Token expired or revoked');
    // The app's whole grant for that account goes: every refresh token of it, and their access tokens.
    for (const [token, other] of refreshTokens) {
      if (other.account !== grant.account) continue;
      other.revoked = true;
      for (const access of accessTokens.values()) if (access.refreshToken === token) access.expired = true;
    }
    return json(200, {});
  }

  function authenticate(req: IncomingMessage): void {
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    const grant = bearer ? accessTokens.get(bearer[1]!) : undefined;
    if (!grant || grant.expired || grant.expiresAt <= now()) {
      throw new ApiError(
        401,
        'authError',
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
      );
    }
  }

  // ---- Calendar v3 events ------------------------------------------------------------------

  function eventReply(resource: Json, status = 200): Reply {
    return json(status, resource, { etag: String(resource.etag) });
  }

  function checkSequence(existing: Json, body: Json): void {
    if (typeof body.sequence === 'number' && typeof existing.sequence === 'number' && body.sequence < existing.sequence) {
      throw new ApiError(400, 'invalid', 'Invalid sequence value. The specified sequence number is below the current sequence value of the resource.');
    }
  }

  function checkTimes(resource: Json): void {
    const start = instantOf(resource.start);
    const end = instantOf(resource.end);
    if (end < start) throw new ApiError(400, 'timeRangeEmpty', 'The specified time range is empty.');
  }

  function insert(calendarId: string, body: Json): Reply {
    const events = calendarOf(calendarId);
    let id = randomId();
    if (body.id !== undefined) {
      if (typeof body.id !== 'string' || !EVENT_ID.test(body.id)) throw new ApiError(400, 'invalid', 'Invalid resource id value.');
      // Also when the holder is cancelled: a deleted event keeps its id.
      if (events.has(body.id)) throw new ApiError(409, 'duplicate');
      id = body.id;
    }
    const createdAt = new Date(now()).toISOString();
    const resource: Json = {
      ...clone(body),
      kind: 'calendar#event',
      id,
      status: typeof body.status === 'string' ? body.status : 'confirmed',
      htmlLink: `https://www.google.com/calendar/event?eid=${Buffer.from(`${id} ${calendarId}`).toString('base64url')}`,
      created: createdAt,
      creator: { email: accountEmail, self: true },
      organizer: { email: accountEmail, self: true },
      iCalUID: typeof body.iCalUID === 'string' ? body.iCalUID : `${id}@google.com`,
      sequence: typeof body.sequence === 'number' ? body.sequence : 0,
      reminders: normaliseReminders(body.reminders),
      eventType: 'default',
      start: normaliseTime(body.start, 'start', 'UTC'),
      end: normaliseTime(body.end, 'end', 'UTC'),
    };
    checkTimes(resource);
    events.set(id, stamp(resource));
    return eventReply(resource);
  }

  function existing(calendarId: string, id: string): Json {
    const resource = calendarOf(calendarId).get(id);
    if (!resource) throw new ApiError(404, 'notFound');
    return resource;
  }

  function checkIfMatch(req: IncomingMessage, resource: Json): void {
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== resource.etag) throw new ApiError(412, 'conditionNotMet');
  }

  /** PUT: a full replace; a cancelled (deleted) event may be updated, which restores it. */
  function update(req: IncomingMessage, calendarId: string, id: string, body: Json): Reply {
    const current = existing(calendarId, id);
    checkIfMatch(req, current);
    checkSequence(current, body);
    const resource: Json = {
      ...clone(body),
      kind: 'calendar#event',
      id,
      status: typeof body.status === 'string' ? body.status : 'confirmed',
      htmlLink: current.htmlLink,
      created: current.created,
      creator: current.creator,
      organizer: current.organizer,
      iCalUID: current.iCalUID,
      sequence: typeof body.sequence === 'number' ? body.sequence : current.sequence,
      reminders: normaliseReminders(body.reminders),
      eventType: 'default',
      start: normaliseTime(body.start, 'start', 'UTC'),
      end: normaliseTime(body.end, 'end', 'UTC'),
    };
    checkTimes(resource);
    calendarOf(calendarId).set(id, stamp(resource));
    return eventReply(resource);
  }

  /** PATCH: fields given replace those stored; extended property maps merge key by key. */
  function patch(req: IncomingMessage, calendarId: string, id: string, body: Json): Reply {
    const current = existing(calendarId, id);
    checkIfMatch(req, current);
    checkSequence(current, body);
    const resource = clone(current);
    for (const [key, value] of Object.entries(body)) {
      if (key === 'id' || key === 'kind' || key === 'etag' || key === 'created' || key === 'iCalUID') continue;
      if (key === 'start' || key === 'end') {
        resource[key] = normaliseTime(value, key, 'UTC');
      } else if (key === 'reminders') {
        resource.reminders = normaliseReminders(value);
      } else if (key === 'extendedProperties' && isRecord(value)) {
        const merged: Json = isRecord(resource.extendedProperties) ? clone(resource.extendedProperties) : {};
        for (const kind of ['private', 'shared'] as const) {
          const given = value[kind];
          if (isRecord(given)) merged[kind] = { ...(isRecord(merged[kind]) ? merged[kind] : {}), ...given };
        }
        resource.extendedProperties = merged;
      } else {
        resource[key] = clone(value);
      }
    }
    checkTimes(resource);
    calendarOf(calendarId).set(id, stamp(resource));
    return eventReply(resource);
  }

  function remove(calendarId: string, id: string): Reply {
    const current = existing(calendarId, id);
    if (current.status === 'cancelled') throw new ApiError(410, 'deleted');
    current.status = 'cancelled';
    stamp(current);
    return { status: 204, headers: {}, body: '' };
  }

  function list(calendarId: string, query: URLSearchParams): Reply {
    const maxResults = query.has('maxResults') ? Number(query.get('maxResults')) : 250;
    if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 2500) throw new ApiError(400, 'invalid', 'Invalid value for maxResults.');
    const bound = (name: string): number | null => {
      const raw = query.get(name);
      if (raw === null) return null;
      const ms = Date.parse(raw);
      if (!/(Z|[+-]\d{2}:\d{2})$/i.test(raw) || Number.isNaN(ms)) throw new ApiError(400, 'badRequest', 'Bad Request');
      return ms;
    };
    const timeMin = bound('timeMin');
    const timeMax = bound('timeMax');
    const showDeleted = query.get('showDeleted') === 'true';
    const privateConstraints = query.getAll('privateExtendedProperty');
    const sharedConstraints = query.getAll('sharedExtendedProperty');
    const iCalUID = query.get('iCalUID');

    const matching = [...calendarOf(calendarId).values()].filter(
      (resource) =>
        (showDeleted || resource.status !== 'cancelled') &&
        // timeMin bounds the event's end and timeMax its start, both exclusive.
        (timeMin === null || instantOf(resource.end) > timeMin) &&
        (timeMax === null || instantOf(resource.start) < timeMax) &&
        matchesExtended(resource, 'private', privateConstraints) &&
        matchesExtended(resource, 'shared', sharedConstraints) &&
        (iCalUID === null || resource.iCalUID === iCalUID),
    );

    let offset = 0;
    const pageToken = query.get('pageToken');
    if (pageToken !== null) {
      const decoded = /^page:(\d+)$/.exec(Buffer.from(pageToken, 'base64url').toString('utf8'));
      if (!decoded) throw new ApiError(400, 'invalid', 'Invalid page token value.');
      offset = Number(decoded[1]);
    }
    const size = Math.min(maxResults, maxPage);
    const items = matching.slice(offset, offset + size).map(clone);
    const next = offset + size < matching.length ? Buffer.from(`page:${offset + size}`).toString('base64url') : null;
    return json(200, {
      kind: 'calendar#events',
      etag: `"${version}"`,
      summary: calendarId,
      description: '',
      updated: new Date(now()).toISOString(),
      timeZone: 'UTC',
      accessRole: 'owner',
      defaultReminders: [{ method: 'popup', minutes: 10 }],
      ...(next === null ? { nextSyncToken: `sync-${version}` } : { nextPageToken: next }),
      items,
    });
  }

  function api(req: IncomingMessage, method: string, path: string, query: URLSearchParams, body: unknown): Reply {
    const match = API_PATH.exec(path);
    if (!match) throw new ApiError(404, 'notFound');
    const calendarId = decodeURIComponent(match[1]!);
    const id = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
    const needsBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
    if (needsBody && !isRecord(body)) throw new ApiError(400, 'parseError', 'Parse Error');
    const payload = body as Json;
    if (id === undefined) {
      if (method === 'GET') return list(calendarId, query);
      if (method === 'POST') return insert(calendarId, payload);
    } else {
      if (method === 'GET') return eventReply(existing(calendarId, id));
      if (method === 'PUT') return update(req, calendarId, id, payload);
      if (method === 'PATCH') return patch(req, calendarId, id, payload);
      if (method === 'DELETE') return remove(calendarId, id);
    }
    throw new ApiError(404, 'notFound');
  }

  // ---- HTTP --------------------------------------------------------------------------------

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const method = req.method ?? 'GET';
    const operation = operationOf(method, url.pathname);
    const raw = await readBody(req);
    const form = operation === 'token' || operation === 'revoke' ? new URLSearchParams(raw) : null;
    let body: unknown = null;
    if (form !== null) {
      body = Object.fromEntries(form);
    } else if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
    }
    const recorded: RecordedGoogleRequest = { operation, method, path: url.pathname, query: url.searchParams, body, responseBody: null };
    requests.push(recorded);
    options.onRequest?.(recorded);
    counts.set(operation, (counts.get(operation) ?? 0) + 1);

    let reply: Reply;
    let dropAfter = false;
    try {
      if (operation === 'authorize') {
        reply = authorize(url.searchParams);
      } else if (operation === 'revoke') {
        const fault = takeFault('revoke');
        if (fault?.network === 'reset') return void req.socket.destroy();
        dropAfter = fault?.network === 'drop-response';
        reply = fault && !dropAfter ? faultReply(fault) : revokeEndpoint(url.searchParams.get('token') ?? form!.get('token') ?? '');
      } else if (operation === 'token') {
        const fault = takeFault('token');
        if (fault?.network === 'reset') return void req.socket.destroy();
        dropAfter = fault?.network === 'drop-response';
        reply = fault && !dropAfter ? faultReply(fault) : tokenEndpoint(req, form!);
      } else {
        authenticate(req);
        const fault = operation === 'other' ? null : takeFault(operation);
        if (fault?.network === 'reset') return void req.socket.destroy();
        dropAfter = fault?.network === 'drop-response';
        reply = fault && !dropAfter ? faultReply(fault) : api(req, method, url.pathname, url.searchParams, body);
        const fields = url.searchParams.get('fields');
        if (fields !== null && reply.status < 300 && reply.body !== '') {
          reply = { ...reply, body: JSON.stringify(selectFields(JSON.parse(reply.body), parseFields(fields))) };
        }
      }
    } catch (error) {
      if (error instanceof ApiError) {
        reply = json(error.status, googleErrorBody(error.status, error.reason, error.message), error.headers);
      } else if (error instanceof OAuthError) {
        reply = json(error.status, { error: error.error, error_description: error.description });
      } else {
        reply = json(500, googleErrorBody(500, 'backendError', 'Backend Error'));
      }
    }
    // The request was applied; the client never hears about it.
    if (dropAfter) return void req.socket.destroy();
    recorded.responseBody = reply.body === '' ? null : reply.body;
    res.writeHead(reply.status, reply.headers);
    res.end(reply.body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;

  function toStored(calendarId: string, resource: Json): FakeStoredEvent {
    return {
      id: String(resource.id),
      calendarId,
      summary: typeof resource.summary === 'string' ? resource.summary : '',
      location: typeof resource.location === 'string' ? resource.location : null,
      description: typeof resource.description === 'string' ? resource.description : null,
      start: isoOf(resource.start),
      end: isoOf(resource.end),
      cancelled: resource.status === 'cancelled',
      reminders: remindersOf(resource.reminders),
      tag: tagOf(resource),
      raw: clone(resource),
    };
  }

  return {
    apiUrl: `${base}/`,
    tokenUrl: `${base}/token`,
    revokeUrl: `${base}/revoke`,
    authUrl: `${base}/o/oauth2/v2/auth`,
    clientId,
    clientSecret,
    accountEmail,
    requests,

    issueTokens({ expiresInSeconds = 3600 } = {}) {
      const refreshToken = token('1/');
      refreshTokens.set(refreshToken, { revoked: false, scope: DEFAULT_SCOPE, account: accountEmail });
      const { accessToken, expiresAt } = mint(refreshToken, expiresInSeconds);
      return { accessToken, refreshToken, expiresAt };
    },

    issueAuthorizationCode(codeChallenge, redirectUri, account = accountEmail) {
      return issueCode(codeChallenge, redirectUri, DEFAULT_SCOPE, account);
    },

    inject(fault) {
      faults.push({ ...fault, remaining: fault.times ?? 1 });
    },

    expireAccessTokens() {
      for (const grant of accessTokens.values()) grant.expired = true;
    },

    revokeGrants() {
      for (const grant of refreshTokens.values()) grant.revoked = true;
      for (const grant of accessTokens.values()) grant.expired = true;
    },

    isGrantRevoked(refreshToken) {
      return refreshTokens.get(refreshToken)?.revoked ?? true;
    },

    events(calendarId) {
      return [...calendarOf(calendarId).values()].map((resource) => toStored(calendarId, resource));
    },

    editExternally(calendarId, id, changes) {
      const resource = calendarOf(calendarId).get(id);
      if (!resource) throw new Error(`fake-google: no event ${id} in ${calendarId}`);
      if (changes.summary !== undefined) resource.summary = changes.summary;
      for (const which of ['start', 'end'] as const) {
        const value = changes[which];
        if (value === undefined) continue;
        const zone = isRecord(resource[which]) && typeof resource[which].timeZone === 'string' ? resource[which].timeZone : 'UTC';
        resource[which] = normaliseTime({ dateTime: value, timeZone: zone }, which, 'UTC');
      }
      // The calendar UI bumps the sequence when times change.
      if ((changes.start !== undefined || changes.end !== undefined) && typeof resource.sequence === 'number') resource.sequence += 1;
      stamp(resource);
    },

    deleteExternally(calendarId, id) {
      const resource = calendarOf(calendarId).get(id);
      if (!resource) throw new Error(`fake-google: no event ${id} in ${calendarId}`);
      resource.status = 'cancelled';
      stamp(resource);
    },

    addUntaggedEvent(calendarId, summary, start, end) {
      const id = randomId();
      insert(calendarId, { id, summary, start: { dateTime: start, timeZone: 'UTC' }, end: { dateTime: end, timeZone: 'UTC' } });
      return id;
    },

    putRawEvent(calendarId, resource) {
      if (typeof resource.id !== 'string') throw new Error('fake-google: putRawEvent needs an id');
      calendarOf(calendarId).set(resource.id, stamp(clone(resource)));
    },

    requestCount(operation) {
      return counts.get(operation) ?? 0;
    },

    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
