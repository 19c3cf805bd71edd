import type { calendar_v3 } from '@googleapis/calendar';
import { allDayInterval, normaliseReminders } from '../../src/domain/index.js';
import type { BusyInterval, CalendarEvent, EventTag, RemoteEvent } from '../../src/domain/index.js';

// CalendarEvent <-> Google Calendar v3 Event resource. Pure: no I/O, no clock, no randomness.

/** Private extended property names that mark an event as ours (DESIGN.md, "Push sync"). */
export const TAG_MARKER = 'sessionsync';
export const TAG_KEY = 'sessionsyncKey';
export const TAG_REVISION = 'sessionsyncRevision';
/** `privateExtendedProperty` filter of events.list that selects our events only. */
export const TAG_FILTER = `${TAG_MARKER}=1`;

/**
 * The body we send to events.insert / events.update: the subset of the Event resource we own.
 * A plain JSON shape so that googleapis types never leave connectors/google.
 */
export interface GoogleEventBody {
  id?: string;
  summary: string;
  location: string | null;
  description: string | null;
  start: { dateTime: string; timeZone: string };
  end: { dateTime: string; timeZone: string };
  status: 'confirmed' | 'cancelled';
  transparency: 'opaque';
  visibility: 'private';
  guestsCanInviteOthers: false;
  reminders: GoogleReminders;
  extendedProperties: { private: Record<typeof TAG_MARKER | typeof TAG_KEY | typeof TAG_REVISION, string> };
}

/** Popup overrides, or the calendar's default reminders (useDefault, which allows no overrides). */
export type GoogleReminders = { useDefault: true } | { useDefault: false; overrides: { method: 'popup'; minutes: number }[] };

/**
 * The provider's reminders as Google wants them: null keeps the calendar's defaults; [] is no
 * reminder at all (useDefault false without overrides). Google allows at most 5 overrides of at
 * most 40,320 minutes, which the API enforces for the setting.
 */
export function toGoogleReminders(reminders: readonly number[] | null): GoogleReminders {
  const minutes = normaliseReminders(reminders);
  if (minutes === null) return { useDefault: true };
  return { useDefault: false, overrides: minutes.map((m) => ({ method: 'popup' as const, minutes: m })) };
}

/**
 * What the provider's Google Calendar shows for one session.
 * - No `attendees`: nobody is invited, so Google sends no mail whatever `sendUpdates` says.
 * - No `conferenceData`: Google accepts only its own products there (Meet), never a third-party
 *   telehealth link; the link goes into `location` and `description` like in the feed.
 * - No `sequence`: Google keeps its own (the calendar UI bumps it on edits) and rejects an update
 *   whose sequence is below the stored one (400 "invalid sequence value"); omitted, it is kept.
 * - No `iCalUID`: the API reference says id and iCalUID "are not identical and only one of them
 *   should be supplied at event creation time"; we supply the id (idempotent inserts).
 * - No `source`: its URL would have to point back at us (no per-event page exists), and the
 *   telehealth link must not be spread into more fields than the feed uses.
 * A full `update` replaces the resource, so every field we own is always present (null clears).
 */
export function toGoogleEvent(event: CalendarEvent, tag: EventTag, id?: string, reminders: readonly number[] | null = null): GoogleEventBody {
  const body = {
    ...(id === undefined ? {} : { id }),
    summary: event.summary,
    location: event.location,
    description: event.description,
    start: { dateTime: event.start, timeZone: event.timezone },
    end: { dateTime: event.end, timeZone: event.timezone },
    status: event.status,
    transparency: 'opaque' as const,
    visibility: 'private' as const,
    guestsCanInviteOthers: false as const,
    reminders: toGoogleReminders(reminders),
    extendedProperties: {
      private: { [TAG_MARKER]: '1', [TAG_KEY]: tag.key, [TAG_REVISION]: tag.revision },
    },
  } satisfies calendar_v3.Schema$Event;
  return body;
}

/** Our tag on a Google event, or null when the event is not ours (no marker or no key). */
export function tagOf(resource: calendar_v3.Schema$Event): EventTag | null {
  const props = resource.extendedProperties?.private;
  if (!props || props[TAG_MARKER] !== '1') return null;
  const key = props[TAG_KEY];
  if (typeof key !== 'string' || key === '') return null;
  return { key, revision: props[TAG_REVISION] ?? '' };
}

/**
 * Google answers `dateTime` in the event's (or calendar's) zone with an offset, e.g.
 * "2026-11-10T10:00:00-05:00", whatever we sent; an all-day event has `date` only.
 * Both become the domain's UTC form so that drift detection compares like with like.
 */
function toUtcInstant(value: calendar_v3.Schema$EventDateTime | undefined): string {
  const raw = value?.dateTime ?? value?.date;
  if (!raw) return '';
  const ms = Date.parse(raw);
  return Number.isNaN(ms) ? '' : new Date(ms).toISOString();
}

/**
 * One of our events as read back, or null when it is not ours. A deleted (cancelled) event is
 * only guaranteed to keep its id, so its times may come back empty ('').
 */
export function fromGoogleEvent(resource: calendar_v3.Schema$Event): RemoteEvent | null {
  const tag = tagOf(resource);
  if (tag === null || !resource.id) return null;
  return {
    externalId: resource.id,
    tag,
    start: toUtcInstant(resource.start),
    end: toUtcInstant(resource.end),
    summary: resource.summary ?? '',
    location: resource.location ?? null,
    cancelled: resource.status === 'cancelled',
  };
}

/**
 * events.list partial-response mask for busy time: when each event is, whether it blocks time, and
 * whether it is ours or declined; never its summary, description, location, attendees' addresses
 * or organizer. https://developers.google.com/workspace/calendar/api/guides/performance#partial-response
 */
export const BUSY_FIELDS = 'items(start,end,status,transparency,eventType,attendees(self,responseStatus),extendedProperties/private),nextPageToken';

/**
 * The busy time one event of the calendar takes, or null when it takes none: cancelled, marked
 * "free" (transparency transparent), a working-location entry, an invitation the account declined,
 * or one of our own events (busy time must not count what we wrote from the sessions themselves).
 * A timed event's dateTime carries its offset; an all-day event (date only, end exclusive) is busy
 * from midnight to midnight in `zone`.
 */
export function busyIntervalOf(resource: calendar_v3.Schema$Event, zone: string): BusyInterval | null {
  if (resource.status === 'cancelled' || resource.transparency === 'transparent' || resource.eventType === 'workingLocation') return null;
  if (resource.extendedProperties?.private?.[TAG_MARKER] === '1') return null;
  if (resource.attendees?.some((a) => a.self === true && a.responseStatus === 'declined')) return null;
  const { start, end } = resource;
  if (typeof start?.dateTime === 'string' && typeof end?.dateTime === 'string') {
    const from = Date.parse(start.dateTime);
    const to = Date.parse(end.dateTime);
    return Number.isNaN(from) || Number.isNaN(to) || to <= from ? null : { start: new Date(from).toISOString(), end: new Date(to).toISOString() };
  }
  if (typeof start?.date === 'string' && typeof end?.date === 'string') return allDayInterval(start.date, end.date, zone);
  return null;
}
