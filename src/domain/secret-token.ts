import { hash, randomBytes } from 'node:crypto';

// The secrets of URLs and cookies (feed URLs, portal links, browser sessions): 32 random bytes
// (256 bits) in unpadded base64url, 43 characters; only their SHA-256 is ever stored, so a copy of
// the database opens nothing.

const TOKEN_BYTES = 32;
/**
 * 32 bytes in unpadded base64url: 43 characters, the last of which carries 4 bits and 2 zero
 * bits, so it is one of the 16 characters whose index is a multiple of 4.
 */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** A new secret: 32 random bytes, base64url without padding (43 characters). */
export function newSecretToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** SHA-256 of the token as 64 lowercase hex characters: the lookup key that is stored. */
export function hashSecretToken(token: string): string {
  return hash('sha256', token, 'hex');
}

/**
 * Whether s could have come from newSecretToken(): 43 base64url characters that decode to 32
 * bytes and re-encode to s. One regular expression rather than the round trip, since every feed
 * poll asks; lets junk be refused without a store lookup.
 */
export function isWellFormedSecretToken(s: string): boolean {
  return TOKEN_SHAPE.test(s);
}
