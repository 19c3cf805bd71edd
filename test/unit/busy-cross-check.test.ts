import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import ICAL from 'ical.js';
import { DateTime } from 'luxon';
import { busyFromIcs } from '../../busy/ics-busy.js';
import { mergeIntervals, type BusyInterval } from '../../src/domain/index.js';

// The busy intervals of every fixture, cross-checked with a second implementation: ical.js reads
// the same files (its own parser, the files' VTIMEZONEs, its own recurrence expansion with
// EXDATE and RECURRENCE-ID), and the same blocking rules are applied to what it finds. The two
// must give the same merged intervals over a whole year, both DST changes included.

const FIXTURES = new URL('../fixtures/busy/', import.meta.url);
const OWN = '@sessionsync.example';
const ZONE = 'America/New_York';

function text(component: ICAL.Component, name: string): string | null {
  const value = component.getFirstPropertyValue(name);
  return typeof value === 'string' ? value : null;
}

/** The blocking rules busyFromIcs documents, applied to an ical.js component. */
function blocks(component: ICAL.Component, owner: string | null): boolean {
  if ((text(component, 'uid') ?? '').endsWith(OWN)) return false;
  if ((text(component, 'status') ?? '').toUpperCase() === 'CANCELLED') return false;
  const busyStatus = text(component, 'x-microsoft-cdo-busystatus');
  if (busyStatus !== null ? busyStatus.toUpperCase() === 'FREE' : (text(component, 'transp') ?? '').toUpperCase() === 'TRANSPARENT') return false;
  if (owner !== null) {
    const mine = component.getAllProperties('attendee').filter((a) => String(a.getFirstValue()).toLowerCase() === `mailto:${owner}`);
    if (mine.length > 0 && mine.every((a) => String(a.getParameter('partstat')).toUpperCase() === 'DECLINED')) return false;
  }
  return true;
}

/** An ical.js time as epoch ms: DATE values and floating times in the provider's zone. */
function toMs(time: ICAL.Time): number {
  // ical.js gives a floating time the local zone (or none).
  const floating = time.isDate || time.zone === undefined || time.zone === ICAL.Timezone.localTimezone;
  if (!floating) return time.toUnixTime() * 1000;
  return DateTime.fromObject({ year: time.year, month: time.month, day: time.day, hour: time.isDate ? 0 : time.hour, minute: time.isDate ? 0 : time.minute, second: time.isDate ? 0 : time.second }, { zone: ZONE }).toMillis();
}

function referenceBusy(ics: string, from: number, to: number): BusyInterval[] {
  const root = new ICAL.Component(ICAL.parse(ics));
  for (const zone of root.getAllSubcomponents('vtimezone')) ICAL.TimezoneService.register(zone);
  const calName = text(root, 'x-wr-calname');
  const owner = calName !== null && calName.includes('@') ? calName.toLowerCase() : null;
  const events = root.getAllSubcomponents('vevent');
  const masters = events.filter((e) => !e.hasProperty('recurrence-id'));
  const out: BusyInterval[] = [];
  const add = (start: number, end: number) => {
    const s = Math.max(start, from);
    const e = Math.min(end, to);
    if (e > s) out.push({ start: new Date(s).toISOString(), end: new Date(e).toISOString() });
  };
  for (const master of masters) {
    const event = new ICAL.Event(master);
    for (const exception of events) if (exception.hasProperty('recurrence-id') && text(exception, 'uid') === event.uid) event.relateException(exception);
    if (!event.isRecurring()) {
      if (blocks(master, owner)) add(toMs(event.startDate), toMs(event.endDate));
      continue;
    }
    const iterator = event.iterator();
    for (let next = iterator.next(), n = 0; next !== undefined && next !== null && n < 5000; next = iterator.next(), n++) {
      const details = event.getOccurrenceDetails(next);
      const start = toMs(details.startDate);
      if (start >= to) break;
      if (blocks(details.item.component, owner)) add(start, toMs(details.endDate));
    }
  }
  return mergeIntervals(out);
}

describe('busyFromIcs against ical.js', () => {
  const from = Date.parse('2026-01-01T00:00:00Z');
  const to = Date.parse('2027-01-01T00:00:00Z');
  for (const name of ['google-export.ics', 'outlook-export.ics', 'icloud.ics', 'fastmail.ics', 'own-events.ics']) {
    it(`when ${name} is read for 2026, then both give the same merged busy intervals`, async () => {
      const ics = readFileSync(new URL(name, FIXTURES), 'utf8');
      const ours = await busyFromIcs(ics, { from: new Date(from), to: new Date(to), providerZone: ZONE, ownUidSuffix: OWN });
      const reference = referenceBusy(ics, from, to);
      assert.ok(reference.length > 0 || name === 'own-events.ics', 'the reference found busy time');
      assert.deepEqual(ours.intervals, reference);
    });
  }
});
