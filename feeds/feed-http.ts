import type { IncomingMessage, ServerResponse } from 'node:http';
import accepts from 'accepts';
import type { FeedService, RenderedFeed } from './feed-service.js';

// Everything under /feeds/, polled by calendar apps far more often than anything else is asked.
// Answered ahead of Express (src/http/app-listener.ts), on Node's own request and response, so
// that a poll costs what sending its answer costs: Express's entry alone (its prototypes swapped
// onto both objects, its router's walk) cost more than a 304's own work. GET/HEAD
// /feeds/<token>.ics answers the feed; every other path or method there, and unknown, revoked
// and malformed tokens alike, get the same 404 body. Unknown and revoked take the same lookup; a
// malformed token (any character outside base64url, "%" included) is refused before it, which
// tells an attacker only what the URL shape shows.

/** What a poll reports once answered (counted in /metrics, logged at debug; never the URL). */
export type FeedPollObserver = (method: string, status: number, seconds: number) => void;

/** Answers a poll that failed (a store fault: 503 while the database is away) as every route's error. */
export type FeedPollFailure = (err: unknown, req: IncomingMessage, res: ServerResponse) => void;

const NOT_FOUND_BODY = Buffer.from(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'No such feed.' } }));
const GONE_BODY = Buffer.from(JSON.stringify({ error: { code: 'GONE', message: 'This feed has ended: its provider left the practice.' } }));

// Flat [name, value, ...] arrays for writeHead: no per-header validation or lower-casing.
const NOT_FOUND_HEADERS = [
  'Content-Type', 'application/json; charset=utf-8',
  'Cache-Control', 'no-store',
  'X-Content-Type-Options', 'nosniff',
  'Content-Length', String(NOT_FOUND_BODY.length),
];

const GONE_HEADERS = [
  'Content-Type', 'application/json; charset=utf-8',
  'Cache-Control', 'no-store',
  'X-Content-Type-Options', 'nosniff',
  'Content-Length', String(GONE_BODY.length),
];

const FEED_HEADERS = [
  'Content-Type', 'text/calendar; charset=utf-8',
  'Content-Disposition', 'inline; filename="sessions.ics"',
  'Cache-Control', 'private, no-cache',
  'X-Robots-Tag', 'noindex, nofollow',
  'Referrer-Policy', 'no-referrer',
  'X-Content-Type-Options', 'nosniff',
  'Vary', 'Accept-Encoding',
];

// Express matches routes case-insensitively, and so did the feed route before this handler.
const UNDER_FEEDS = /^\/feeds(?:[/?]|$)/i;
const FEED_FILE = /^\/feeds\/([^/?]*)\.ics(?:\?|$)/i;

/** RFC 9110 13.1.2: If-None-Match uses weak comparison, so W/"x" matches "x". */
function matchesIfNoneMatch(header: string | undefined, etag: string, otherEtag: string): boolean {
  if (header === undefined) return false;
  // The common case, a calendar app echoing the one ETag it got, needs no parsing.
  if (header === etag || header === otherEtag) return true;
  if (header.trim() === '*') return true;
  return header.split(',').some((raw) => {
    const tag = raw.trim().replace(/^W\//, '');
    return tag === etag || tag === otherEtag;
  });
}

/**
 * Whether the answer may be gzip (RFC 9110 12.5.3). Lists without weights ("gzip, deflate, br",
 * what calendar apps send) are read here; weighted ones go to the negotiator Express uses.
 */
function acceptsGzip(req: IncomingMessage): boolean {
  const header = req.headers['accept-encoding'];
  if (header === undefined || header === '') return false;
  if (header.includes(';')) return accepts(req).encodings(['gzip', 'identity']) === 'gzip';
  for (const raw of header.split(',')) {
    const coding = raw.trim().toLowerCase();
    if (coding === 'gzip' || coding === 'x-gzip' || coding === '*') return true;
  }
  return false;
}

/** The header lists of one body's answers, made once per body rather than once per poll. */
interface Answers {
  identity304: string[];
  gzip304: string[];
  identity200: string[];
  gzip200: string[] | null;
}

const answersByEtag = new Map<string, Answers>();
const MAX_ANSWERS = 10_000;

function answersFor(feed: RenderedFeed): Answers {
  let answers = answersByEtag.get(feed.etag);
  if (answers === undefined) {
    answers = {
      identity304: [...FEED_HEADERS, 'ETag', feed.etag],
      gzip304: [...FEED_HEADERS, 'ETag', feed.gzipEtag],
      identity200: [...FEED_HEADERS, 'ETag', feed.etag, 'Content-Length', String(feed.length)],
      gzip200: null,
    };
    if (answersByEtag.size >= MAX_ANSWERS) answersByEtag.clear();
    answersByEtag.set(feed.etag, answers);
  }
  return answers;
}

function answer(res: ServerResponse, status: number, headers: string[], body: Buffer | readonly Buffer[] | null): void {
  res.writeHead(status, headers);
  // Node's response writes no body for HEAD (nor for 304) whatever it is given.
  if (body === null || Buffer.isBuffer(body)) {
    res.end(body ?? undefined);
    return;
  }
  // Corked, the parts leave in one writev.
  res.cork();
  for (const part of body) res.write(part);
  res.end();
  res.uncork();
}

/**
 * Answers a request under /feeds/ and returns true, or returns false for any other (untouched).
 * `routes` lists what it serves ("GET /feeds/:file") for the API document's test.
 */
export type FeedRoutes = ((req: IncomingMessage, res: ServerResponse) => boolean) & { readonly routes: readonly string[] };

export function feedRoutes(feeds: FeedService, observe: FeedPollObserver, fail: FeedPollFailure): FeedRoutes {
  const answerFeed = (req: IncomingMessage, res: ServerResponse, feed: RenderedFeed | null): number => {
    if (feed === null) {
      answer(res, 404, NOT_FOUND_HEADERS, NOT_FOUND_BODY);
      return 404;
    }
    // Noted in memory at once; FetchLog writes it later and reports its own failures.
    void feeds.recordFetch(feed, req.headers['user-agent'] ?? null);
    const gzip = acceptsGzip(req);
    const answers = answersFor(feed);
    if (matchesIfNoneMatch(req.headers['if-none-match'], feed.etag, feed.gzipEtag)) {
      answer(res, 304, gzip ? answers.gzip304 : answers.identity304, null);
      return 304;
    }
    if (!gzip) {
      answer(res, 200, answers.identity200, feed.parts);
      return 200;
    }
    // One buffer, or right after a change the same bytes in parts: the same length either way.
    const body = feed.gzipAnswer();
    answers.gzip200 ??= [...FEED_HEADERS, 'ETag', feed.gzipEtag, 'Content-Length', String(body.length), 'Content-Encoding', 'gzip'];
    answer(res, 200, answers.gzip200, Buffer.isBuffer(body) ? body : body.parts);
    return 200;
  };

  const token = (url: string, method: string): string | null => {
    const match = method === 'GET' || method === 'HEAD' ? FEED_FILE.exec(url) : null;
    return match === null ? null : (match[1] ?? '');
  };

  // A store fault (503 while the database is away), answered as every route answers it. Nothing
  // above this handler would catch a throw: Node's server would take it as uncaught.
  const failed = (req: IncomingMessage, res: ServerResponse, method: string, started: bigint, err: unknown): void => {
    if (!res.headersSent) fail(err, req, res);
    else res.destroy();
    observe(method, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
  };

  const answerLater = async (req: IncomingMessage, res: ServerResponse, method: string, started: bigint, asked: string | null): Promise<void> => {
    try {
      // A token that is no live feed may be a tombstone: the URL of a provider who left.
      const feed = (await feeds.render(asked as string)) ?? (asked === null ? null : await feeds.tombstone(asked));
      if (feed === 'gone') {
        answer(res, 410, GONE_HEADERS, GONE_BODY);
        observe(method, 410, Number(process.hrtime.bigint() - started) / 1e9);
        return;
      }
      observe(method, answerFeed(req, res, feed), Number(process.hrtime.bigint() - started) / 1e9);
    } catch (err) {
      failed(req, res, method, started, err);
    }
  };

  // A poll whose answer is in memory is answered synchronously: no promise, no closure.
  const handler = (req: IncomingMessage, res: ServerResponse): boolean => {
    // Node sets both on every request a server parses.
    const url = req.url as string;
    const method = req.method as string;
    if (!UNDER_FEEDS.test(url)) return false;
    const started = process.hrtime.bigint();
    try {
      const asked = token(url, method);
      const known = asked === null ? null : feeds.peek(asked);
      if (known === undefined) void answerLater(req, res, method, started, asked);
      else observe(method, answerFeed(req, res, known), Number(process.hrtime.bigint() - started) / 1e9);
    } catch (err) {
      failed(req, res, method, started, err);
    }
    return true;
  };
  return Object.assign(handler, { routes: ['GET /feeds/:file'] });
}
