// CalendarEvent[] -> iCalendar (RFC 5545) text for feeds and invite files. Pure: the same input
// gives the same bytes whatever the process TZ or clock (no now(), no random values).
import { hash } from 'node:crypto';
import ical, { escape, foldLines, ICalCalendarMethod, ICalEvent, ICalEventStatus, ICalEventTransparency, type ICalCalendarData, type ICalEventData } from 'ical-generator';
import { DateTime, IANAZone } from 'luxon';
import { tzlib_get_ical_block } from 'timezones-ical-library';
import { canonicalTimeZone, toPrintableText } from '../src/domain/index.js';
import type { CalendarEvent, CalendarMeta } from '../src/domain/index.js';
import { bodyChunks, chunksEtag, type BodyChunk } from './body-chunks.js';
import type { BodySpan } from './body-span.js';
import { cachedZone } from './cached-zone.js';
import { buildVtimezone } from './vtimezone.js';

export interface RenderCalendarOptions {
  /** Written as METHOD:PUBLISH when given; feeds leave METHOD out. */
  method?: 'PUBLISH';
}

/**
 * One event rendered on its own: its VEVENT lines, folded, CRLF-terminated, as UTF-8 bytes, with
 * what the calendar around it needs (sort key, TZID and span for the VTIMEZONE, a digest for the
 * ETag). The bytes depend on the event alone, so a feed keeps a fragment while its event keeps
 * its revision, and assembles the calendar from fragments instead of rendering every event again.
 */
export interface EventFragment {
  /**
   * Its bytes are source[offset, offset + length): its own buffer when just rendered, or the
   * body of the calendar a cache last assembled it into (so each event's bytes are kept once).
   */
  readonly source: Buffer;
  readonly offset: number;
  readonly length: number;
  /** SHA-256 of its bytes. */
  readonly digest: Buffer;
  readonly uid: string;
  readonly revision: string;
  readonly startMs: number;
  readonly endMs: number;
  /** The TZID its times are written under, or null when written in UTC. */
  readonly tzid: string | null;
}

/**
 * A calendar as the buffers to send one after another: the fragments' bytes are not copied, so
 * after a change to one event of a cached calendar the new one is a handful of views into the
 * old one's buffers and the new event's own. Join them (joinParts) where one buffer is needed.
 */
export interface AssembledCalendar {
  parts: Buffer[];
  /** Total bytes of parts. */
  length: number;
  /** The head: calendar properties and VTIMEZONEs. */
  head: Buffer;
  /** The fragments in the order the body holds them. */
  sorted: EventFragment[];
  /** The body span by span (head, each event, end), and cut into chunks (body-chunks.ts). */
  spans: BodySpan[];
  chunks: BodyChunk[];
  /** Strong ETag: SHA-256 over the chunks' identities (which cover every byte), not the bytes. */
  etag: string;
}

export { spanBytes, type BodySpan } from './body-span.js';

// Builds ICalEvent objects; nothing is ever added to it (events only read its zone, which is unset).
const scratch = ical();

/** What ical-generator is given for one event, and the zone and instants it is written with. */
export interface EventData {
  data: ICalEventData;
  tzid: string | null;
  startMs: number;
  endMs: number;
}

/**
 * The ical-generator data of one event: times in its zone (UTC when the zone is UTC, unknown, or
 * cannot express the instant), TEXT without control characters, URL percent-encoded. Throws a
 * RangeError for an empty uid, an unparseable instant or end <= start.
 */
export function toEventData(event: CalendarEvent): EventData {
  const { startMs, endMs } = withInstants(event);
  const zone = displayZone(event.timezone, startMs, endMs);
  // UTC values go in as Dates: ical-generator formats a Date in UTC with a few getters, but a
  // luxon value through setZone and two toFormat calls each (a third of one event's render).
  const stamp = new Date(instantMillis(event.stamp, 'stamp', event.uid));
  const data: ICalEventData = {
    // UID is TEXT too, and ical-generator writes it unescaped.
    id: escape(event.uid, false),
    sequence: event.sequence,
    stamp,
    lastModified: stamp,
    created: new Date(instantMillis(event.created, 'created', event.uid)),
    // Luxon values are formatted in the event's zone; a JS Date would be written in the
    // server's local time under a TZID.
    start: zone?.start ?? new Date(startMs),
    end: zone?.end ?? new Date(endMs),
    timezone: zone?.tzid ?? null,
    // RFC 5545 3.3.11 forbids control characters in TEXT, whatever the event was built from.
    summary: toPrintableText(event.summary, 'line'),
    location: event.location === null ? null : toPrintableText(event.location, 'multiline'),
    description: event.description === null ? null : toPrintableText(event.description, 'multiline'),
    url: event.url === null ? null : toUriValue(event.url),
    status: toStatus(event.status),
    transparency: ICalEventTransparency.OPAQUE,
  };
  return { data, tzid: zone?.tzid ?? null, startMs, endMs };
}

/**
 * Renders one event. Throws a RangeError for an empty uid, an unparseable instant or
 * end <= start.
 */
export function renderEvent(event: CalendarEvent): EventFragment {
  const { data, tzid, startMs, endMs } = toEventData(event);
  const vevent = new ICalEvent(data, scratch);
  // Folding works line by line, so folding one event's lines equals folding the whole calendar.
  const bytes = Buffer.from(foldLines(vevent.toString()), 'utf8');
  return {
    source: bytes,
    offset: 0,
    length: bytes.length,
    digest: hash('sha256', bytes, 'buffer'),
    uid: event.uid,
    revision: event.revision,
    startMs,
    endMs,
    tzid,
  };
}

/**
 * One VCALENDAR from rendered events: events sorted by start then uid, with one VTIMEZONE per
 * TZID used, covering the span of the event instants written under it; calendar properties
 * first (RFC 5545 3.6), CRLF line ends, lines folded at 75 octets, ending with END:VCALENDAR CRLF.
 * The same bytes, whatever order the fragments come in, as ical-generator building the whole
 * calendar at once (test/support/reference-renderer.ts).
 */
export function assembleCalendar(
  meta: CalendarMeta,
  fragments: readonly EventFragment[],
  options: RenderCalendarOptions = {},
): AssembledCalendar {
  const sorted = sortFragments(fragments);
  // VTIMEZONEs in the order their TZIDs first appear, as ical-generator writes them.
  const zones = new Map<string, { from: number; to: number }>();
  // Indexed loops: these run over every event of every render, and for-of with destructuring
  // left garbage per event here.
  for (let i = 0; i < sorted.length; i++) {
    const { tzid, startMs, endMs } = sorted[i] as EventFragment;
    if (tzid === null) continue;
    const zone = zones.get(tzid);
    if (zone === undefined) zones.set(tzid, { from: startMs, to: endMs });
    else {
      if (startMs < zone.from) zone.from = startMs;
      if (endMs > zone.to) zone.to = endMs;
    }
  }
  const head = calendarHeadWithZones(meta, options, zones);
  let offset = head.length;
  const out: Buffer[] = [head];
  const spans: BodySpan[] = new Array<BodySpan>(sorted.length + 2);
  spans[0] = { source: head, offset: 0, length: head.length, digest: null };
  // Fragments that sit side by side in one buffer (a cached body's unchanged events, in order)
  // go out as one view of it: after a change to one event, a handful of parts, not thousands.
  let runSource: Buffer | null = null;
  let runStart = 0;
  let runEnd = 0;
  for (let i = 0; i < sorted.length; i++) {
    const fragment = sorted[i] as EventFragment;
    const { source, offset: from, length, digest } = fragment;
    if (digest.length !== DIGEST_BYTES) throw new RangeError('An event fragment needs a SHA-256 digest.');
    spans[i + 1] = fragment;
    offset += length;
    if (runSource === source && runEnd === from) {
      runEnd += length;
    } else {
      if (runSource !== null) out.push(runSource.subarray(runStart, runEnd));
      runSource = source;
      runStart = from;
      runEnd = from + length;
    }
  }
  if (runSource !== null) out.push(runSource.subarray(runStart, runEnd));
  out.push(CALENDAR_END);
  spans[sorted.length + 1] = END_SPAN;
  const chunks = bodyChunks(spans);
  return { parts: out, length: offset + CALENDAR_END.length, head, sorted, spans, chunks, etag: chunksEtag(chunks) };
}

/** The parts as one buffer (a copy, unless there is one part). */
export function joinParts(parts: readonly Buffer[], length?: number): Buffer {
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, length);
}

/**
 * Renders one VCALENDAR (see assembleCalendar) from events. Throws a RangeError for an event
 * with an empty uid, an unparseable instant or end <= start.
 */
export function renderCalendar(
  meta: CalendarMeta,
  events: readonly CalendarEvent[],
  options: RenderCalendarOptions = {},
): string {
  const { parts, length } = assembleCalendar(meta, events.map(renderEvent), options);
  return joinParts(parts, length).toString('utf8');
}

/** The last line of every calendar. */
export const CALENDAR_END = Buffer.from('END:VCALENDAR\r\n');
const END_SPAN: BodySpan = { source: CALENDAR_END, offset: 0, length: CALENDAR_END.length, digest: null };
const DIGEST_BYTES = 32;

/**
 * Every calendar property line, up to the first component: ical-generator's rendering of the
 * calendar without events, whose REFRESH-INTERVAL and X-PUBLISHED-TTL then already precede every
 * component (with events it writes them after the VTIMEZONEs, where RFC 5545 3.6 forbids them).
 */
const heads = new Map<string, Buffer>();
const MAX_HEADS = 10_000;

function calendarHead(meta: CalendarMeta, options: RenderCalendarOptions): { key: string; head: Buffer } {
  const key = JSON.stringify([meta.name, meta.productId, meta.refreshIntervalSeconds, options.method ?? null]);
  let head = heads.get(key);
  if (head === undefined) {
    head = renderHead(meta, options);
    if (heads.size >= MAX_HEADS) heads.clear();
    heads.set(key, head);
  }
  return { key, head };
}

// The head with its VTIMEZONEs, by head and the UTC years each zone spans (a VTIMEZONE covers
// whole years, see vtimezone.ts): the same Buffer from render to render of a feed while its years
// hold, so its chunk is found again (body-chunks.ts) and not hashed.
const headsWithZones = new Map<string, Buffer>();

/** The calendar's head (its properties) and a VTIMEZONE per zone, zones in the order given. */
export function calendarHeadWithZones(meta: CalendarMeta, options: RenderCalendarOptions, zones: ReadonlyMap<string, { from: number; to: number }>): Buffer {
  const { key, head } = calendarHead(meta, options);
  if (zones.size === 0) return head;
  let zonesKey = key;
  for (const [tzid, span] of zones) zonesKey += `|${tzid} ${new Date(span.from).getUTCFullYear()} ${new Date(span.to).getUTCFullYear()}`;
  let bytes = headsWithZones.get(zonesKey);
  if (bytes === undefined) {
    const parts = [head];
    for (const [tzid, span] of zones) parts.push(vtimezoneBytes(tzid, span.from, span.to));
    bytes = Buffer.concat(parts);
    if (headsWithZones.size >= MAX_HEADS) headsWithZones.clear();
    headsWithZones.set(zonesKey, bytes);
  }
  return bytes;
}

/** ical-generator's calendar properties for a feed or invite file (no events, no zones). */
export function calendarProperties(meta: CalendarMeta, options: RenderCalendarOptions): ICalCalendarData {
  return {
    // PRODID, NAME and X-WR-CALNAME are TEXT values, but ical-generator writes them unescaped.
    prodId: { company: 'sessionsync', product: escape(toPrintableText(meta.productId, 'line'), false), language: 'EN' },
    name: escape(toPrintableText(meta.name, 'line'), false),
    scale: 'GREGORIAN',
    ttl: meta.refreshIntervalSeconds,
    method: options.method === 'PUBLISH' ? ICalCalendarMethod.PUBLISH : null,
    // No calendar-level zone name: with one, ical-generator writes TIMEZONE-ID/X-WR-TIMEZONE.
    timezone: { name: null },
  };
}

function renderHead(meta: CalendarMeta, options: RenderCalendarOptions): Buffer {
  const text = ical(calendarProperties(meta, options)).toString();
  if (!text.endsWith('END:VCALENDAR')) throw new Error('ical-generator wrote an unexpected calendar ending.');
  return Buffer.from(text.slice(0, -'END:VCALENDAR'.length), 'utf8');
}

const vtimezones = new Map<string, Buffer>();
const MAX_VTIMEZONES = 2000;

/** A VTIMEZONE block as ical-generator inserts a generator's output: CRLF lines, trimmed, folded. */
function vtimezoneBytes(tzid: string, fromMs: number, toMs: number): Buffer {
  const text = buildVtimezone(tzid, fromMs, toMs);
  let bytes = vtimezones.get(text);
  if (bytes === undefined) {
    bytes = Buffer.from(foldLines(`${text.replace(/\r\n/g, '\n').replace(/\n/g, '\r\n').trim()}\r\n`), 'utf8');
    if (vtimezones.size >= MAX_VTIMEZONES) vtimezones.clear();
    vtimezones.set(text, bytes);
  }
  return bytes;
}

function withInstants(event: CalendarEvent): { startMs: number; endMs: number } {
  // ical-generator would invent a random UID for an empty one.
  if (event.uid === '') throw new RangeError('A calendar event needs a uid.');
  const startMs = instantMillis(event.start, 'start', event.uid);
  const endMs = instantMillis(event.end, 'end', event.uid);
  if (endMs <= startMs) throw new RangeError(`Event ${event.uid} must end after it starts.`);
  return { startMs, endMs };
}

/**
 * The fragments sorted by start, then uid, with end and revision as tie-breakers so input order
 * never shows (equal keys mean equal bytes).
 */
export function sortFragments(fragments: readonly EventFragment[]): EventFragment[] {
  return [...fragments].sort(compareFragments);
}

export function compareFragments(a: EventFragment, b: EventFragment): number {
  if (a.startMs !== b.startMs) return a.startMs < b.startMs ? -1 : 1;
  // Code-unit order, not localeCompare: the order must not depend on the server's locale.
  if (a.uid !== b.uid) return a.uid < b.uid ? -1 : 1;
  if (a.endMs !== b.endMs) return a.endMs < b.endMs ? -1 : 1;
  if (a.revision !== b.revision) return a.revision < b.revision ? -1 : 1;
  return 0;
}

/** What Date#toISOString writes, which is how the store keeps every instant. */
const CANONICAL_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** An ISO instant as epoch milliseconds; throws a RangeError naming the field for any other text. */
function instantMillis(iso: string, field: string, uid: string): number {
  // The store's own form is read with Date.parse, far cheaper than luxon's ISO parser; only if
  // writing it back gives the same text: Date.parse rolls 30 February over into March.
  if (CANONICAL_INSTANT.test(iso)) {
    const ms = Date.parse(iso);
    if (!Number.isNaN(ms) && new Date(ms).toISOString() === iso) return ms;
  }
  // Any other ISO form; one without an offset is read as UTC, never as server time.
  const value = DateTime.fromISO(iso, { zone: 'utc' });
  if (!value.isValid) throw new RangeError(`Event ${uid} has an invalid ${field}: ${iso}`);
  return value.toMillis();
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

/** The zone to write an event's times in, with the times in it, or null to write them in UTC. */
function displayZone(timezone: string, startMs: number, endMs: number): (DisplayZone & { start: DateTime; end: DateTime }) | null {
  const zone = resolveZone(timezone);
  if (zone === null) return null;
  // Both times must mean the same instants to every reader, else the whole event is written in
  // UTC (mixing UTC and TZID forms in one event is legal but less widely handled).
  const luxonZone = cachedZone(zone.tzid);
  const start = DateTime.fromMillis(startMs, { zone: luxonZone });
  const end = DateTime.fromMillis(endMs, { zone: luxonZone });
  return isExpressibleInZone(start) && isExpressibleInZone(end) ? { tzid: zone.tzid, start, end } : null;
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
  // The zone's offset alone: a DateTime per probe cost as much as the rest of the event.
  const offsetAt = (ms: number): number => local.zone.offset(ms);
  // The same wall time under the offset in force a day before (after): if that instant really
  // had that offset, the wall time also occurred then.
  const before = offsetAt(millis - DAY_MS);
  if (before > local.offset && offsetAt(millis - (before - local.offset) * MINUTE_MS) === before) return false;
  const after = offsetAt(millis + DAY_MS);
  if (after < local.offset && offsetAt(millis + (local.offset - after) * MINUTE_MS) === after) return false;
  return true;
}
