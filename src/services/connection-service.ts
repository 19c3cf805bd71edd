import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { SecretBox } from '../crypto/secret-box.js';
import { AppError, ErrorCode, notFound, providerNotFound, SyncError, writableProvider } from '../domain/index.js';
import type { CalendarConnector, CleanupOutcome, Clock, Connection, ConnectionKind, OAuthProvider, Store } from '../domain/index.js';
import type { Logger } from '../logger.js';
import { beginCleanup, outcome } from '../sync/calendar-cleanup.js';
import { sealTokens } from '../sync/index.js';

// Connecting a provider's Google / Outlook calendar: OAuth 2.0 authorization code flow with PKCE
// (RFC 7636) and a signed, single-use, expiring `state`. Tokens are stored only sealed.

const AUTH_TTL_MS = 15 * 60_000;
const DAY_MS = 86_400_000;

/** The additional data a pending authorization's PKCE verifier is sealed under. */
export function pkceVerifierContext(connectionId: string): string {
  return `pkce:${connectionId}`;
}

export interface ConnectionServiceDeps {
  store: Store;
  clock: Clock;
  secrets: SecretBox;
  logger: Logger;
  oauth: ReadonlyMap<ConnectionKind, OAuthProvider>;
  connectors: ReadonlyMap<ConnectionKind, CalendarConnector>;
  pastDays: number;
}

export interface ConnectionView {
  connection: Connection;
  pending: number;
  failed: number;
}

interface SignedState {
  c: string;
  n: string;
  k: ConnectionKind;
}

function isSignedState(value: unknown): value is SignedState {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['c'] === 'string' && typeof v['n'] === 'string' && (v['k'] === 'google' || v['k'] === 'outlook');
}

function badState(message: string): AppError {
  return new AppError({ code: ErrorCode.OAUTH_STATE_INVALID, status: 400, message });
}

function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

export class ConnectionService {
  private readonly log: Logger;

  constructor(private readonly deps: ConnectionServiceDeps) {
    this.log = deps.logger.child({ module: 'connections' });
  }

  private oauthFor(kind: ConnectionKind): OAuthProvider {
    const provider = this.deps.oauth.get(kind);
    if (provider === undefined) {
      throw new AppError({
        code: ErrorCode.CONNECTOR_NOT_CONFIGURED,
        status: 409,
        message: `${kind === 'google' ? 'Google' : 'Microsoft'} is not configured on this server (see README: registering the apps).`,
      });
    }
    return provider;
  }

  /** A fresh authorization for a connection: new nonce and PKCE verifier, returns the consent URL. */
  private beginAuthorization(connection: Connection, now: Date): { connection: Connection; authorizeUrl: string } {
    const oauth = this.oauthFor(connection.kind);
    const nonce = randomBytes(16).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    const state = this.deps.secrets.sign({ c: connection.id, n: nonce, k: connection.kind } satisfies SignedState);
    const next: Connection = {
      ...connection,
      pendingAuth: {
        nonce,
        sealedVerifier: this.deps.secrets.seal(verifier, pkceVerifierContext(connection.id)),
        expiresAt: new Date(now.getTime() + AUTH_TTL_MS).toISOString(),
      },
      updatedAt: now.toISOString(),
    };
    return { connection: next, authorizeUrl: oauth.authorizeUrl({ state, codeChallenge: pkceChallenge(verifier) }) };
  }

  async create(providerId: string, input: { kind: ConnectionKind; calendarId: string }): Promise<{ connection: Connection; authorizeUrl: string }> {
    const now = this.deps.clock.now();
    const fresh: Connection = {
      id: randomUUID(),
      providerId,
      kind: input.kind,
      calendarId: input.calendarId,
      status: 'pending_authorization',
      accountEmail: null,
      sealedTokens: null,
      pendingAuth: null,
      lastSyncedAt: null,
      lastErrorCode: null,
      cleanup: null,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
    const started = this.beginAuthorization(fresh, now);
    await this.deps.store.transaction(async (tx) => {
      await tx.lockProvider(providerId);
      writableProvider(await tx.getProvider(providerId), providerId);
      await tx.putConnection(started.connection);
    });
    return started;
  }

  /** Re-consent for a connection that needs it (or never finished); its paused work resumes after. */
  async reauthorize(providerId: string, connectionId: string): Promise<{ connection: Connection; authorizeUrl: string }> {
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (tx) => {
      await tx.lockConnection(connectionId);
      const connection = await tx.getConnection(connectionId);
      if (connection === null || connection.providerId !== providerId || connection.status === 'disconnected') {
        throw notFound(ErrorCode.CONNECTION_NOT_FOUND, `Connection ${connectionId} does not exist.`);
      }
      if (connection.cleanup !== null) throw new AppError({ code: ErrorCode.CONNECTION_CLEANUP_UNDER_WAY, status: 409, message: 'This calendar is being disconnected; connect it again once that is done.' });
      const started = this.beginAuthorization(connection, now);
      await tx.putConnection(started.connection);
      return started;
    });
  }

  /**
   * The OAuth redirect. A bad, expired or replayed state changes nothing. On success the tokens are
   * sealed, the connection turns active, and a first authorization queues every pushable session.
   */
  async completeAuthorization(kind: ConnectionKind, params: { state: string; code: string | null; error: string | null }): Promise<Connection> {
    const state = this.deps.secrets.verify(params.state);
    if (!isSignedState(state) || state.k !== kind) throw badState('The authorization state is not valid.');
    const now = this.deps.clock.now();
    const connection = await this.deps.store.getConnection(state.c);
    const pending = connection?.pendingAuth;
    if (connection === null || pending === null || pending === undefined || pending.nonce !== state.n) {
      throw badState('The authorization state was already used or replaced.');
    }
    if (pending.expiresAt <= now.toISOString()) throw badState('The authorization took too long; start again.');

    if (params.error !== null || params.code === null) {
      await this.deps.store.transaction(async (tx) => {
        await tx.lockConnection(connection.id);
        const current = await tx.getConnection(connection.id);
        if (current?.pendingAuth?.nonce !== state.n) return;
        await tx.putConnection({ ...current, pendingAuth: null, lastErrorCode: 'CONSENT_DENIED', updatedAt: now.toISOString() });
      });
      throw new AppError({ code: ErrorCode.OAUTH_CONSENT_DENIED, status: 400, message: 'The calendar account did not grant access.' });
    }

    const verifier = this.deps.secrets.open(pending.sealedVerifier, pkceVerifierContext(connection.id));
    let exchanged;
    try {
      exchanged = await this.oauthFor(kind).exchangeCode({ code: params.code, codeVerifier: verifier });
    } catch (err) {
      const code = err instanceof SyncError ? err.code : 'TOKEN_EXCHANGE_FAILED';
      this.log.warn({ connectionId: connection.id, code }, 'authorization code exchange failed');
      throw new AppError({ code: ErrorCode.OAUTH_EXCHANGE_FAILED, status: 400, message: 'The calendar account did not accept the authorization code.', cause: err });
    }

    const from = new Date(now.getTime() - this.deps.pastDays * DAY_MS).toISOString();
    const activated = await this.deps.store.transaction(async (tx) => {
      await tx.lockConnection(connection.id);
      const current = await tx.getConnection(connection.id);
      // Re-checked inside the transaction: two callbacks racing with one state, only one wins.
      if (current?.pendingAuth?.nonce !== state.n) throw badState('The authorization state was already used or replaced.');
      const firstAuthorization = current.sealedTokens === null && current.lastSyncedAt === null;
      const next: Connection = {
        ...current,
        status: 'active',
        accountEmail: exchanged.accountEmail ?? current.accountEmail,
        sealedTokens: sealTokens(this.deps.secrets, current.id, exchanged.tokens),
        pendingAuth: null,
        lastErrorCode: null,
        updatedAt: now.toISOString(),
      };
      await tx.putConnection(next);
      if (firstAuthorization) {
        const sessions = await tx.listSessions(current.providerId, { status: 'scheduled', endAfter: from });
        await tx.markConnectionTargetsDirty(current.id, sessions.map((s) => s.id), now.toISOString());
      }
      return next;
    });
    // The store wakes the sync worker: the connection is active again, and may have work.
    this.log.info({ connectionId: activated.id, providerId: activated.providerId, kind }, 'calendar connected');
    return activated;
  }

  async list(providerId: string): Promise<ConnectionView[]> {
    if ((await this.deps.store.getProvider(providerId)) === null) throw providerNotFound(providerId);
    const connections = await this.deps.store.listConnections(providerId);
    return Promise.all(
      connections.map(async (connection) => {
        const counts = await this.deps.store.targetCounts(connection.id);
        return { connection, pending: counts.pending, failed: counts.dead };
      }),
    );
  }

  /**
   * Disconnects one calendar (calendar-cleanup.ts): with removeEvents, the events we wrote are
   * removed by the worker first (only tagged ones), then the grant is revoked and the tokens are
   * forgotten; without, the grant is revoked and the events stay. 'removing' until the worker is
   * done; a connection that cannot reach its calendar is disconnected at once, saying what stays.
   * Asking again while it is removing answers the same.
   */
  async disconnect(providerId: string, connectionId: string, options: { removeEvents: boolean; actor: string }): Promise<CleanupOutcome> {
    const at = this.deps.clock.now().toISOString();
    const result = await this.deps.store.transaction(async (tx) => {
      await tx.lockConnection(connectionId);
      const connection = await tx.getConnection(connectionId);
      if (connection === null || connection.providerId !== providerId || connection.status === 'disconnected') {
        throw notFound(ErrorCode.CONNECTION_NOT_FOUND, `Connection ${connectionId} does not exist.`);
      }
      if (connection.cleanup !== null) return outcome(connection);
      return beginCleanup(tx, connection, { reason: 'disconnect', offboardingId: null, removeEvents: options.removeEvents, actor: options.actor }, at);
    });
    this.log.info({ connectionId, status: result.status, reason: result.reason }, 'calendar disconnect');
    return result;
  }
}
