import { AppError, ErrorCode, hashSecretToken, isWellFormedSecretToken, newSecretToken, writableProvider } from '../domain/index.js';
import type { Clock, Store, WebSession } from '../domain/index.js';

// Portal links and browser sessions. Their tokens are our secrets (src/domain/secret-token.ts):
// only their SHA-256 is stored, so a copy of the database opens no session and redeems no link.

export const PORTAL_LINK_MINUTES = 15;
export const SESSION_HOURS = 8;

export interface WebSessionServiceDeps {
  store: Store;
  clock: Clock;
  publicBaseUrl: string;
}

export interface IssuedPortalLink {
  url: string;
  expiresAt: string;
}

export interface OpenedSession {
  /** The cookie value; never stored. */
  token: string;
  session: WebSession;
}

export class WebSessionService {
  constructor(private readonly deps: WebSessionServiceDeps) {}

  /** A single-use link to the provider's portal, valid PORTAL_LINK_MINUTES; audited as `actor`. */
  async issuePortalLink(providerId: string, actor: string): Promise<IssuedPortalLink> {
    const now = this.deps.clock.now();
    const token = newSecretToken();
    const expiresAt = new Date(now.getTime() + PORTAL_LINK_MINUTES * 60_000).toISOString();
    await this.deps.store.transaction(async (tx) => {
      writableProvider(await tx.getProvider(providerId), providerId);
      await tx.putPortalLink({ tokenHash: hashSecretToken(token), providerId, createdAt: now.toISOString(), expiresAt, usedAt: null });
      await tx.appendAudit({ at: now.toISOString(), actor, action: 'portal-link.issue', target: `provider:${providerId}`, details: {} });
    });
    return { url: `${this.deps.publicBaseUrl}/portal/enter?t=${token}`, expiresAt };
  }

  /** Spends the link and opens a provider session; a malformed, unknown, used or expired link is PORTAL_LINK_INVALID. */
  async redeemPortalLink(token: string): Promise<OpenedSession> {
    const refused = new AppError({
      code: ErrorCode.PORTAL_LINK_INVALID,
      status: 410,
      message: 'This sign-in link has expired or has already been used. Ask for a new link.',
    });
    if (!isWellFormedSecretToken(token)) throw refused;
    const now = this.deps.clock.now().toISOString();
    return this.deps.store.transaction(async (tx) => {
      const link = await tx.usePortalLink(hashSecretToken(token), now);
      if (link === null) throw refused;
      const opened = this.#newSession('provider', link.providerId);
      await tx.putWebSession(opened.session);
      return opened;
    });
  }

  /** An admin session; the caller has checked the admin token. */
  async openAdminSession(): Promise<OpenedSession> {
    const opened = this.#newSession('admin', null);
    await this.deps.store.transaction((tx) => tx.putWebSession(opened.session));
    return opened;
  }

  /** The live session behind a cookie value, or null (malformed, unknown, revoked or expired). */
  async resolve(token: string): Promise<WebSession | null> {
    if (!isWellFormedSecretToken(token)) return null;
    const session = await this.deps.store.getWebSession(hashSecretToken(token));
    if (session === null || session.revokedAt !== null) return null;
    if (session.expiresAt <= this.deps.clock.now().toISOString()) return null;
    // A provider who left signs in to nothing (their record may stay for the audit).
    if (session.providerId !== null && (await this.deps.store.getProvider(session.providerId))?.offboardedAt !== null) return null;
    return session;
  }

  async revoke(session: WebSession): Promise<void> {
    const at = this.deps.clock.now().toISOString();
    await this.deps.store.transaction((tx) => tx.revokeWebSession(session.idHash, at));
  }

  #newSession(kind: WebSession['kind'], providerId: string | null): OpenedSession {
    const now = this.deps.clock.now();
    const token = newSecretToken();
    const session: WebSession = {
      idHash: hashSecretToken(token),
      kind,
      providerId,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + SESSION_HOURS * 3_600_000).toISOString(),
      revokedAt: null,
    };
    return { token, session };
  }
}
