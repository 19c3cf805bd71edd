import { toCalendarEvent } from '../domain/calendar-event.js';
import type { JoinLinks, Location, Provider, Session, StoreTx } from '../domain/index.js';

/**
 * Brings a session's stored event identity (fingerprint, SEQUENCE, DTSTAMP) in line with what it
 * renders to now. Pure: returns the session to store, or null when its event did not change.
 */
export function withRefreshedEvent(session: Session, provider: Provider, location: Location | null, nowIso: string, links: JoinLinks): Session | null {
  const fingerprint = toCalendarEvent(session, provider, location, links).revision;
  if (fingerprint === session.eventFingerprint) return null;
  return {
    ...session,
    eventFingerprint: fingerprint,
    // A brand-new session starts at 0; every later change an attendee would notice adds one.
    sequence: session.eventFingerprint === '' ? 0 : session.sequence + 1,
    lastModified: nowIso,
    updatedAt: nowIso,
  };
}

/**
 * Re-renders the given sessions after a change to their provider or location, persisting those
 * whose event changed. Returns the ids of those sessions; the caller bumps the feed revision
 * once and marks their push targets dirty.
 */
export async function refreshSessionEvents(
  tx: StoreTx,
  provider: Provider,
  sessions: readonly Session[],
  nowIso: string,
  links: JoinLinks,
): Promise<string[]> {
  if (sessions.length === 0) return [];
  const locations = new Map((await tx.listLocations(provider.id)).map((l) => [l.id, l]));
  const refreshed: Session[] = [];
  for (const session of sessions) {
    const location = session.locationId === null ? null : (locations.get(session.locationId) ?? null);
    const next = withRefreshedEvent(session, provider, location, nowIso, links);
    if (next !== null) refreshed.push(next);
  }
  await tx.putSessions(refreshed);
  return refreshed.map((s) => s.id);
}
