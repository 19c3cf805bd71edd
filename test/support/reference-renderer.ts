// The straightforward build of a calendar with ical-generator: every event added to one calendar,
// then toString(). feeds/ics-renderer.ts rendered feeds this way before it rendered events one at
// a time and assembled the calendar from cached fragments. Kept as the reference that the
// assembled bytes must equal (test/unit/calendar-assembly.test.ts, incremental-feed.test.ts), and
// as the baseline that npm run bench compares a cold render with. Both share toEventData (zones,
// escapes, instants): what differs is who writes the calendar around the events.
import ical from 'ical-generator';
import { calendarProperties, toEventData, type RenderCalendarOptions } from '../../feeds/ics-renderer.js';
import { buildVtimezone } from '../../feeds/vtimezone.js';
import type { CalendarEvent, CalendarMeta } from '../../src/domain/index.js';

export function renderCalendarReference(meta: CalendarMeta, events: readonly CalendarEvent[], options: RenderCalendarOptions = {}): string {
  const vtimezones = new Map<string, string>();
  const spans = new Map<string, { from: number; to: number }>();
  // The same calendar properties; ical-generator writes the VTIMEZONEs the events use.
  const calendar = ical({ ...calendarProperties(meta, options), timezone: { name: null, generator: (tzid) => vtimezones.get(tzid) ?? null } });
  const sorted = events
    .map((event) => ({ event, ...toEventData(event) }))
    .sort((a, b) => a.startMs - b.startMs || compare(a.event.uid, b.event.uid) || a.endMs - b.endMs || compare(a.event.revision, b.event.revision));
  for (const { data, tzid, startMs, endMs } of sorted) {
    if (tzid !== null) {
      const span = spans.get(tzid);
      spans.set(tzid, { from: Math.min(span?.from ?? Infinity, startMs), to: Math.max(span?.to ?? -Infinity, endMs) });
    }
    calendar.createEvent(data);
  }
  for (const [tzid, span] of spans) vtimezones.set(tzid, buildVtimezone(tzid, span.from, span.to));
  return `${hoistCalendarProperties(calendar.toString())}\r\n`;
}

function compare(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1;
}

/**
 * RFC 5545 3.6 puts every calendar property before the first component, but ical-generator
 * writes REFRESH-INTERVAL and X-PUBLISHED-TTL after the VTIMEZONE blocks: moves such top-level
 * lines (with their folded continuations) up, in order.
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
