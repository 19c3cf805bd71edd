import { createHash } from 'node:crypto';
import type { BusyInterval } from './busy.js';
import type { CalendarEvent } from './types.js';

// Push sync: a provider's connection to an external calendar, and the port every calendar
// vendor adapter implements (DESIGN.md, "Push sync").

export type ConnectionKind = 'google' | 'outlook';

export type ConnectionStatus = 'pending_authorization' | 'active' | 'needs_reauth' | 'error' | 'disconnected';

/** OAuth tokens as the vendor issued them; only ever stored encrypted. */
export interface OAuthTokens {
  accessToken: string;
  refreshToken: string | null;
  /** Epoch milliseconds when accessToken expires, if known. */
  expiresAt: number | null;
  scope: string | null;
}

/**
 * Identifies one of our events in an external calendar and what it should say. Written into the
 * event as private/extended properties so that resyncs find exactly our events and nothing else.
 */
export interface EventTag {
  /** Stable per (connection, session): "<providerId>/<sessionId>". */
  key: string;
  /** pushRevision(CalendarEvent.revision, reminders) at the time of writing. */
  revision: string;
}

/** One of our (tagged) events as read back from an external calendar. */
export interface RemoteEvent {
  externalId: string;
  tag: EventTag;
  /** The fields a person could have edited by hand, for drift detection. */
  start: string;
  end: string;
  summary: string;
  location: string | null;
  cancelled: boolean;
}

export interface ConnectorTarget {
  connectionId: string;
  calendarId: string;
  /** Deterministic per (connection, session): makes a retried create idempotent. */
  idempotencyKey: string;
}

/** What a connector needs to act for one connection; tokens refreshed by the vendor library are handed back. */
export interface ConnectorSession {
  connectionId: string;
  calendarId: string;
  tokens: OAuthTokens;
  /** Called when the library refreshed the access token, so the new tokens can be persisted. */
  onTokens(tokens: OAuthTokens): Promise<void>;
}

export type SyncErrorKind =
  /** Try again later (429, 403 rate limit, 5xx, network). */
  | 'retryable'
  /** The grant is gone (invalid_grant, revoked consent): the connection needs re-authorisation. */
  | 'auth'
  /** Will not succeed by retrying (400, 403 forbidden, calendar gone): dead-letter it. */
  | 'permanent';

export class SyncError extends Error {
  readonly kind: SyncErrorKind;
  /** Short machine code, e.g. "RATE_LIMITED", "HTTP_503", "INVALID_GRANT". Never contains client data. */
  readonly code: string;
  /** From Retry-After, when the vendor said how long to wait. */
  readonly retryAfterMs: number | null;

  constructor(options: { kind: SyncErrorKind; code: string; message: string; retryAfterMs?: number | null; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SyncError';
    this.kind = options.kind;
    this.code = options.code;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }
}

/**
 * A calendar vendor adapter. Every method is idempotent: calling it again after a lost response
 * or a crash leaves the external calendar in the same state, never with a duplicate. Errors are
 * SyncError; nothing vendor-specific leaves the adapter.
 */
export interface CalendarConnector {
  readonly kind: ConnectionKind;
  /**
   * Makes our event for this target equal to `event`, tagged with `tag`: updates `externalId`
   * when given and still there, else creates it idempotently (Google: our own event id, restored
   * if cancelled; Graph: transactionId), with these popup reminders (minutes before the start;
   * null or absent: the calendar's defaults; []: none). Returns the event's id.
   */
  upsert(
    session: ConnectorSession,
    target: ConnectorTarget,
    externalId: string | null,
    event: CalendarEvent,
    tag: EventTag,
    reminders?: readonly number[] | null,
  ): Promise<{ externalId: string }>;
  /** Deletes one of our events; an event already gone (404/410) counts as deleted. */
  remove(session: ConnectorSession, externalId: string): Promise<void>;
  /**
   * Deletes our event for this target when its id was never recorded (a create whose worker died
   * before recording it): Google by our own event id, Graph by our tag. Finding none is success;
   * an event that is not ours is never touched.
   */
  removeByKey(session: ConnectorSession, target: ConnectorTarget, key: string): Promise<void>;
  /** Our tagged events that end after `from` (cancelled ones included where the vendor keeps them). */
  listTagged(session: ConnectorSession, range: { from: string }): Promise<RemoteEvent[]>;
  /**
   * The connection's calendar as busy time in [from, to) (ISO UTC instants): merged, clipped to
   * the window, instants only (no title or attendee is asked for where the API allows not to).
   * Cancelled, free (transparent) and our own tagged events are not busy; an all-day event is
   * busy from midnight to midnight in `providerZone`.
   */
  readBusy(session: ConnectorSession, range: BusyReadRange): Promise<BusyInterval[]>;
}

/** The window readBusy reads, and the zone whose days all-day events take. */
export interface BusyReadRange {
  from: string;
  to: string;
  /** IANA zone of the provider. */
  providerZone: string;
}

const BASE32HEX = '0123456789abcdefghijklmnopqrstuv';

/**
 * Deterministic id for our event of one session in one connection: lower-case base32hex of a
 * SHA-256 (52 chars), valid as a Google event id (RFC 2938 base32hex, 5-1024 chars) and as a
 * Graph transactionId. Same inputs, same id: a retried create cannot make a second event.
 */
export function idempotencyKeyFor(connectionId: string, providerId: string, sessionId: string): string {
  const digest = createHash('sha256').update(`${connectionId}\n${providerId}\n${sessionId}`).digest();
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32HEX[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32HEX[(value << (5 - bits)) & 31];
  return out;
}

/** The tag key that names a session inside an external event. */
export function eventTagKey(providerId: string, sessionId: string): string {
  return `${providerId}/${sessionId}`;
}

/** The OAuth 2.0 authorization-code flow (with PKCE) of one vendor. */
export interface OAuthProvider {
  readonly kind: ConnectionKind;
  /** Where to send the provider's browser; redirect URI and scopes come from the adapter's config. */
  authorizeUrl(params: { state: string; codeChallenge: string }): string;
  /** Exchanges the callback's code; SyncError kind 'auth' when the code is bad or used. */
  exchangeCode(params: { code: string; codeVerifier: string }): Promise<{ tokens: OAuthTokens; accountEmail: string | null }>;
  /**
   * Revokes the grant behind these tokens at the vendor, so that no copy of them can act again:
   * 'revoked', or 'already_invalid' when the vendor says the grant is gone already; for Microsoft
   * 'not_permitted' when the app may not delete the user's consent grant (it needs
   * DelegatedPermissionGrant.ReadWrite.All) and 'tenant_wide' when the access is an admin's
   * consent for the whole tenant (only an admin can withdraw it). SyncError (retryable) on 429,
   * 5xx or the network, so that the caller retries later.
   */
  revoke(tokens: OAuthTokens): Promise<RevokeOutcome>;
}

export type RevokeOutcome = 'revoked' | 'already_invalid' | 'not_permitted' | 'tenant_wide';

/** A provider's link to one external calendar. */
export interface Connection {
  id: string;
  providerId: string;
  kind: ConnectionKind;
  /** Vendor calendar id; "primary" for the account's main calendar. */
  calendarId: string;
  status: ConnectionStatus;
  accountEmail: string | null;
  /** OAuthTokens as JSON, sealed with AES-256-GCM (SecretBox); null until authorised or after disconnect. */
  sealedTokens: string | null;
  /** The authorization in flight: single-use nonce of the signed state, sealed PKCE verifier. */
  pendingAuth: { nonce: string; sealedVerifier: string; expiresAt: string } | null;
  lastSyncedAt: string | null;
  lastErrorCode: string | null;
  /** The removal of our events from this calendar under way (disconnect, offboarding); null otherwise. */
  cleanup: ConnectionCleanup | null;
  createdAt: string;
  updatedAt: string;
}

/**
 * A disconnect or an offboarding in progress for one connection. While it is set, every target of
 * the connection wants no event (the worker removes what we wrote, with its retries and pacing);
 * once none is pending, the worker sweeps what carries our tag, revokes the grant, forgets the
 * tokens and records the outcome (calendar-cleanup.ts).
 */
export interface ConnectionCleanup {
  reason: 'disconnect' | 'offboard';
  /** The offboarding this is part of, or null for a disconnect. */
  offboardingId: string | null;
  /** Whether our events are removed (false: the grant is revoked and the events stay). */
  removeEvents: boolean;
  actor: string;
  requestedAt: string;
  /** Events we had written when it was asked (targets with an event id). */
  expected: number;
  /**
   * The ids the sweep removed, once it has run (null before): a retry after a failed revocation
   * does not sweep again with a grant that may be gone already, and still counts them.
   */
  swept: string[] | null;
  /** The finishing step's retries: attempts so far, not before this instant, last failure code. */
  attempts: number;
  notBefore: string;
  lastErrorCode: string | null;
}

/**
 * Desired vs. synced state of one session's event in one connection. Level-triggered: a change
 * bumps `generation`; the worker reads the *current* session when it runs, writes it, and records
 * the generation it saw, so a change during the call leaves the target pending again.
 */
export interface SyncTarget {
  id: string;
  connectionId: string;
  providerId: string;
  sessionId: string;
  generation: number;
  syncedGeneration: number;
  externalId: string | null;
  /** EventTag.revision last written, or null when the event should not / does not exist. */
  syncedRevision: string | null;
  attempts: number;
  nextAttemptAt: string;
  leaseOwner: string | null;
  leaseUntil: string | null;
  lastErrorCode: string | null;
  /** Set when a permanent error dead-lettered it; an admin retry clears it. */
  deadAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface ResyncProgress {
  total: number;
  done: number;
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  failed: number;
}

export interface ResyncPlanItem {
  connectionId: string;
  action: 'create' | 'update' | 'delete';
  sessionId: string | null;
  externalId: string | null;
  reason: string;
}

export interface ResyncJob {
  id: string;
  kind: 'resync';
  status: JobStatus;
  request: { providerIds: string[] | null; connectionIds: string[] | null; dryRun: boolean };
  progress: ResyncProgress;
  plan: ResyncPlanItem[] | null;
  error: string | null;
  actor: string;
  leaseOwner: string | null;
  leaseUntil: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  /** Ids only: "provider:p1", "connection:c1", "job:j1", "target:t1", "feed:f1". */
  target: string;
  details: Record<string, string | number | boolean | null>;
}

export interface SyncHealth {
  targets: { pending: number; synced: number; dead: number; retrying: number };
  connectionsNeedingReauth: { id: string; providerId: string; kind: ConnectionKind }[];
  oldestPendingSince: string | null;
  deadTargets: { id: string; connectionId: string; sessionId: string; lastErrorCode: string | null; deadAt: string }[];
}

/** What became of one connection's calendar when its provider left (or it was disconnected). */
export interface CleanupOutcome {
  connectionId: string;
  kind: ConnectionKind;
  /** removing: under way; done: our events removed and the grant revoked; incomplete: see reason. */
  status: 'removing' | 'done' | 'incomplete';
  /** Our events removed from the calendar (stray tagged ones found by the sweep included). */
  eventsRemoved: number;
  /** Our events that could not be removed (they stay in the calendar). */
  eventsLeft: number;
  /**
   * The vendor's answer to the revocation, 'failed' when it kept failing, 'not_attempted' without
   * tokens, 'shared' when it was kept because another live connection uses the same account (a
   * grant is per account and app: revoking it would cut that one off too; the last one revokes).
   */
  grant: RevokeOutcome | 'failed' | 'not_attempted' | 'shared' | null;
  /** Why it is incomplete: NEEDS_REAUTH, TOKENS_UNREADABLE, NOT_AUTHORIZED, or the last error code. */
  reason: string | null;
}

/**
 * An offboarding: the proof an admin can show that a provider who left left nothing behind
 * (ids and counts only). It outlives the provider row when the provider was deleted.
 */
export interface Offboarding {
  id: string;
  providerId: string;
  /** offboard keeps the provider's record; delete removes it once every calendar is done. */
  mode: 'offboard' | 'delete';
  actor: string;
  requestedAt: string;
  /** When every connection was done or incomplete (and, for delete, the record removed). */
  finishedAt: string | null;
  /** Feed URLs that answer an empty calendar (then 410) instead of the sessions. */
  feedsTombstoned: number;
  connections: CleanupOutcome[];
}

/** A feed URL of a provider who left: an empty calendar under this name, then 410 Gone. */
export interface FeedTombstone {
  providerId: string;
  calendarName: string;
  since: string;
}
