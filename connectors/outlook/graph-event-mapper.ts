import { allDayInterval, normaliseReminders } from '../../src/domain/index.js';
import type { BusyInterval, CalendarEvent, EventTag, RemoteEvent } from '../../src/domain/index.js';

// CalendarEvent <-> Microsoft Graph v1.0 event. Pure: no I/O, no clock, same input same output.
// The Graph shapes below are the subset we write and read; they never leave connectors/outlook.

/**
 * Our own property-set GUID for single-value extended properties (MAPI named properties).
 * Generated once for sessionsync; changing it would orphan every event already written.
 */
export const SESSIONSYNC_PROPERTY_SET = '9ced5288-5cda-49f2-ad67-29584fc43a33';

/** "String {guid} Name x": the id format Graph wants for a string-typed named property. */
export const TAG_KEY_PROPERTY_ID = `String {${SESSIONSYNC_PROPERTY_SET}} Name sessionsyncKey`;
export const TAG_REVISION_PROPERTY_ID = `String {${SESSIONSYNC_PROPERTY_SET}} Name sessionsyncRevision`;

export interface GraphDateTimeTimeZone {
  dateTime: string;
  timeZone: string;
}

export interface GraphExtendedProperty {
  id: string;
  value: string;
}

/** What we PATCH: every field we own, so an update makes the event equal to the CalendarEvent. */
export interface GraphEventWrite {
  subject: string;
  body: { contentType: 'text'; content: string };
  start: GraphDateTimeTimeZone;
  end: GraphDateTimeTimeZone;
  location: { displayName: string };
  isOnlineMeeting: false;
  sensitivity: 'private';
  showAs: 'busy';
  responseRequested: false;
  /** Absent on a create without a reminders setting: the mailbox's default applies. */
  isReminderOn?: boolean;
  reminderMinutesBeforeStart?: number;
  singleValueExtendedProperties: GraphExtendedProperty[];
}

/** What we POST: the same plus transactionId, which Graph accepts on create only. */
export interface GraphEventCreate extends GraphEventWrite {
  transactionId: string;
}

/** The fields of a Graph event we read back (listing, lookup by tag, busy time). */
export interface GraphEventRead {
  id?: string;
  subject?: string | null;
  start?: GraphDateTimeTimeZone | null;
  end?: GraphDateTimeTimeZone | null;
  location?: { displayName?: string | null } | null;
  isCancelled?: boolean | null;
  isAllDay?: boolean | null;
  /** free, tentative, busy, oof, workingElsewhere, unknown. */
  showAs?: string | null;
  singleValueExtendedProperties?: GraphExtendedProperty[] | null;
}

const ISO_UTC = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?)Z$/;

/**
 * "2026-11-10T15:00:00.000Z" -> { dateTime: "2026-11-10T15:00:00.000", timeZone: "UTC" }.
 * Graph's dateTime has no offset; the zone is a separate field. We always write UTC: the instant is
 * exact whatever the server's TZ, and Outlook shows it in the mailbox owner's own zone anyway
 * (CalendarEvent.timezone is display-only, and Graph would need a Windows or IANA name mapping).
 */
export function toGraphDateTime(isoUtc: string): GraphDateTimeTimeZone {
  const match = ISO_UTC.exec(isoUtc);
  if (match?.[1] === undefined) throw new RangeError('Expected an ISO-8601 UTC instant ending in Z.');
  return { dateTime: match[1], timeZone: 'UTC' };
}

const UTC_ZONES = new Set(['utc', 'etc/utc', 'gmt', 'etc/gmt', 'z', 'tzone://microsoft/utc', 'coordinated universal time']);
const GRAPH_DATE_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,7}))?$/;

/**
 * Graph { dateTime: "2026-11-10T15:00:00.0000000", timeZone: "UTC" } -> "2026-11-10T15:00:00.000Z"
 * (the Date.toISOString() form CalendarEvent uses, so equal instants compare equal as strings).
 * We ask for UTC (Prefer: outlook.timezone="UTC"); anything else is returned as "<dateTime> <zone>",
 * which never equals a desired instant, so the resync treats it as drift and rewrites the event.
 */
export function fromGraphDateTime(value: GraphDateTimeTimeZone | null | undefined): string {
  if (!value) return '';
  const match = GRAPH_DATE_TIME.exec(value.dateTime);
  if (match?.[1] === undefined || !UTC_ZONES.has(value.timeZone.toLowerCase())) return `${value.dateTime} ${value.timeZone}`;
  const millis = (match[2] ?? '').padEnd(3, '0').slice(0, 3);
  return `${match[1]}.${millis}Z`;
}

/** What Outlook gives an event created without reminder fields: a reminder 15 minutes before. */
export const OUTLOOK_DEFAULT_REMINDER_MINUTES = 15;

type GraphReminderFields = Pick<GraphEventWrite, 'isReminderOn' | 'reminderMinutesBeforeStart'>;

/**
 * An Outlook event has one reminder (isReminderOn + reminderMinutesBeforeStart): of several, the
 * one closest to the start (the smallest number of minutes); [] turns it off. Without a setting
 * (null), a create leaves both fields out, so Outlook applies its default; Graph has no "default"
 * value to PATCH back to, so an update writes Outlook's default (on, 15 minutes), the way a Google
 * update writes useDefault.
 */
export function toGraphReminders(reminders: readonly number[] | null, forCreate: boolean): GraphReminderFields {
  const minutes = normaliseReminders(reminders);
  if (minutes === null) return forCreate ? {} : { isReminderOn: true, reminderMinutesBeforeStart: OUTLOOK_DEFAULT_REMINDER_MINUTES };
  const [closest] = minutes;
  return closest === undefined ? { isReminderOn: false } : { isReminderOn: true, reminderMinutesBeforeStart: closest };
}

function graphEventBody(event: CalendarEvent, tag: EventTag, reminders: GraphReminderFields): GraphEventWrite {
  return {
    subject: event.summary,
    body: { contentType: 'text', content: event.description ?? '' },
    start: toGraphDateTime(event.start),
    end: toGraphDateTime(event.end),
    // An empty displayName clears a location on PATCH; omitting it would keep the old one.
    location: { displayName: event.location ?? '' },
    isOnlineMeeting: false,
    sensitivity: 'private',
    showAs: 'busy',
    responseRequested: false,
    ...reminders,
    singleValueExtendedProperties: [
      { id: TAG_KEY_PROPERTY_ID, value: tag.key },
      { id: TAG_REVISION_PROPERTY_ID, value: tag.revision },
    ],
  } satisfies GraphEventWrite;
}

/**
 * The event body we write for an update. No attendees (nobody is invited), no onlineMeeting /
 * onlineMeetingProvider (Graph accepts only Teams/Skype there; the telehealth link goes in the
 * location and the description), the provider's reminders (toGraphReminders).
 */
export function toGraphEvent(event: CalendarEvent, tag: EventTag, reminders: readonly number[] | null = null): GraphEventWrite {
  return graphEventBody(event, tag, toGraphReminders(reminders, false));
}

/**
 * The event body we write for a create: transactionId lets Graph dedupe a retried POST; without a
 * reminders setting the reminder fields are left to the mailbox's default.
 */
export function toGraphCreateEvent(event: CalendarEvent, tag: EventTag, transactionId: string, reminders: readonly number[] | null = null): GraphEventCreate {
  return { ...graphEventBody(event, tag, toGraphReminders(reminders, true)), transactionId } satisfies GraphEventCreate;
}

/** Property ids compare with the GUID case-insensitively and the name case-sensitively (as Graph does). */
function samePropertyId(a: string, b: string): boolean {
  const guid = /\{([0-9a-fA-F-]{36})\}/;
  return a.replace(guid, (_m, g: string) => `{${g.toLowerCase()}}`) === b.replace(guid, (_m, g: string) => `{${g.toLowerCase()}}`);
}

export function readExtendedProperty(raw: GraphEventRead, propertyId: string): string | null {
  const found = raw.singleValueExtendedProperties?.find((p) => samePropertyId(p.id, propertyId));
  return found === undefined ? null : found.value;
}

/** Our tag from a Graph event read with $expand of both properties; null for events that are not ours. */
export function readTag(raw: GraphEventRead): EventTag | null {
  const key = readExtendedProperty(raw, TAG_KEY_PROPERTY_ID);
  if (key === null || key === '') return null;
  return { key, revision: readExtendedProperty(raw, TAG_REVISION_PROPERTY_ID) ?? '' };
}

/** A tagged Graph event as the vendor-neutral RemoteEvent; null when it is not one of ours. */
export function fromGraphEvent(raw: GraphEventRead): RemoteEvent | null {
  const tag = readTag(raw);
  if (tag === null || typeof raw.id !== 'string' || raw.id === '') return null;
  const location = raw.location?.displayName ?? '';
  return {
    externalId: raw.id,
    tag,
    start: fromGraphDateTime(raw.start),
    end: fromGraphDateTime(raw.end),
    summary: raw.subject ?? '',
    location: location === '' ? null : location,
    cancelled: raw.isCancelled === true,
  };
}

/** OData string literal: single quotes are doubled. */
export function odataString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** $filter: events carrying our key property with exactly this value. */
export function filterByTagKey(key: string): string {
  return `singleValueExtendedProperties/Any(ep: ep/id eq ${odataString(TAG_KEY_PROPERTY_ID)} and ep/value eq ${odataString(key)})`;
}

/**
 * $filter: events carrying our key property at all, ending at or after `fromIsoUtc`. Graph documents
 * an eq on ep/id plus an operator on ep/value; "ne null" is the usual way to say "has the property".
 */
export function filterTaggedEndingAfter(fromIsoUtc: string): string {
  return (
    `singleValueExtendedProperties/Any(ep: ep/id eq ${odataString(TAG_KEY_PROPERTY_ID)} and ep/value ne null)` +
    ` and end/dateTime ge ${odataString(toGraphDateTime(fromIsoUtc).dateTime)}`
  );
}

/** $expand returning both of our properties (and only those) with each event. */
export const EXPAND_TAG_PROPERTIES = `singleValueExtendedProperties($filter=id eq ${odataString(TAG_KEY_PROPERTY_ID)} or id eq ${odataString(TAG_REVISION_PROPERTY_ID)})`;

/** $select for reads: what RemoteEvent needs, not bodies. */
export const SELECT_READ_FIELDS = 'subject,start,end,location,isCancelled';

/** $select for busy time: when, whether it blocks time, whether it happens; never subject or body. */
export const SELECT_BUSY_FIELDS = 'start,end,showAs,isCancelled,isAllDay';

/** $expand returning our key property (and only it) with each event: enough to know ours. */
export const EXPAND_TAG_KEY = `singleValueExtendedProperties($filter=id eq ${odataString(TAG_KEY_PROPERTY_ID)})`;

/**
 * What showAs leaves free: "free", and "workingElsewhere" (the person works, from another place,
 * and can be booked; Google's working-location entries are free time the same way). tentative,
 * busy, oof and unknown block the time: a slot wrongly shown taken costs less than a double booking.
 */
const NOT_BUSY_SHOW_AS = new Set(['free', 'workingelsewhere']);

/**
 * The busy time one event takes (times read with Prefer: outlook.timezone="UTC"), or null when it
 * takes none: cancelled, shown as free or working elsewhere, or one of our own events. Graph gives
 * an all-day event as date-valued midnights whatever zone is asked for: its dates are taken and
 * made busy from midnight to midnight in `zone`.
 */
export function busyIntervalOfGraph(raw: GraphEventRead, zone: string): BusyInterval | null {
  if (raw.isCancelled === true || NOT_BUSY_SHOW_AS.has((raw.showAs ?? '').toLowerCase())) return null;
  if (readExtendedProperty(raw, TAG_KEY_PROPERTY_ID) !== null) return null;
  if (raw.isAllDay === true) {
    const startDate = raw.start?.dateTime.slice(0, 10) ?? '';
    const endDate = raw.end?.dateTime.slice(0, 10) ?? '';
    return allDayInterval(startDate, endDate, zone);
  }
  const start = fromGraphDateTime(raw.start);
  const end = fromGraphDateTime(raw.end);
  const from = Date.parse(start);
  const to = Date.parse(end);
  // fromGraphDateTime answers "<dateTime> <zone>" for a time not in UTC: never parsed as an instant.
  if (!start.endsWith('Z') || !end.endsWith('Z') || Number.isNaN(from) || Number.isNaN(to) || to <= from) return null;
  return { start, end };
}
