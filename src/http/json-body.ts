import express from 'express';
import type { RequestHandler } from 'express';
import { AppError, clientErrorStatus, ErrorCode, validationError } from '../domain/index.js';
import type { ErrorDetail } from '../domain/index.js';

// Request bodies: JSON only, UTF-8 only (RFC 8259 8.1), decoded strictly, and every string in them
// well-formed Unicode, so that what a write answers is exactly what the database stored: SQLite
// and PostgreSQL would otherwise replace a lone surrogate or an invalid byte with U+FFFD.

const BODY_LIMIT = 100 * 1024;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

const malformedJson = () => new AppError({ code: ErrorCode.MALFORMED_JSON, status: 400, message: 'The request body is not valid UTF-8 JSON.' });

/** Bodies must be JSON; anything else is refused before it is read. */
const requireJsonContentType: RequestHandler = (req, _res, next) => {
  const hasBody = req.get('content-length') !== undefined ? req.get('content-length') !== '0' : req.get('transfer-encoding') !== undefined;
  if (['POST', 'PUT', 'PATCH'].includes(req.method) && hasBody && !req.is('application/json')) {
    return next(new AppError({ code: ErrorCode.UNSUPPORTED_MEDIA_TYPE, status: 415, message: 'Send the body as application/json.' }));
  }
  next();
};

const jsonParser = express.json({
  limit: BODY_LIMIT,
  type: 'application/json',
  // body-parser decodes with iconv-lite, which replaces invalid bytes with U+FFFD; this runs on
  // the raw (already inflated) bytes first and refuses them instead.
  verify: (_req, _res, buf, encoding) => {
    if (encoding.toLowerCase() !== 'utf-8') {
      throw new AppError({ code: ErrorCode.UNSUPPORTED_MEDIA_TYPE, status: 415, message: 'Send the body as UTF-8 JSON.' });
    }
    try {
      strictUtf8.decode(buf);
    } catch {
      throw malformedJson();
    }
  },
});

/**
 * body-parser's 400s in our terms (their messages may quote the body, so none is kept). Its 413
 * (too large) and 415 (charset) carry their status and get the error middleware's fixed answers.
 */
function fromBodyParser(err: unknown): unknown {
  if (err instanceof AppError) return err;
  switch ((err as { type?: unknown }).type) {
    case 'entity.parse.failed':
      return malformedJson();
    case 'encoding.unsupported':
      return new AppError({ code: ErrorCode.UNSUPPORTED_MEDIA_TYPE, status: 415, message: 'Content-Encoding must be identity, gzip, deflate, br or zstd.' });
    default:
      // A read error without a type: the decompression stream failed (a body that is not what
      // its Content-Encoding says), or the body was shorter or longer than Content-Length.
      return clientErrorStatus(err) === 400
        ? new AppError({ code: ErrorCode.MALFORMED_BODY, status: 400, message: 'The request body could not be read as its Content-Encoding and Content-Length say.' })
        : err;
  }
}

const WELL_FORMED = 'must be well-formed Unicode text (no lone UTF-16 surrogates)';

/** Deeper than any body the API takes (3 levels); a walk or a schema may not recurse further. */
export const MAX_BODY_DEPTH = 32;
/** A body of 50,000 bad strings gets the first few named, not a 3 MB answer. */
const MAX_PROBLEMS = 20;

/**
 * Problems of a parsed body, each with its dotted path as in VALIDATION_FAILED details: every key
 * or string that is not well-formed Unicode, or nesting deeper than MAX_BODY_DEPTH (100 kB of
 * "[" parses fine and would overflow the stack of a recursive walk). Iterative for that reason.
 */
export function bodyProblems(body: unknown): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const pathOf = (path: readonly string[]) => (path.length === 0 ? '(body)' : path.join('.'));
  const stack: { value: unknown; path: string[] }[] = [{ value: body, path: [] }];
  while (stack.length > 0 && problems.length < MAX_PROBLEMS) {
    const { value, path } = stack.pop()!;
    if (typeof value === 'string') {
      if (!value.isWellFormed()) problems.push({ path: pathOf(path), message: WELL_FORMED });
    } else if (typeof value === 'object' && value !== null) {
      if (path.length >= MAX_BODY_DEPTH) {
        problems.push({ path: pathOf(path), message: `must not nest deeper than ${MAX_BODY_DEPTH} levels` });
        continue;
      }
      const entries = Array.isArray(value) ? value.map((item, i) => [String(i), item] as const) : Object.entries(value);
      for (const [key, item] of entries.reverse()) {
        if (!key.isWellFormed()) problems.push({ path: pathOf([...path, key.toWellFormed()]), message: WELL_FORMED });
        stack.push({ value: item, path: [...path, key] });
      }
    }
  }
  return problems;
}

/** JSON escapes can still spell a lone surrogate ("\ud800"), which no database stores as given. */
const checkBodyStrings: RequestHandler = (req, _res, next) => {
  // Query strings need no check: Node's querystring decodes an invalid escape to U+FFFD, never to
  // a lone surrogate, and every query parameter is matched against a pattern or an enum.
  const details = bodyProblems(req.body);
  next(details.length > 0 ? validationError(details) : undefined);
};

/** The body pipeline of /api/v1: content type, strict decoding, then well-formed strings and bounded nesting. */
export const jsonBody: RequestHandler[] = [
  requireJsonContentType,
  (req, res, next) => jsonParser(req, res, (err?: unknown) => next(err === undefined ? undefined : fromBodyParser(err))),
  checkBodyStrings,
];
