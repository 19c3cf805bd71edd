import type { SecretBox } from '../crypto/secret-box.js';
import type { Clock, Connection, ConnectorSession, OAuthTokens, Store } from '../domain/index.js';

// OAuth tokens live in the database only sealed (AES-256-GCM), bound to their connection id so
// that a sealed blob copied onto another row does not open.

/** The additional data a connection's tokens are sealed under. */
export function tokensSealContext(connectionId: string): string {
  return `connection-tokens:${connectionId}`;
}

export function sealTokens(secrets: SecretBox, connectionId: string, tokens: OAuthTokens): string {
  return secrets.seal(JSON.stringify(tokens), tokensSealContext(connectionId));
}

export function openTokens(secrets: SecretBox, connection: Connection): OAuthTokens | null {
  if (connection.sealedTokens === null) return null;
  return JSON.parse(secrets.open(connection.sealedTokens, tokensSealContext(connection.id))) as OAuthTokens;
}

/** What a connector gets for one connection; refreshed tokens are sealed and stored at once. */
export function connectorSession(deps: { store: Store; secrets: SecretBox; clock: Clock }, connection: Connection, tokens: OAuthTokens): ConnectorSession {
  return {
    connectionId: connection.id,
    calendarId: connection.calendarId,
    tokens,
    async onTokens(next) {
      const sealedTokens = sealTokens(deps.secrets, connection.id, next);
      await deps.store.transaction(async (tx) => {
        await tx.lockConnection(connection.id);
        const current = await tx.getConnection(connection.id);
        // A disconnect in the meantime wins: never resurrect forgotten tokens.
        if (current === null || current.sealedTokens === null) return;
        await tx.putConnection({ ...current, sealedTokens, updatedAt: deps.clock.now().toISOString() });
      });
    },
  };
}

/** The grant is gone: pause the connection (its targets stay pending) until it is re-authorised. */
export async function markNeedsReauth(store: Store, connectionId: string, errorCode: string, at: string): Promise<void> {
  await store.transaction(async (tx) => {
    await tx.lockConnection(connectionId);
    const current = await tx.getConnection(connectionId);
    if (current?.status === 'active') await tx.putConnection({ ...current, status: 'needs_reauth', lastErrorCode: errorCode, updatedAt: at });
  });
}
