// Feed URL secrets: /feeds/<token>.ics. Only hashFeedToken(token) is ever stored.
import { createHash, randomBytes } from 'node:crypto';

const TOKEN_BYTES = 32;
/** 32 bytes in unpadded base64url: 43 characters. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** A new secret: 32 random bytes, base64url without padding (43 characters). */
export function generateFeedToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** SHA-256 of the token as 64 lowercase hex characters: the lookup key stored for a feed. */
export function hashFeedToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Whether s could have come from generateFeedToken(): 43 base64url characters that decode to
 * 32 bytes and re-encode to s (the last character carries 2 unused bits, which must be zero).
 * Lets the feed handler answer 404 without a store lookup for junk.
 */
export function isWellFormedFeedToken(s: string): boolean {
  return TOKEN_SHAPE.test(s) && Buffer.from(s, 'base64url').toString('base64url') === s;
}
