import { toCalendarEvent } from '../domain/calendar-event.js';
import { eventTagKey, normaliseReminders, pushRevision } from '../domain/index.js';
import type { CalendarEvent, EventTag, JoinLinks, Location, Provider, Session, StoreReader } from '../domain/index.js';

export interface DesiredEvent {
  event: CalendarEvent;
  /** tag.revision covers the event and the reminders: a reminders change is a new revision to push. */
  tag: EventTag;
  /** The provider's popup reminders (minutes before, ascending); null: the calendar's defaults. */
  reminders: number[] | null;
}

/**
 * What a session's pushed event should be: the canonical event (the feed's too) plus the
 * provider's reminders, which only pushed events carry, so they never change the feed.
 */
export function desiredEventOf(session: Session, provider: Provider, location: Location | null, links: JoinLinks): DesiredEvent {
  const event = toCalendarEvent(session, provider, location, links);
  const reminders = normaliseReminders(provider.reminders);
  return { event, reminders, tag: { key: eventTagKey(provider.id, session.id), revision: pushRevision(event.revision, reminders) } };
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
  return desiredEventOf(session, provider, location, links);
}
