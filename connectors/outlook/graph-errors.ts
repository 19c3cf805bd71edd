import { GraphError } from '@microsoft/microsoft-graph-client';
import { SyncError } from '../../src/domain/index.js';

// Microsoft Graph and Microsoft identity platform failures -> SyncError. Codes are ours
// (HTTP_503, RATE_LIMITED, INVALID_GRANT...) and never carry anything from a response body but
// Microsoft's own enumerated error identifiers, which go into the message only.

/** Retry-After in seconds (Graph uses seconds) or as an HTTP-date; null when absent or unusable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | null {
  if (value === null || value === undefined || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

/** Vendor identifiers are safe to log but we still keep only word characters. */
function safeIdentifier(value: unknown): string {
  return typeof value === 'string' ? value.replace(/[^\w.-]/g, '').slice(0, 80) : '';
}

/** A status that is worth retrying: throttling, server trouble, timeouts, edit conflicts. */
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 412 || status === 429 || status >= 500;
}

/**
 * No `cause` is kept for HTTP failures: the client's error objects can hold response text that
 * echoes what we sent (event text), and SyncErrors get logged and stored.
 */
export function syncErrorForStatus(status: number, options: { retryAfterMs?: number | null; vendorCode?: string; source: string }): SyncError {
  const vendor = safeIdentifier(options.vendorCode);
  const message = `${options.source} answered HTTP ${status}${vendor ? ` (${vendor})` : ''}.`;
  const retryAfterMs = options.retryAfterMs ?? null;
  if (status === 429) return new SyncError({ kind: 'retryable', code: 'RATE_LIMITED', message, retryAfterMs });
  if (isRetryableStatus(status)) return new SyncError({ kind: 'retryable', code: `HTTP_${status}`, message, retryAfterMs });
  if (status === 401) return new SyncError({ kind: 'auth', code: 'UNAUTHORIZED', message });
  return new SyncError({ kind: 'permanent', code: `HTTP_${status}`, message });
}

/** The errno-style code of a failed connection (ECONNRESET, ENOTFOUND...), if there is one. */
function errnoOf(error: unknown): string {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code)) return code;
  }
  return '';
}

export function networkError(error: unknown): SyncError {
  const errno = errnoOf(error);
  return new SyncError({ kind: 'retryable', code: 'NETWORK_ERROR', message: `Could not reach Microsoft (network error${errno ? ` ${errno}` : ''}).` });
}

/**
 * Any failure of a Graph request as a SyncError. A 401 reaching this point already went through
 * one refresh and one retry (see RefreshOnUnauthorized), so the grant is no good: 'auth'.
 */
export function toSyncError(error: unknown, nowMs: number = Date.now()): SyncError {
  if (error instanceof SyncError) return error;
  if (error instanceof GraphError) {
    // The client reports a failed fetch() (DNS, refused, reset, TLS) as statusCode -1.
    if (error.statusCode <= 0) return networkError(error);
    const retryAfterMs = parseRetryAfter(error.headers?.get('Retry-After'), nowMs);
    return syncErrorForStatus(error.statusCode, { retryAfterMs, vendorCode: error.code ?? '', source: 'Microsoft Graph' });
  }
  if (error instanceof TypeError) return networkError(error);
  // Unknown failures (e.g. persisting refreshed tokens) are retried; the engine dead-letters
  // a target that keeps failing.
  return new SyncError({ kind: 'retryable', code: 'UNEXPECTED', message: `Unexpected failure talking to Microsoft Graph (${error instanceof Error ? error.name : typeof error}).` });
}

/** The HTTP status of a Graph failure, or null for network and other errors. */
export function graphStatus(error: unknown): number | null {
  return error instanceof GraphError && error.statusCode > 0 ? error.statusCode : null;
}

/** OAuth error values (RFC 6749 5.2) that mean the grant is gone and the person must reconnect. */
const REAUTH_ERRORS = new Set(['invalid_grant', 'interaction_required', 'consent_required', 'login_required']);

interface OAuthErrorBody {
  error?: unknown;
  error_codes?: unknown;
}

/**
 * A failed token endpoint response as a SyncError. invalid_grant covers AADSTS70008 (expired code
 * or refresh token), 700082 (refresh token expired by inactivity), 50173 (grant revoked), 54005
 * (code already redeemed), 65001 (consent missing): all need the person to reconnect.
 */
export function tokenEndpointError(status: number, body: unknown, retryAfter: string | null, nowMs: number): SyncError {
  const parsed: OAuthErrorBody = typeof body === 'object' && body !== null ? (body as OAuthErrorBody) : {};
  const error = safeIdentifier(parsed.error);
  const aadsts = Array.isArray(parsed.error_codes) ? parsed.error_codes.filter((c): c is number => typeof c === 'number').map((c) => `AADSTS${c}`) : [];
  const detail = [error, ...aadsts].filter((s) => s !== '').join(' ');
  const message = `Microsoft identity platform answered HTTP ${status}${detail ? ` (${detail})` : ''}.`;
  if (REAUTH_ERRORS.has(error)) {
    return new SyncError({ kind: 'auth', code: error === 'invalid_grant' ? 'INVALID_GRANT' : 'INTERACTION_REQUIRED', message });
  }
  if (error === 'invalid_client' || error === 'unauthorized_client') {
    // Our app registration (client id/secret) is wrong or expired: no retry or reconnect fixes it.
    return new SyncError({ kind: 'permanent', code: 'INVALID_CLIENT', message });
  }
  if (error === 'temporarily_unavailable') {
    return new SyncError({ kind: 'retryable', code: 'TOKEN_TEMPORARILY_UNAVAILABLE', message, retryAfterMs: parseRetryAfter(retryAfter, nowMs) });
  }
  return syncErrorForStatus(status, { retryAfterMs: parseRetryAfter(retryAfter, nowMs), vendorCode: detail, source: 'Microsoft identity platform' });
}
