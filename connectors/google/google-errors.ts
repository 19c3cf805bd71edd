import { SyncError } from '../../src/domain/index.js';

// Google (Calendar v3 + OAuth token endpoint) failures -> SyncError. Codes and messages are built
// here from statuses and Google's reason enums only, never from response text (it can echo
// request data). The client's error is not kept as `cause` either: it carries the request, i.e.
// refresh tokens in form bodies and event text. https://developers.google.com/workspace/calendar/api/guides/errors

/** What we read from a gaxios error, structurally (gaxios is not our direct dependency). */
interface HttpFailure {
  status: number;
  headers: { get(name: string): string | null } | null;
  data: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The HTTP response carried by a gaxios error, or null for network-level failures. */
export function httpFailureOf(error: unknown): HttpFailure | null {
  if (!isRecord(error) || !isRecord(error.response)) return null;
  const { status, headers, data } = error.response;
  if (typeof status !== 'number') return null;
  const hasGet = isRecord(headers) && typeof headers.get === 'function';
  return { status, headers: hasGet ? (headers as unknown as HttpFailure['headers']) : null, data };
}

export function httpStatusOf(error: unknown): number | null {
  return httpFailureOf(error)?.status ?? null;
}

/** Calendar API reasons: `{ error: { errors: [{ reason }] } }`. */
function apiReasons(data: unknown): string[] {
  if (!isRecord(data) || !isRecord(data.error) || !Array.isArray(data.error.errors)) return [];
  return data.error.errors.flatMap((e: unknown) => (isRecord(e) && typeof e.reason === 'string' ? [e.reason] : []));
}

/** OAuth token endpoint errors: `{ error: "invalid_grant", error_description }` (RFC 6749 5.2). */
export function oauthError(data: unknown): string | null {
  return isRecord(data) && typeof data.error === 'string' ? data.error : null;
}

/** Retry-After as delta-seconds or HTTP-date (RFC 9110 10.2.3), in ms; null when absent or bad. */
export function retryAfterMs(header: string | null | undefined, now: number = Date.now()): number | null {
  if (!header) return null;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** Per-minute limits: retry after a backoff (Google's documented action). */
const RATE_LIMIT_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded']);
/**
 * "Calendar usage limits exceeded" (quotaExceeded) and the project's daily limit lift on their
 * own after minutes to hours; Google's advice is to wait. Retryable rather than permanent so the
 * work is not dead-lettered for something no admin can fix; the engine's backoff caps the rate.
 */
const QUOTA_REASONS = new Set(['quotaExceeded', 'dailyLimitExceeded']);

/** Network failures (no HTTP response): reset, refused, timed out, DNS, undici socket errors. */
function networkCode(error: unknown): string | null {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && isRecord(current); depth += 1) {
    const code = current.code;
    if (typeof code === 'string') {
      if (code === 'TimeoutError' || code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') return 'NETWORK_TIMEOUT';
      if (/^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code)) return 'NETWORK_ERROR';
    }
    current = current.cause;
  }
  return null;
}

function isGaxiosLike(error: unknown): boolean {
  return isRecord(error) && isRecord(error.config) && 'response' in error;
}

/**
 * Classifies anything thrown by the Google client into a SyncError.
 * - 429, 403 rate-limit reasons -> retryable RATE_LIMITED (Retry-After honoured);
 *   403 quotaExceeded / dailyLimitExceeded -> retryable QUOTA_EXCEEDED;
 * - 5xx (and 408) -> retryable HTTP_<status>; no response at all -> retryable NETWORK_*;
 * - token endpoint `invalid_grant` -> auth INVALID_GRANT (revoked, expired or reused grant);
 * - 401 -> auth UNAUTHORIZED (callers only get here after one refresh-and-retry);
 * - anything else 4xx -> permanent HTTP_<status>.
 */
export function classifyGoogleError(error: unknown, operation: string): SyncError {
  if (error instanceof SyncError) return error;
  const failure = httpFailureOf(error);
  if (failure === null) {
    const network = networkCode(error) ?? (isGaxiosLike(error) ? 'NETWORK_ERROR' : null);
    if (network !== null) {
      return new SyncError({ kind: 'retryable', code: network, message: `Google ${operation}: no response (${network})` });
    }
    if (error instanceof Error && /no refresh token/i.test(error.message)) {
      return new SyncError({ kind: 'auth', code: 'NO_REFRESH_TOKEN', message: `Google ${operation}: access token expired and no refresh token is held` });
    }
    return new SyncError({ kind: 'permanent', code: 'GOOGLE_CLIENT_ERROR', message: `Google ${operation}: unexpected client failure` });
  }

  const { status } = failure;
  const wait = retryAfterMs(failure.headers?.get('retry-after'));
  const oauth = oauthError(failure.data);
  if (oauth !== null) {
    // Token endpoint (refresh or code exchange).
    if (oauth === 'invalid_grant') {
      return new SyncError({ kind: 'auth', code: 'INVALID_GRANT', message: `Google ${operation}: the grant is invalid, expired or revoked` });
    }
    if (status >= 500 || status === 429) {
      return new SyncError({ kind: 'retryable', code: status === 429 ? 'RATE_LIMITED' : `HTTP_${status}`, message: `Google ${operation}: token endpoint answered ${status}`, retryAfterMs: wait });
    }
    const code = /^[a-z_]+$/.test(oauth) ? `OAUTH_${oauth.toUpperCase()}` : `HTTP_${status}`;
    return new SyncError({ kind: 'permanent', code, message: `Google ${operation}: token endpoint refused (${code})` });
  }

  const reasons = apiReasons(failure.data);
  const reasonText = reasons.length > 0 ? ` (${reasons.filter((r) => /^\w+$/.test(r)).join(', ')})` : '';
  const message = `Google ${operation}: HTTP ${status}${reasonText}`;
  if (status === 429 || (status === 403 && reasons.some((r) => RATE_LIMIT_REASONS.has(r)))) {
    return new SyncError({ kind: 'retryable', code: 'RATE_LIMITED', message, retryAfterMs: wait });
  }
  if (status === 403 && reasons.some((r) => QUOTA_REASONS.has(r))) {
    return new SyncError({ kind: 'retryable', code: 'QUOTA_EXCEEDED', message, retryAfterMs: wait });
  }
  if (status >= 500 || status === 408) {
    return new SyncError({ kind: 'retryable', code: `HTTP_${status}`, message, retryAfterMs: wait });
  }
  if (status === 401) {
    return new SyncError({ kind: 'auth', code: 'UNAUTHORIZED', message });
  }
  return new SyncError({ kind: 'permanent', code: `HTTP_${status}`, message });
}
