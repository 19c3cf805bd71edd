import { toCalendarEvent } from '../domain/calendar-event.js';
import { eventTagKey } from '../domain/index.js';
import type { CalendarEvent, EventTag, JoinLinks, Session, StoreReader } from '../domain/index.js';

export interface DesiredEvent {
  event: CalendarEvent;
  tag: EventTag;
}

/** Whether a session should have an event in external calendars: scheduled and not long past. */
export function isPushable(session: Session | null, fromIso: string): session is Session {
  return session !== null && session.status === 'scheduled' && session.end > fromIso;
}

/**
 * The event a session should have right now, or null when it should have none (cancelled,
 * deleted, or older than the window). Read fresh at each attempt: level-triggered.
 */
export async function desiredEventFor(store: StoreReader, providerId: string, sessionId: string, fromIso: string, links: JoinLinks): Promise<DesiredEvent | null> {
  const [provider, session] = await Promise.all([store.getProvider(providerId), store.getSession(providerId, sessionId)]);
  if (provider === null || !isPushable(session, fromIso)) return null;
  const location = session.locationId === null ? null : await store.getLocation(providerId, session.locationId);
  const event = toCalendarEvent(session, provider, location, links);
  return { event, tag: { key: eventTagKey(providerId, sessionId), revision: event.revision } };
}
