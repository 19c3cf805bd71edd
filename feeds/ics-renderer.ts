// CalendarEvent[] -> iCalendar (RFC 5545) text for feeds and invite files. Pure: the same input
// gives the same bytes whatever the process TZ or clock (no now(), no random values).
import ical, { escape, ICalCalendarMethod, ICalEventStatus, ICalEventTransparency } from 'ical-generator';
import { DateTime, IANAZone } from 'luxon';
import { tzlib_get_ical_block } from 'timezones-ical-library';
import { canonicalTimeZone, toPrintableText } from '../src/domain/index.js';
import type { CalendarEvent, CalendarMeta } from '../src/domain/index.js';
import { cachedZone } from './cached-zone.js';
import { buildVtimezone } from './vtimezone.js';

export interface RenderCalendarOptions {
  /** Written as METHOD:PUBLISH when given; feeds leave METHOD out. */
  method?: 'PUBLISH';
}

/**
 * Renders one VCALENDAR: events sorted by start then uid, times in the event's zone with one
 * VTIMEZONE per TZID used (UTC when the zone is UTC, unknown, or cannot express the instant),
 * DTSTAMP/LAST-MODIFIED/CREATED in UTC, CRLF line ends, lines folded at 75 octets.
 * Throws a RangeError for an event with an empty uid, an unparseable instant or end <= start.
 */
export function renderCalendar(
  meta: CalendarMeta,
  events: readonly CalendarEvent[],
  options: RenderCalendarOptions = {},
): string {
  const vtimezones = new Map<string, string>();
  // The span of event instants written under each TZID, which its VTIMEZONE must cover.
  const spans = new Map<string, { from: number; to: number }>();
  const calendar = ical({
    // PRODID, NAME and X-WR-CALNAME are TEXT values, but ical-generator writes them unescaped.
    prodId: { company: 'sessionsync', product: escape(toPrintableText(meta.productId, 'line'), false), language: 'EN' },
    name: escape(toPrintableText(meta.name, 'line'), false),
    scale: 'GREGORIAN',
    ttl: meta.refreshIntervalSeconds,
    method: options.method === 'PUBLISH' ? ICalCalendarMethod.PUBLISH : null,
    // No calendar-level zone name: with one, ical-generator writes TIMEZONE-ID/X-WR-TIMEZONE and
    // renders DTSTAMP/CREATED/LAST-MODIFIED as floating local times. The generator only adds the
    // VTIMEZONE block of each TZID that an event uses.
    timezone: { name: null, generator: (tzid) => vtimezones.get(tzid) ?? null },
  });

  for (const { event, start, end } of sortEvents(events.map(withInstants))) {
    const zone = displayZone(event.timezone, start, end);
    if (zone !== null) {
      const span = spans.get(zone.tzid);
      spans.set(zone.tzid, { from: Math.min(span?.from ?? Infinity, start.toMillis()), to: Math.max(span?.to ?? -Infinity, end.toMillis()) });
    }
    const stamp = parseInstant(event.stamp, 'stamp', event.uid);

    calendar.createEvent({
      // UID is TEXT too, and ical-generator writes it unescaped.
      id: escape(event.uid, false),
      sequence: event.sequence,
      stamp,
      lastModified: stamp,
      created: parseInstant(event.created, 'created', event.uid),
      // Luxon values are formatted in the event's zone; a JS Date would be written in the
      // server's local time under a TZID.
      start: zone === null ? start : start.setZone(cachedZone(zone.tzid)),
      end: zone === null ? end : end.setZone(cachedZone(zone.tzid)),
      timezone: zone?.tzid ?? null,
      // RFC 5545 3.3.11 forbids control characters in TEXT, whatever the event was built from.
      summary: toPrintableText(event.summary, 'line'),
      location: event.location === null ? null : toPrintableText(event.location, 'multiline'),
      description: event.description === null ? null : toPrintableText(event.description, 'multiline'),
      url: event.url === null ? null : toUriValue(event.url),
      status: toStatus(event.status),
      transparency: ICalEventTransparency.OPAQUE,
    });
  }

  for (const [tzid, span] of spans) vtimezones.set(tzid, buildVtimezone(tzid, span.from, span.to));
  // RFC 5545 3.4: an iCalendar object ends with "END:VCALENDAR" CRLF; ical-generator omits it.
  return `${hoistCalendarProperties(calendar.toString())}\r\n`;
}

interface TimedEvent {
  event: CalendarEvent;
  start: DateTime;
  end: DateTime;
}

function withInstants(event: CalendarEvent): TimedEvent {
  // ical-generator would invent a random UID for an empty one.
  if (event.uid === '') throw new RangeError('A calendar event needs a uid.');
  const start = parseInstant(event.start, 'start', event.uid);
  const end = parseInstant(event.end, 'end', event.uid);
  if (end <= start) throw new RangeError(`Event ${event.uid} must end after it starts.`);
  return { event, start, end };
}

/** Sorted by start, then uid, with end and revision as tie-breakers so input order never shows. */
function sortEvents(events: TimedEvent[]): TimedEvent[] {
  const key = ({ event, start, end }: TimedEvent): (number | string)[] => [
    start.toMillis(),
    event.uid,
    end.toMillis(),
    event.revision,
  ];
  return events.sort((a, b) => compareKeys(key(a), key(b)));
}

function compareKeys(a: readonly (number | string)[], b: readonly (number | string)[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    // Code-unit order, not localeCompare: the order must not depend on the server's locale.
    if (x !== undefined && y !== undefined && x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function parseInstant(iso: string, field: string, uid: string): DateTime {
  // Instants are ISO UTC strings; one without an offset is read as UTC, never as server time.
  const value = DateTime.fromISO(iso, { zone: 'utc' });
  if (!value.isValid) throw new RangeError(`Event ${uid} has an invalid ${field}: ${iso}`);
  return value;
}

function toStatus(status: CalendarEvent['status']): ICalEventStatus {
  switch (status) {
    case 'confirmed':
      return ICalEventStatus.CONFIRMED;
    case 'cancelled':
      return ICalEventStatus.CANCELLED;
    default: {
      const unknown: never = status;
      throw new RangeError(`Unknown event status: ${String(unknown)}`);
    }
  }
}

/**
 * RFC 5545 3.3.13: a URI value is not TEXT-escaped, yet ical-generator backslash-escapes
 * ",", ";" and "\" in URL (which would break the link). Percent-encoding them first keeps the
 * URI equivalent for every web server and leaves ical-generator nothing to escape.
 */
function toUriValue(url: string): string {
  // eslint-disable-next-line no-control-regex -- controls and spaces are not URI characters either
  return url.replace(/[\u0000-\u0020\u007F-\u009F,;\\]/g, (c) => encodeURIComponent(c));
}

interface DisplayZone {
  /** Canonical IANA name, written as TZID and as the VTIMEZONE's TZID. */
  tzid: string;
}

// Zones that are UTC forever: written as "...Z" times, with no TZID and no VTIMEZONE.
const UTC_TZIDS = new Set(['Etc/UTC', 'Etc/GMT']);

const zoneCache = new Map<string, DisplayZone | null>();

/** The zone to write an event's times in, or null to write them in UTC. */
function displayZone(timezone: string, start: DateTime, end: DateTime): DisplayZone | null {
  const zone = resolveZone(timezone);
  if (zone === null) return null;
  // Both times must mean the same instants to every reader, else the whole event is written in
  // UTC (mixing UTC and TZID forms in one event is legal but less widely handled).
  const luxonZone = cachedZone(zone.tzid);
  return isExpressibleInZone(start.setZone(luxonZone)) && isExpressibleInZone(end.setZone(luxonZone))
    ? zone
    : null;
}

function resolveZone(timezone: string): DisplayZone | null {
  const cached = zoneCache.get(timezone);
  if (cached !== undefined) return cached;

  let zone: DisplayZone | null = null;
  // Checked first because tzlib_get_ical_block logs to stderr for a name it does not know. The
  // API accepts exact spellings only; a row stored before it did ("america/new_york") still
  // renders in its zone rather than in UTC.
  const name = canonicalTimeZone(timezone);
  if (name !== null) {
    // tzlib resolves aliases ("US/Eastern" -> "America/New_York"); its TZID is the one to use.
    // Only the name is taken from it: the VTIMEZONE is built from luxon's data (vtimezone.ts).
    const [, tzidParam] = toList(tzlib_get_ical_block(name));
    const tzid = tzidParam?.startsWith('TZID=') ? tzidParam.slice('TZID='.length) : undefined;
    if (tzid && !UTC_TZIDS.has(tzid) && IANAZone.isValidZone(tzid)) zone = { tzid };
  }
  zoneCache.set(timezone, zone);
  return zone;
}

function toList(value: string[] | string): string[] {
  return Array.isArray(value) ? value : [];
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/**
 * Whether every reader resolves this wall time in its zone to this instant. Wall times derived
 * from an instant never fall into a spring-forward gap, but in a fall-back overlap a wall time
 * occurs twice: RFC 5545 3.3.5 says readers take the first occurrence, yet ical.js and node-ical
 * take the second, so neither can be written with a TZID. Assumes at most one offset change
 * within 24 hours of the instant (true of every zone in use).
 */
function isExpressibleInZone(local: DateTime): boolean {
  const millis = local.toMillis();
  const offsetAt = (ms: number): number => DateTime.fromMillis(ms, { zone: local.zone }).offset;
  // The same wall time under the offset in force a day before (after): if that instant really
  // had that offset, the wall time also occurred then.
  const before = offsetAt(millis - DAY_MS);
  if (before > local.offset && offsetAt(millis - (before - local.offset) * MINUTE_MS) === before) return false;
  const after = offsetAt(millis + DAY_MS);
  if (after < local.offset && offsetAt(millis + (local.offset - after) * MINUTE_MS) === after) return false;
  return true;
}

/**
 * RFC 5545 3.6 (icalbody = calprops component) puts every calendar property before the first
 * component, but ical-generator writes REFRESH-INTERVAL and X-PUBLISHED-TTL after the VTIMEZONE
 * blocks. Moves such top-level property lines (with their folded continuations) up, in order.
 */
function hoistCalendarProperties(ics: string): string {
  const lines: string[] = [];
  const hoisted: string[] = [];
  let depth = 0;
  let firstComponentAt = -1;
  let target = lines;
  for (const line of ics.split('\r\n')) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      target.push(line);
      continue;
    }
    if (line.startsWith('BEGIN:')) {
      depth += 1;
      if (depth === 2 && firstComponentAt < 0) firstComponentAt = lines.length;
      target = lines;
    } else if (line.startsWith('END:')) {
      depth -= 1;
      target = lines;
    } else {
      target = depth === 1 && firstComponentAt >= 0 ? hoisted : lines;
    }
    target.push(line);
  }
  if (firstComponentAt >= 0) lines.splice(firstComponentAt, 0, ...hoisted);
  return lines.join('\r\n');
}
