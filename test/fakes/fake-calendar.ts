// The test-facing surface every fake calendar server offers (fake Google Calendar v3, fake
// Microsoft Graph), so that one connector contract suite runs against both.

/** `revoke`: the vendor's grant revocation (Google's /revoke, Graph's delete of the consent grant). */
export type FakeOperation = 'create' | 'get' | 'update' | 'delete' | 'list' | 'token' | 'revoke';

export interface FakeFault {
  /** Which API operation fails; `token` is the OAuth token endpoint. */
  operation: FakeOperation;
  /** HTTP status to answer with, in the vendor's own error body format. */
  status?: number;
  /** Seconds for a Retry-After header. */
  retryAfterSeconds?: number;
  /** Vendor error reason, e.g. Google "rateLimitExceeded" / "userRateLimitExceeded", OAuth "invalid_grant". */
  reason?: string;
  /** 'drop-response': apply the request, then destroy the socket; 'reset': destroy the socket without applying. */
  network?: 'drop-response' | 'reset';
  /** How many matching requests fail (default 1). */
  times?: number;
}

/** An event as the fake stores it, in vendor-neutral terms. */
export interface FakeStoredEvent {
  id: string;
  calendarId: string;
  summary: string;
  location: string | null;
  description: string | null;
  start: string;
  end: string;
  cancelled: boolean;
  /**
   * Popup reminders in minutes before the start, ascending: Google's overrides, Outlook's one
   * reminder ([] when off); null while the calendar's defaults apply (Google useDefault, Outlook
   * reminder fields never written).
   */
  reminders: number[] | null;
  /** Our tag, when the event carries one: [key, revision]. */
  tag: { key: string; revision: string } | null;
  /** The raw vendor representation, for vendor-specific assertions. */
  raw: Record<string, unknown>;
}

export interface FakeCalendarServer {
  /** Base URL of the API root (what the connector config points at). */
  readonly apiUrl: string;
  /** Token endpoint URL. */
  readonly tokenUrl: string;
  /** Mints tokens for a test connection without the browser step. */
  issueTokens(options?: { expiresInSeconds?: number }): { accessToken: string; refreshToken: string; expiresAt: number };
  /** Issues an authorization code bound to a PKCE challenge (S256), as the consent screen would. */
  issueAuthorizationCode(codeChallenge: string, redirectUri: string): string;
  inject(fault: FakeFault): void;
  /** Makes every current access token expired (the next API call gets 401). */
  expireAccessTokens(): void;
  /** Revokes every refresh token (the next refresh gets invalid_grant), as a user removing the app would. */
  revokeGrants(): void;
  /** Whether this refresh token's grant is gone (revoked by revokeGrants or through the revocation API). */
  isGrantRevoked(refreshToken: string): boolean;
  /** Events of a calendar, including cancelled ones where the vendor keeps them. */
  events(calendarId: string): FakeStoredEvent[];
  /** A person's edits in the calendar UI. */
  editExternally(calendarId: string, id: string, patch: { summary?: string; start?: string; end?: string }): void;
  deleteExternally(calendarId: string, id: string): void;
  /** An event created by the person, not by us (no tag): must never be touched. */
  addUntaggedEvent(calendarId: string, summary: string, start: string, end: string): string;
  /** Number of requests per operation so far (writes: create/update/delete). */
  requestCount(operation: FakeOperation): number;
  close(): Promise<void>;
}
