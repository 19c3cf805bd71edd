import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError, ErrorCode } from '../domain/index.js';

export type Actor = 'admin' | 'platform';

export interface AuthTokens {
  admin: string;
  platform: string | undefined;
}

// Both sides are hashed first so that the comparison takes the same time whatever the lengths.
function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function tokensEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

function unauthenticated(message: string): AppError {
  return new AppError({ code: ErrorCode.UNAUTHENTICATED, status: 401, message });
}

/** Resolves the bearer token to an actor; every token is compared, so timing says nothing. */
export function authenticate(tokens: AuthTokens): RequestHandler {
  const admin = digest(tokens.admin);
  const platform = tokens.platform === undefined ? null : digest(tokens.platform);
  return (req, res, next) => {
    res.setHeader('WWW-Authenticate', 'Bearer realm="sessionsync"');
    const header = req.get('authorization');
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) return next(unauthenticated('Send Authorization: Bearer <token>.'));
    const given = digest(match[1]);
    const isAdmin = timingSafeEqual(given, admin);
    const isPlatform = platform !== null && timingSafeEqual(given, platform);
    if (!isAdmin && !isPlatform) return next(unauthenticated('The bearer token is not valid.'));
    res.removeHeader('WWW-Authenticate');
    res.locals['actor'] = isAdmin ? 'admin' : 'platform';
    next();
  };
}

export const requireAdmin: RequestHandler = (_req, res, next) => {
  if (res.locals['actor'] === 'admin') return next();
  next(new AppError({ code: ErrorCode.FORBIDDEN, status: 403, message: 'This route needs the admin token.' }));
};
