import assert from 'node:assert/strict';
import ICAL from 'ical.js';
import nodeIcal, { type VEvent } from 'node-ical';

export interface ParsedEvent {
  uid: string;
  sequence: number;
  summary: string;
  location: string | null;
  description: string | null;
  url: string | null;
  start: string;
  end: string;
}

function viaIcalJs(body: string): ParsedEvent[] {
  const calendar = new ICAL.Component(ICAL.parse(body));
  for (const tz of calendar.getAllSubcomponents('vtimezone')) {
    const timezone = new ICAL.Timezone(tz);
    if (!ICAL.TimezoneService.has(timezone.tzid)) ICAL.TimezoneService.register(timezone);
  }
  return calendar.getAllSubcomponents('vevent').map((vevent) => {
    const event = new ICAL.Event(vevent);
    const url = vevent.getFirstPropertyValue('url');
    return {
      uid: event.uid,
      sequence: event.sequence,
      summary: event.summary,
      location: event.location ?? null,
      description: event.description ?? null,
      url: url === null ? null : String(url),
      start: event.startDate.toJSDate().toISOString(),
      end: event.endDate.toJSDate().toISOString(),
    };
  });
}

function viaNodeIcal(body: string): ParsedEvent[] {
  const parsed = nodeIcal.sync.parseICS(body);
  return Object.values(parsed)
    .filter((c): c is VEvent => c?.type === 'VEVENT')
    .map((e) => {
      const text = (v: unknown): string | null => (v === undefined ? null : typeof v === 'string' ? v : String((v as { val?: unknown }).val));
      return {
        uid: e.uid,
        sequence: Number(e.sequence ?? 0),
        summary: text(e.summary) ?? '',
        location: text(e.location),
        description: text(e.description),
        url: text(e.url),
        start: e.start.toISOString(),
        end: (e.end ?? e.start).toISOString(),
      };
    });
}

/** Parses with ical.js and node-ical, asserts both read the same events, returns them by start. */
export function parseFeed(body: string): ParsedEvent[] {
  const sort = (events: ParsedEvent[]) => [...events].sort((a, b) => a.start.localeCompare(b.start) || a.uid.localeCompare(b.uid));
  const a = sort(viaIcalJs(body));
  const b = sort(viaNodeIcal(body));
  assert.deepEqual(b, a, 'node-ical and ical.js disagree about the feed');
  return a;
}
