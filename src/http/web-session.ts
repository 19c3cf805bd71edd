import express from 'express';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { SecretBox } from '../crypto/secret-box.js';
import { AppError, ErrorCode } from '../domain/index.js';
import type { WebSession } from '../domain/index.js';
import type { Logger } from '../logger.js';
import { SESSION_HOURS, type WebSessionService } from '../services/web-session-service.js';
import { tokensEqual } from './auth.js';
import { loggableError } from '../logger.js';
import { routePattern, toAppError } from './error-middleware.js';
import { html, page } from './web-html.js';
import { webAssets } from './web-assets.js';

// What the portal and the admin console share: the session cookie, CSRF tokens, the same-origin
// check of state-changing requests, the security headers of every answer and HTML error pages.

export const SESSION_COOKIE = 'ss_session';

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export interface WebDeps {
  sessions: WebSessionService;
  secrets: SecretBox;
  publicBaseUrl: string;
  logger: Logger;
}

/** The value of one cookie of the request, or null. */
export function readCookie(req: Request, name: string): string | null {
  const header = req.get('cookie');
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

export function isSecure(publicBaseUrl: string): boolean {
  return publicBaseUrl.startsWith('https:');
}

export function setSessionCookie(res: Response, token: string, publicBaseUrl: string): void {
  res.cookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', path: '/', secure: isSecure(publicBaseUrl), maxAge: SESSION_HOURS * 3_600_000 });
}

export function clearSessionCookie(res: Response, publicBaseUrl: string): void {
  res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'lax', path: '/', secure: isSecure(publicBaseUrl) });
}

/**
 * The CSRF token bound to `binding` (a session's id hash, or a sign-in form's nonce): the HMAC
 * the SecretBox signs with, over a payload that nothing else signs. Deterministic, so nothing
 * is stored; it opens nothing by itself (the cookie is needed too).
 */
export function csrfToken(secrets: SecretBox, binding: string): string {
  const signed = secrets.sign({ purpose: 'csrf', binding });
  return signed.slice(signed.indexOf('.') + 1);
}

export function csrfMatches(secrets: SecretBox, binding: string, given: unknown): boolean {
  return typeof given === 'string' && given.length > 0 && tokensEqual(given, csrfToken(secrets, binding));
}

/** What a session's forms are bound to: the CSRF token is an HMAC of it. */
function sessionBinding(session: WebSession): string {
  return `session:${session.idHash}`;
}

export function sessionCsrf(secrets: SecretBox, session: WebSession): string {
  return csrfToken(secrets, sessionBinding(session));
}

/**
 * CSP, no caching and no Referer to other sites (a portal page may hold a feed URL) on every
 * answer. Not "no-referrer": with it, browsers send "Origin: null" on the page's own form posts,
 * which sameOriginOnly must refuse.
 */
export const webHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'same-origin',
    'X-Frame-Options': 'DENY',
    'Cross-Origin-Opener-Policy': 'same-origin',
  });
  next();
};

export function forbidden(message: string): AppError {
  return new AppError({ code: ErrorCode.CSRF_REJECTED, status: 403, message });
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses a state-changing request that the browser says came from another site: Sec-Fetch-Site
 * other than same-origin (or none: typed or bookmarked), or an Origin that is neither the public
 * base URL's nor the request's own host (the app may be reached by another name than
 * PUBLIC_BASE_URL in development; a cross-site form still names the attacker's origin).
 */
export function sameOriginOnly(publicBaseUrl: string): RequestHandler {
  const publicOrigin = new URL(publicBaseUrl).origin;
  return (req, _res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const site = req.get('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return next(forbidden('Cross-site requests are refused. Use the form on this site.'));
    const origin = req.get('origin');
    if (origin !== undefined && origin !== publicOrigin) {
      if (!URL.canParse(origin) || new URL(origin).host !== req.get('host')) return next(forbidden('Cross-site requests are refused. Use the form on this site.'));
    }
    next();
  };
}

/** Form bodies (application/x-www-form-urlencoded), small; anything else leaves the body empty. */
export const formBody: RequestHandler = express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 20 });

/** A text field of a form body ('' when absent; a repeated field is refused). */
export function field(req: Request, name: string): string {
  const body = req.body as Record<string, unknown> | undefined;
  const value = body?.[name];
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new AppError({ code: ErrorCode.BAD_REQUEST, status: 400, message: `The form field ${name} was sent more than once.` });
  return value;
}

/** Puts the live session of `kind` behind the cookie, if any, at res.locals.webSession. */
export function loadSession(sessions: WebSessionService, kind: WebSession['kind']): RequestHandler {
  return async (req, res, next) => {
    const token = readCookie(req, SESSION_COOKIE);
    const session = token === null ? null : await sessions.resolve(token);
    if (session !== null && session.kind === kind) res.locals['webSession'] = session;
    next();
  };
}

export function sessionOf(res: Response): WebSession | null {
  const value: unknown = res.locals['webSession'];
  return value === undefined ? null : (value as WebSession);
}

/** The session of a route that requires one (after a guard that answered without it). */
export function requiredSession(res: Response): WebSession {
  const session = sessionOf(res);
  if (session === null) throw new AppError({ code: ErrorCode.UNAUTHENTICATED, status: 401, message: 'Sign in first.' });
  return session;
}

/** Checks the `_csrf` field of every state-changing request against the session's token. */
export function requireCsrf(secrets: SecretBox): RequestHandler {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const session = sessionOf(res);
    const body = req.body as Record<string, unknown> | undefined;
    if (session === null || !csrfMatches(secrets, sessionBinding(session), body?.['_csrf'])) {
      return next(forbidden('This form has expired or did not come from this site. Go back, reload the page and try again.'));
    }
    next();
  };
}

/** Errors of the portal and console as HTML pages; unknown errors logged as the JSON middleware does, by shape only. */
export function htmlErrors(logger: Logger, secrets: SecretBox, area: 'portal' | 'admin'): ErrorRequestHandler {
  const log = logger.child({ module: 'web' });
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const { error, known } = toAppError(err);
    if (!known) log.error({ err: loggableError(err), method: req.method, route: routePattern(req) }, 'unhandled error');
    const heading = error.status === 404 ? 'Page not found' : error.status >= 500 ? 'Something went wrong' : error.status === 401 ? 'Sign-in needed' : 'Request refused';
    const session = sessionOf(res);
    res
      .status(error.status)
      .type('html')
      .send(
        page({
          title: `${heading} – sessionsync`,
          heading,
          area,
          assets: webAssets,
          ...(session !== null && error.status !== 401 ? { csrf: sessionCsrf(secrets, session) } : {}),
          body: html`<p class="error" role="alert">${error.message}</p>`,
        }),
      );
  };
}
