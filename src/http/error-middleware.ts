import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { AppError, clientErrorStatus, ErrorCode } from '../domain/index.js';
import { loggableError, type Logger } from '../logger.js';

// The one place where errors become HTTP responses (CONVENTIONS.md rule 4). Errors that are not
// ours (the router's, body-parser's, zlib's) often carry request text in their message (the raw
// path parameter, a feed token, a slice of the body), so no foreign message is ever sent or
// logged: a foreign error with a 4xx status gets a fixed message for that status, and anything
// else is a 500 logged by its name, code and stack frames only.

/** A foreign error with a 4xx status, answered with a fixed message. */
function fromClientError(err: unknown, status: number): AppError {
  // Express 5's router throws a URIError (status 400) for a malformed percent-escape in a path
  // parameter before any handler runs; its message holds the raw parameter.
  if (err instanceof URIError) {
    return new AppError({ code: ErrorCode.MALFORMED_URL, status: 400, message: 'The request path holds a malformed percent-escape.' });
  }
  switch (status) {
    case 413:
      return new AppError({ code: ErrorCode.PAYLOAD_TOO_LARGE, status, message: 'The request body is larger than 100 kB.' });
    case 415:
      return new AppError({ code: ErrorCode.UNSUPPORTED_MEDIA_TYPE, status, message: 'Send the body as UTF-8 JSON.' });
    case 404:
      return new AppError({ code: ErrorCode.NOT_FOUND, status, message: 'Not found.' });
    default:
      return new AppError({ code: ErrorCode.BAD_REQUEST, status, message: 'The request could not be understood.' });
  }
}

export function toAppError(err: unknown): { error: AppError; known: boolean } {
  if (err instanceof AppError) return { error: err, known: true };
  const status = clientErrorStatus(err);
  if (status !== null) return { error: fromClientError(err, status), known: true };
  return { error: new AppError({ code: ErrorCode.INTERNAL, status: 500, message: 'Something went wrong on our side.', cause: err }), known: false };
}


/** The route pattern a request matched, for logs and metrics; never its URL (a feed URL is a secret). */
export function routePattern(req: Request): string {
  if (req.route?.path) return `${req.baseUrl}${String(req.route.path)}`;
  return req.path.startsWith('/feeds/') ? '/feeds/:file' : '(unmatched)';
}

export const notFoundHandler: RequestHandler = (_req, _res, next) => {
  next(new AppError({ code: ErrorCode.NOT_FOUND, status: 404, message: 'No such route.' }));
};

export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  const log = logger.child({ module: 'http' });
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    sendError(err, res, log, { method: req.method, route: routePattern(req) });
  };
}

/**
 * Answers err as JSON on any Node response, Express's or not (the feed routes answer ahead of
 * Express); logs it, by the route's pattern, when it is not ours.
 */
export function sendError(err: unknown, res: ServerResponse, log: Logger, at: { method: string; route: string }): void {
  const { error, known } = toAppError(err);
  if (!known) {
    log.error({ err: loggableError(err), method: at.method, route: at.route }, 'unhandled error');
  }
  const body = JSON.stringify({
    error: {
      code: error.code,
      message: error.message,
      ...(error.details !== undefined ? { details: error.details } : {}),
    },
  });
  res.statusCode = error.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  // The database is back within seconds after a restart or failover, and the store reconnects.
  if (error.status === 503) res.setHeader('Retry-After', '2');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  // Node writes no body for HEAD, as Express's res.json would not.
  res.end(body);
}
