// One error type for the whole service; the HTTP layer maps it to a response in one place.

export const ErrorCode = {
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  MALFORMED_JSON: 'MALFORMED_JSON',
  MALFORMED_BODY: 'MALFORMED_BODY',
  MALFORMED_URL: 'MALFORMED_URL',
  BAD_REQUEST: 'BAD_REQUEST',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  PROVIDER_NOT_FOUND: 'PROVIDER_NOT_FOUND',
  LOCATION_NOT_FOUND: 'LOCATION_NOT_FOUND',
  SESSION_NOT_FOUND: 'SESSION_NOT_FOUND',
  FEED_NOT_FOUND: 'FEED_NOT_FOUND',
  BUSY_SOURCE_NOT_FOUND: 'BUSY_SOURCE_NOT_FOUND',
  TELEHEALTH_LINK_REJECTED: 'TELEHEALTH_LINK_REJECTED',
  LOCATION_IN_USE: 'LOCATION_IN_USE',
  SESSION_OVERLAP: 'SESSION_OVERLAP',
  CONNECTION_NOT_FOUND: 'CONNECTION_NOT_FOUND',
  CONNECTION_CLEANUP_UNDER_WAY: 'CONNECTION_CLEANUP_UNDER_WAY',
  PROVIDER_OFFBOARDED: 'PROVIDER_OFFBOARDED',
  OFFBOARDING_NOT_FOUND: 'OFFBOARDING_NOT_FOUND',
  JOB_NOT_FOUND: 'JOB_NOT_FOUND',
  TARGET_NOT_FOUND: 'TARGET_NOT_FOUND',
  CONNECTOR_NOT_CONFIGURED: 'CONNECTOR_NOT_CONFIGURED',
  OAUTH_STATE_INVALID: 'OAUTH_STATE_INVALID',
  OAUTH_CONSENT_DENIED: 'OAUTH_CONSENT_DENIED',
  OAUTH_EXCHANGE_FAILED: 'OAUTH_EXCHANGE_FAILED',
  PORTAL_LINK_INVALID: 'PORTAL_LINK_INVALID',
  CSRF_REJECTED: 'CSRF_REJECTED',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorDetail {
  /** Dotted path of the offending field, e.g. "privacy.mode" or "body.url". */
  path: string;
  message: string;
}

export interface AppErrorOptions {
  code: ErrorCode;
  status: number;
  message: string;
  details?: ErrorDetail[] | Record<string, unknown>;
  cause?: unknown;
  retryable?: boolean;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetail[] | Record<string, unknown> | undefined;
  readonly retryable: boolean;

  constructor(options: AppErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = options.code;
    this.status = options.status;
    this.details = options.details;
    this.retryable = options.retryable ?? false;
  }
}

export function validationError(details: ErrorDetail[], message = 'The request is invalid.'): AppError {
  return new AppError({ code: ErrorCode.VALIDATION_FAILED, status: 400, message, details });
}

export function notFound(code: ErrorCode, message: string): AppError {
  return new AppError({ code, status: 404, message });
}

/** The 4xx status an error object carries (http-errors sets both status and statusCode). */
export function clientErrorStatus(err: unknown): number | null {
  if (typeof err !== 'object' || err === null) return null;
  const { status, statusCode } = err as { status?: unknown; statusCode?: unknown };
  const value = typeof status === 'number' ? status : statusCode;
  return typeof value === 'number' && Number.isInteger(value) && value >= 400 && value <= 499 ? value : null;
}
