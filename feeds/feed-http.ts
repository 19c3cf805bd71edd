import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { clientErrorStatus } from '../src/domain/index.js';
import type { FeedService } from './feed-service.js';

// GET/HEAD /feeds/<token>.ics, polled by calendar apps. Unknown, revoked and malformed tokens get
// the same 404 body, and so does every other path or method under /feeds/ and every request there
// that fails before the handler (a malformed percent-escape). Unknown and revoked take the same
// single indexed lookup of the token's hash; a malformed token is refused before it, which tells
// an attacker only what the URL shape shows.

const NOT_FOUND_BODY = JSON.stringify({ error: { code: 'NOT_FOUND', message: 'No such feed.' } });

function sendNotFound(res: Response): void {
  res.status(404).set({ 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).send(NOT_FOUND_BODY);
}

/** Mounted on /feeds after the feed route: any other path or method there. */
export const feedNotFound: RequestHandler = (_req, res) => sendNotFound(res);

/**
 * Mounted on /feeds: a request that failed with a 4xx before reaching the handler (the router's
 * URIError for "%ZZ" or a stray "%" after a live token) gets the same 404 as an unknown token;
 * server faults go on to the error middleware.
 */
export const feedClientErrors: ErrorRequestHandler = (err: unknown, _req: Request, res: Response, next: NextFunction) => {
  if (clientErrorStatus(err) !== null && !res.headersSent) return sendNotFound(res);
  next(err);
};

/** RFC 9110 13.1.2: If-None-Match uses weak comparison, so W/"x" matches "x". */
function matchesIfNoneMatch(header: string | undefined, etags: readonly string[]): boolean {
  if (header === undefined) return false;
  // The common case, a calendar app echoing the one ETag it got, needs no parsing.
  if (etags.includes(header)) return true;
  if (header.trim() === '*') return true;
  return header.split(',').some((raw) => {
    const tag = raw.trim().replace(/^W\//, '');
    return etags.includes(tag);
  });
}

const FEED_HEADERS: readonly (readonly [string, string])[] = [
  ['Content-Type', 'text/calendar; charset=utf-8'],
  ['Content-Disposition', 'inline; filename="sessions.ics"'],
  ['Cache-Control', 'private, no-cache'],
  ['X-Robots-Tag', 'noindex, nofollow'],
  ['Referrer-Policy', 'no-referrer'],
  ['Vary', 'Accept-Encoding'],
];

function gzipEtag(etag: string): string {
  return `${etag.slice(0, -1)}-gzip"`;
}

export function feedHandler(feeds: FeedService): RequestHandler {
  return async (req: Request, res: Response) => {
    const file = String(req.params['file'] ?? '');
    const token = file.endsWith('.ics') ? file.slice(0, -'.ics'.length) : '';
    const feed = await feeds.render(token);
    if (feed === null) return sendNotFound(res);

    const gzip = req.acceptsEncodings('gzip', 'identity') === 'gzip';
    const etag = gzip ? gzipEtag(feed.etag) : feed.etag;
    // setHeader directly: res.set() re-parses the Content-Type of every answer, 304s included.
    for (const [name, value] of FEED_HEADERS) res.setHeader(name, value);
    res.setHeader('ETag', etag);
    // Bookkeeping after the answer; FetchLog reports its own failures, so this never rejects.
    res.on('finish', () => void feeds.recordFetch(feed.feedId, req.get('user-agent') ?? null));
    if (matchesIfNoneMatch(req.get('if-none-match'), [feed.etag, gzipEtag(feed.etag)])) {
      res.status(304).end();
      return;
    }
    if (gzip) {
      res.setHeader('Content-Encoding', 'gzip');
      res.status(200).send(feed.gzipped());
    } else {
      res.status(200).send(feed.body);
    }
  };
}
