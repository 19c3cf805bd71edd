import { createHmac } from 'node:crypto';
import { hashSecretToken } from './secret-token.js';
import type { Session } from './types.js';


// Stable join links: <PUBLIC_BASE_URL>/j/<token>. The token is derived, not drawn: the HMAC of the
// session's identity under the deployment's join-link key (derived once from ENCRYPTION_KEY, then
// stored sealed so that key rotation keeps it: services/join-link-key.ts), so every render (feed, push, invite)
// rebuilds the same URL and the database holds only SHA-256(token), the lookup key of a click.
// The token carries nothing of the session's time or the client: a click decides from current data.

/** 24 bytes of HMAC-SHA256 (192 bits, above the 128 the issue asks), 32 base64url characters. */
const TOKEN_BYTES = 24;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{32}$/;

/** The HKDF info of the join-link key: SecretBox.deriveKey(JOIN_LINK_KEY_INFO). */
export const JOIN_LINK_KEY_INFO = 'sessionsync/join-link/hmac';

export interface JoinLinks {
  /** The session's token: the same for the session's whole life (the join-link key never changes). */
  token(session: Pick<Session, 'providerId' | 'id'>): string;
  /** <PUBLIC_BASE_URL>/j/<token>. */
  url(session: Pick<Session, 'providerId' | 'id'>): string;
  /** SHA-256 (hex) of the token: what the store keeps and a click looks up. */
  tokenHash(session: Pick<Session, 'providerId' | 'id'>): string;
}

/** SHA-256 (hex) of a join token, as of every secret of ours: what the store keeps. */
export const hashJoinToken = hashSecretToken;

/** Whether s could be a join token; lets a click of junk answer 404 without a store lookup. */
export function isWellFormedJoinToken(s: string): boolean {
  return TOKEN_SHAPE.test(s);
}

/**
 * Tokens kept per JoinLinks, by session: a feed renders a session's event again after each change
 * to it, and the HMAC (a new Hmac object each) was ~45 us of the first poll after a change, cold.
 * The tokens are in every rendered feed body the cache keeps anyway; past this many they all go.
 */
const MAX_KEPT_TOKENS = 20_000;

/** `key`: 32 bytes used for nothing else (SecretBox.deriveKey(JOIN_LINK_KEY_INFO)). */
export function createJoinLinks(options: { key: Buffer; publicBaseUrl: string }): JoinLinks {
  const base = options.publicBaseUrl.replace(/\/+$/, '');
  const kept = new Map<string, string>();
  const token = (s: Pick<Session, 'providerId' | 'id'>) => {
    // JSON of the pair: unambiguous whatever characters the ids hold.
    const identity = JSON.stringify([s.providerId, s.id]);
    let made = kept.get(identity);
    if (made === undefined) {
      made = createHmac('sha256', options.key).update(`join:${identity}`).digest().subarray(0, TOKEN_BYTES).toString('base64url');
      if (kept.size >= MAX_KEPT_TOKENS) kept.clear();
      kept.set(identity, made);
    }
    return made;
  };
  return {
    token,
    url: (s) => `${base}/j/${token(s)}`,
    tokenHash: (s) => hashJoinToken(token(s)),
  };
}

/** What a click on a join link finds, decided from the session as it is now. */
export type JoinState =
  | { kind: 'gone' }
  | { kind: 'cancelled' }
  | { kind: 'no-room' }
  | { kind: 'early'; opensAt: string }
  | { kind: 'open'; url: string }
  | { kind: 'ended' };

/**
 * The join window is [start - opensMinutes, end): a click at the start minus opensMinutes exactly
 * gets the room, one millisecond before does not, and from the end on the room is closed.
 */
export function joinState(
  session: Pick<Session, 'start' | 'end' | 'status'> | null,
  roomUrl: string | null,
  nowMs: number,
  opensMinutes: number,
): JoinState {
  if (session === null) return { kind: 'gone' };
  if (session.status === 'cancelled') return { kind: 'cancelled' };
  const opens = Date.parse(session.start) - opensMinutes * 60_000;
  if (nowMs >= Date.parse(session.end)) return { kind: 'ended' };
  if (roomUrl === null) return { kind: 'no-room' };
  if (nowMs < opens) return { kind: 'early', opensAt: new Date(opens).toISOString() };
  return { kind: 'open', url: roomUrl };
}
