import type { JoinLinks, StoreTx } from '../domain/index.js';

/**
 * Stores the join token hash of every session of the provider that has none yet: new sessions,
 * and those written before migration 8 once their provider is on 'stable'. Call it under
 * tx.lockProvider; the hashes are derived, so even two racing writers would store the same values.
 */
export async function ensureJoinTokens(tx: StoreTx, providerId: string, links: JoinLinks): Promise<void> {
  const missing = await tx.listSessionsWithoutJoinToken(providerId);
  if (missing.length === 0) return;
  await tx.setJoinTokenHashes(
    providerId,
    missing.map((sessionId) => ({ sessionId, tokenHash: links.tokenHash({ providerId, id: sessionId }) })),
  );
}
