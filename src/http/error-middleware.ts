import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, ErrorCode } from '../domain/index.js';
import type { Logger } from '../logger.js';

// The one place where errors become HTTP responses (CONVENTIONS.md rule 4).

interface BodyParserError {
  type: string;
  status?: number;
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return typeof err === 'object' && err !== null && typeof (err as { type?: unknown }).type === 'string' && 'status' in err;
}

function fromBodyParser(err: BodyParserError): AppError | null {
  switch (err.type) {
    case 'entity.too.large':
      return new AppError({ code: ErrorCode.PAYLOAD_TOO_LARGE, status: 413, message: 'The request body is larger than 100 kB.' });
    case 'entity.parse.failed':
      return new AppError({ code: ErrorCode.MALFORMED_JSON, status: 400, message: 'The request body is not valid JSON.' });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError({ code: ErrorCode.UNSUPPORTED_MEDIA_TYPE, status: 415, message: 'Send the body as UTF-8 JSON.' });
    default:
      return null;
  }
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError({ code: ErrorCode.NOT_FOUND, status: 404, message: `No route for ${req.method} ${req.path.startsWith('/feeds/') ? '/feeds/…' : req.path}.` }));
};

export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const known = err instanceof AppError ? err : isBodyParserError(err) ? fromBodyParser(err) : null;
    const appError =
      known ?? new AppError({ code: ErrorCode.INTERNAL, status: 500, message: 'Something went wrong on our side.', cause: err });
    if (known === null) {
      logger.error({ err, method: req.method, route: req.route?.path }, 'unhandled error');
    }
    res.setHeader('Cache-Control', 'no-store');
    res.status(appError.status).json({
      error: {
        code: appError.code,
        message: appError.message,
        ...(appError.details !== undefined ? { details: appError.details } : {}),
      },
    });
  };
}
