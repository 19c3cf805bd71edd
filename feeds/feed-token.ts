// Feed URL secrets: /feeds/<token>.ics. Only hashFeedToken(token) is ever stored.
import { hash, randomBytes } from 'node:crypto';

const TOKEN_BYTES = 32;
/**
 * 32 bytes in unpadded base64url: 43 characters, the last of which carries 4 bits and 2 zero
 * bits, so it is one of the 16 characters whose index is a multiple of 4.
 */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** A new secret: 32 random bytes, base64url without padding (43 characters). */
export function generateFeedToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** SHA-256 of the token as 64 lowercase hex characters: the lookup key stored for a feed. */
export function hashFeedToken(token: string): string {
  return hash('sha256', token, 'hex');
}

/**
 * Whether s could have come from generateFeedToken(): 43 base64url characters that decode to 32
 * bytes and re-encode to s. One regular expression (see TOKEN_SHAPE) rather than the round trip,
 * since every poll asks. Lets the feed handler answer 404 without a store lookup for junk.
 */
export function isWellFormedFeedToken(s: string): boolean {
  return TOKEN_SHAPE.test(s);
}
