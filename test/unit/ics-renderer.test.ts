import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ICAL from 'ical.js';
import nodeIcal from 'node-ical';
import { renderCalendar } from '../../feeds/index.js';
import { toCalendarEvent } from '../../src/domain/calendar-event.js';
import { aProvider, aSession, aVirtualLocation, testJoinLinks } from '../support/builders.js';
import { supportedTimeZones } from '../../src/domain/index.js';
import type { CalendarEvent } from '../../src/domain/index.js';
import {
  aCalendarEvent,
  allCalendarEvents,
  calendarMeta,
  cancelledEvent,
  fallBackEvent,
  londonEvent,
  officeEvent,
  repeatedHourEvent,
  springForwardEvent,
  telehealthUrl,
  utcEvent,
  virtualEvent,
} from '../fixtures/calendar-events.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const renderFixtureScript = fileURLToPath(new URL('../support/render-fixture.ts', import.meta.url));

/** Fixtures whose times must come out in UTC (zone UTC, or a wall time that occurs twice). */
const writtenInUtc = new Set([utcEvent.uid, repeatedHourEvent.uid]);

function renderFixtures(options?: { method?: 'PUBLISH' }): string {
  return renderCalendar(calendarMeta, allCalendarEvents, options);
}

/** Golden files are compared byte for byte; UPDATE_GOLDEN=1 rewrites them. */
function assertMatchesGolden(name: string, actual: string): void {
  const path = fileURLToPath(new URL(`../fixtures/feeds/${name}`, import.meta.url));
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, actual, 'utf8');
  const expected = readFileSync(path);
  assert.equal(actual, expected.toString('utf8'), `${name} differs from the golden file`);
  assert.ok(Buffer.from(actual, 'utf8').equals(expected), `${name} differs from the golden file in bytes`);
}

/** RFC 5545 3.1 unfolding: drop every CRLF followed by one space or tab. */
function contentLines(ics: string): string[] {
  return ics
    .replace(/\r\n[ \t]/g, '')
    .split('\r\n')
    .filter((line) => line !== '');
}

/** Content lines of each VEVENT, keyed by UID. */
function eventBlocks(ics: string): Map<string, string[]> {
  const blocks = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of contentLines(ics)) {
    if (line === 'BEGIN:VEVENT') current = [];
    else if (line === 'END:VEVENT' && current !== null) {
      const uid = current.find((l) => l.startsWith('UID:'))?.slice('UID:'.length);
      assert.ok(uid, 'every VEVENT has a UID');
      blocks.set(uid, current);
      current = null;
    } else current?.push(line);
  }
  return blocks;
}

function eventLines(ics: string, uid: string): string[] {
  const block = eventBlocks(ics).get(uid);
  assert.ok(block, `no VEVENT with UID ${uid}`);
  return block;
}

/** Lines of a property, whatever its parameters. */
function property(lines: readonly string[], name: string): string[] {
  return lines.filter((line) => line.startsWith(`${name}:`) || line.startsWith(`${name};`));
}

/** "2026-11-10T15:00:00.000Z" -> "20261110T150000Z". */
function basicUtc(iso: string): string {
  return iso.replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** The link is the same one: exact when it had nothing to encode, else the same URL components. */
function assertSameLink(actual: unknown, expected: string): void {
  assert.equal(typeof actual, 'string');
  const link = String(actual);
  assert.ok(!link.includes('\\'), `URL must not be backslash-escaped: ${link}`);
  if (!/[,;\\]/.test(expected)) {
    assert.equal(link, expected);
    return;
  }
  const a = new URL(link);
  const e = new URL(expected);
  assert.equal(a.origin, e.origin);
  assert.equal(a.pathname, e.pathname);
  assert.deepEqual([...a.searchParams], [...e.searchParams]);
  assert.equal(a.hash, e.hash);
}

/** node-ical gives a bare value or { val, params } for a property with parameters. */
function valueOf(v: unknown): unknown {
  return typeof v === 'object' && v !== null && 'val' in v ? v.val : v;
}

function withRegisteredTimezones<T>(calendar: ICAL.Component, fn: () => T): T {
  for (const vtimezone of calendar.getAllSubcomponents('vtimezone')) ICAL.TimezoneService.register(vtimezone);
  try {
    return fn();
  } finally {
    ICAL.TimezoneService.reset();
  }
}

describe('renderCalendar', () => {
  describe('golden files', () => {
    it('when the fixture events are rendered, then the output equals all-events.ics byte for byte', () => {
      assertMatchesGolden('all-events.ics', renderFixtures());
    });

    it('when METHOD:PUBLISH is asked for, then the output equals publish-office-event.ics byte for byte', () => {
      assertMatchesGolden('publish-office-event.ics', renderCalendar(calendarMeta, [officeEvent], { method: 'PUBLISH' }));
    });

    it('when there are no events, then the output equals empty.ics byte for byte', () => {
      assertMatchesGolden('empty.ics', renderCalendar(calendarMeta, []));
    });

    // The fixtures above are CalendarEvents, so joinLink cannot change them; this one goes through
    // toCalendarEvent for a provider on 'stable' (the fixed test key): the /j/ link, never the room.
    it('when a virtual session of a provider on stable join links is rendered, then the output equals stable-join-link.ics byte for byte', () => {
      const event = toCalendarEvent(aSession({ providerId: 'prov-1' }), aProvider({ joinLink: 'stable' }), aVirtualLocation(), testJoinLinks);
      const ics = renderCalendar(calendarMeta, [event]);
      assertMatchesGolden('stable-join-link.ics', ics);
      assert.ok(!ics.includes(aVirtualLocation().url));
    });
  });

  describe('calendar properties', () => {
    it('when rendered, then VERSION, PRODID, CALSCALE, NAME, X-WR-CALNAME and the refresh interval come first', () => {
      const lines = contentLines(renderFixtures());
      const firstComponent = lines.findIndex((line, i) => i > 0 && line.startsWith('BEGIN:'));
      assert.deepEqual(lines.slice(0, firstComponent), [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//sessionsync//sessionsync//EN',
        'CALSCALE:GREGORIAN',
        'NAME:Dr. Ada Byron\\, PhD\\; sessions',
        'X-WR-CALNAME:Dr. Ada Byron\\, PhD\\; sessions',
        'REFRESH-INTERVAL;VALUE=DURATION:PT1H',
        'X-PUBLISHED-TTL:PT1H',
      ]);
    });

    it('when rendered, then no calendar property follows a component (RFC 5545 3.6)', () => {
      let depth = 0;
      let componentSeen = false;
      for (const line of contentLines(renderFixtures())) {
        if (line.startsWith('BEGIN:')) {
          depth += 1;
          if (depth === 2) componentSeen = true;
        } else if (line.startsWith('END:')) depth -= 1;
        else if (depth === 1) assert.ok(!componentSeen, `calendar property after a component: ${line}`);
      }
    });

    it('when the refresh interval is 90 minutes, then it is written as PT1H30M', () => {
      const lines = contentLines(renderCalendar({ ...calendarMeta, refreshIntervalSeconds: 5400 }, []));
      assert.ok(lines.includes('REFRESH-INTERVAL;VALUE=DURATION:PT1H30M'));
      assert.ok(lines.includes('X-PUBLISHED-TTL:PT1H30M'));
    });

    it('when the calendar name holds a line break, then it stays one line of TEXT', () => {
      const lines = contentLines(renderCalendar({ ...calendarMeta, name: 'Ada\nMETHOD:CANCEL' }, []));
      assert.ok(lines.includes('NAME:Ada METHOD:CANCEL'));
      assert.equal(property(lines, 'METHOD').length, 0);
    });

    it('when no method is given, then METHOD is absent', () => {
      assert.equal(property(contentLines(renderFixtures()), 'METHOD').length, 0);
    });

    it('when METHOD:PUBLISH is asked for, then METHOD:PUBLISH is written once', () => {
      assert.deepEqual(property(contentLines(renderFixtures({ method: 'PUBLISH' })), 'METHOD'), ['METHOD:PUBLISH']);
    });

    it('when rendered, then there is no TIMEZONE-ID, X-WR-TIMEZONE, ATTENDEE, ORGANIZER or VALARM', () => {
      const lines = contentLines(renderFixtures());
      for (const name of ['TIMEZONE-ID', 'X-WR-TIMEZONE', 'ATTENDEE', 'ORGANIZER']) {
        assert.deepEqual(property(lines, name), [], `${name} must not be written`);
      }
      assert.ok(!lines.includes('BEGIN:VALARM'));
    });
  });

  describe('events', () => {
    it('when rendered, then each event has its UID, SEQUENCE, SUMMARY, STATUS, TRANSP:OPAQUE and optional properties', () => {
      const blocks = eventBlocks(renderFixtures());
      assert.equal(blocks.size, allCalendarEvents.length);
      for (const event of allCalendarEvents) {
        const lines = blocks.get(event.uid);
        assert.ok(lines, event.uid);
        assert.deepEqual(property(lines, 'SEQUENCE'), [`SEQUENCE:${event.sequence}`]);
        assert.equal(property(lines, 'SUMMARY').length, 1);
        assert.deepEqual(property(lines, 'STATUS'), [`STATUS:${event.status.toUpperCase()}`]);
        assert.deepEqual(property(lines, 'TRANSP'), ['TRANSP:OPAQUE']);
        assert.equal(property(lines, 'LOCATION').length, event.location === null ? 0 : 1, event.uid);
        assert.equal(property(lines, 'DESCRIPTION').length, event.description === null ? 0 : 1, event.uid);
        assert.equal(property(lines, 'URL').length, event.url === null ? 0 : 1, event.uid);
      }
    });

    it('when rendered, then every DTSTAMP, LAST-MODIFIED and CREATED is a UTC time', () => {
      const lines = contentLines(renderFixtures());
      const stamps = [...property(lines, 'DTSTAMP'), ...property(lines, 'LAST-MODIFIED'), ...property(lines, 'CREATED')];
      assert.ok(stamps.length >= 3 * allCalendarEvents.length);
      for (const line of stamps) assert.match(line, /^[A-Z-]+:\d{8}T\d{6}Z$/);
    });

    it('when rendered, then DTSTAMP and LAST-MODIFIED are the stamp and CREATED is the creation time', () => {
      const blocks = eventBlocks(renderFixtures());
      for (const event of allCalendarEvents) {
        const lines = blocks.get(event.uid) ?? [];
        assert.deepEqual(property(lines, 'DTSTAMP'), [`DTSTAMP:${basicUtc(event.stamp)}`]);
        assert.deepEqual(property(lines, 'LAST-MODIFIED'), [`LAST-MODIFIED:${basicUtc(event.stamp)}`]);
        assert.deepEqual(property(lines, 'CREATED'), [`CREATED:${basicUtc(event.created)}`]);
      }
    });

    it('when the URL query holds "," and ";", then URL is percent-encoded and has no backslash', () => {
      const ics = renderFixtures();
      assert.deepEqual(property(eventLines(ics, virtualEvent.uid), 'URL'), [
        'URL;VALUE=URI:https://telehealth.example.com/join/8675309?pwd=a1%2Cb2%3Bc3&lang=de',
      ]);
      for (const line of property(contentLines(ics), 'URL')) assert.ok(!line.includes('\\'), line);
    });

    it('when LOCATION and DESCRIPTION hold "," ";" and line breaks, then they are TEXT-escaped', () => {
      const lines = eventLines(renderFixtures(), virtualEvent.uid);
      assert.deepEqual(property(lines, 'LOCATION'), [
        'LOCATION:https://telehealth.example.com/join/8675309?pwd=a1\\,b2\\;c3&lang=de',
      ]);
      const [description] = property(lines, 'DESCRIPTION');
      assert.ok(description?.startsWith('DESCRIPTION:Join from a quiet\\, private room\\; the waiting room is on.\\nÜber'));
    });

    it('when a session is cancelled, then it is written with STATUS:CANCELLED', () => {
      assert.deepEqual(property(eventLines(renderFixtures(), cancelledEvent.uid), 'STATUS'), ['STATUS:CANCELLED']);
    });
  });

  describe('time zones', () => {
    it('when events are in New York and London, then DTSTART/DTEND carry the local wall time with a TZID', () => {
      const ics = renderFixtures();
      const expected: [CalendarEvent, string, string][] = [
        [virtualEvent, 'America/New_York:20261110T100000', 'America/New_York:20261110T105000'],
        [officeEvent, 'America/New_York:20261112T090000', 'America/New_York:20261112T095000'],
        [londonEvent, 'Europe/London:20261020T100000', 'Europe/London:20261020T105000'],
      ];
      for (const [event, start, end] of expected) {
        const lines = eventLines(ics, event.uid);
        assert.deepEqual(property(lines, 'DTSTART'), [`DTSTART;TZID=${start}`], event.uid);
        assert.deepEqual(property(lines, 'DTEND'), [`DTEND;TZID=${end}`], event.uid);
      }
    });

    it('when a session straddles the fall-back change, then the wall times are 00:30 EDT and 02:00 EST', () => {
      const lines = eventLines(renderFixtures(), fallBackEvent.uid);
      assert.deepEqual(property(lines, 'DTSTART'), ['DTSTART;TZID=America/New_York:20261101T003000']);
      assert.deepEqual(property(lines, 'DTEND'), ['DTEND;TZID=America/New_York:20261101T020000']);
    });

    it('when a session straddles the spring-forward change, then the wall times are 01:30 EST and 03:30 EDT', () => {
      const lines = eventLines(renderFixtures(), springForwardEvent.uid);
      assert.deepEqual(property(lines, 'DTSTART'), ['DTSTART;TZID=America/New_York:20270314T013000']);
      assert.deepEqual(property(lines, 'DTEND'), ['DTEND;TZID=America/New_York:20270314T033000']);
    });

    it('when a time falls in the hour that occurs twice, then the whole event is written in UTC', () => {
      const cases: [string, string][] = [
        // 01:30 EDT -> 01:30 EST: the end is the second 01:30.
        ['2026-11-01T05:30:00.000Z', '2026-11-01T06:30:00.000Z'],
        // 01:10 EDT -> 01:50 EDT: both are first occurrences, but readers disagree on them.
        ['2026-11-01T05:10:00.000Z', '2026-11-01T05:50:00.000Z'],
        // 01:10 EST -> 02:00 EST: the start is the second 01:10.
        ['2026-11-01T06:10:00.000Z', '2026-11-01T07:00:00.000Z'],
      ];
      for (const [start, end] of cases) {
        const event = aCalendarEvent({ start, end });
        const ics = renderCalendar(calendarMeta, [event]);
        const lines = eventLines(ics, event.uid);
        assert.deepEqual(property(lines, 'DTSTART'), [`DTSTART:${basicUtc(start)}`], start);
        assert.deepEqual(property(lines, 'DTEND'), [`DTEND:${basicUtc(end)}`], start);
        assert.ok(!ics.includes('BEGIN:VTIMEZONE'), 'an unused VTIMEZONE is left out');
      }
    });

    it('when the times are just outside the repeated hour, then they keep their TZID', () => {
      // 00:59 EDT -> 02:00 EST: neither wall time occurs twice.
      const event = aCalendarEvent({ start: '2026-11-01T04:59:00.000Z', end: '2026-11-01T07:00:00.000Z' });
      const lines = eventLines(renderCalendar(calendarMeta, [event]), event.uid);
      assert.deepEqual(property(lines, 'DTSTART'), ['DTSTART;TZID=America/New_York:20261101T005900']);
      assert.deepEqual(property(lines, 'DTEND'), ['DTEND;TZID=America/New_York:20261101T020000']);
    });

    it('when the zone is UTC or Etc/UTC, then times end in Z and there is no TZID or VTIMEZONE', () => {
      for (const timezone of ['UTC', 'Etc/UTC']) {
        const event = aCalendarEvent({ timezone, start: utcEvent.start, end: utcEvent.end });
        const ics = renderCalendar(calendarMeta, [event]);
        const lines = eventLines(ics, event.uid);
        assert.deepEqual(property(lines, 'DTSTART'), ['DTSTART:20261118T120000Z'], timezone);
        assert.deepEqual(property(lines, 'DTEND'), ['DTEND:20261118T125000Z'], timezone);
        assert.ok(!ics.includes('TZID'), timezone);
      }
    });

    it('when the zone is an alias, then its canonical name is the TZID and the VTIMEZONE', () => {
      const event = aCalendarEvent({ timezone: 'US/Eastern' });
      const ics = renderCalendar(calendarMeta, [event]);
      assert.deepEqual(property(eventLines(ics, event.uid), 'DTSTART'), ['DTSTART;TZID=America/New_York:20261110T100000']);
      assert.ok(contentLines(ics).includes('TZID:America/New_York'));
    });

    it('when the zone is unknown, then the event is written in UTC', () => {
      const event = aCalendarEvent({ timezone: 'Mars/Olympus_Mons' });
      const ics = renderCalendar(calendarMeta, [event]);
      assert.deepEqual(property(eventLines(ics, event.uid), 'DTSTART'), ['DTSTART:20261110T150000Z']);
      assert.ok(!ics.includes('TZID'));
    });

    it('when a TZID is used, then exactly one VTIMEZONE with that TZID is in the calendar, and no other', () => {
      const lines = contentLines(renderFixtures());
      const used = new Set(lines.flatMap((line) => [...line.matchAll(/;TZID=([^;:]+)/g)].map((m) => m[1])));
      const defined: string[] = [];
      let inTimezone = false;
      for (const line of lines) {
        if (line === 'BEGIN:VTIMEZONE') inTimezone = true;
        else if (line === 'END:VTIMEZONE') inTimezone = false;
        else if (inTimezone && line.startsWith('TZID:')) defined.push(line.slice('TZID:'.length));
      }
      assert.deepEqual([...used].sort(), ['America/New_York', 'Europe/London']);
      assert.deepEqual([...defined].sort(), [...used].sort());
    });
  });

  describe('every zone the API accepts', () => {
    it('when events over three years are rendered in each accepted zone, then every TZID has its VTIMEZONE and ical.js reads the same instants', () => {
      // Every 37 days from 2026 into 2029 at 15:00Z: both sides of DST changes, many weekdays.
      const events = Array.from({ length: 32 }, (_, i) => {
        const startMs = Date.parse('2026-01-05T15:00:00.000Z') + i * 37 * 86_400_000;
        return aCalendarEvent({ uid: `e${i}@sessionsync.test`, start: new Date(startMs).toISOString(), end: new Date(startMs + 50 * 60_000).toISOString() });
      });
      const problems: string[] = [];
      let zoned = 0;
      for (const zone of supportedTimeZones()) {
        const ics = renderCalendar(calendarMeta, events.map((e) => ({ ...e, timezone: zone })));
        const tzids = new Set([...ics.matchAll(/^DTSTART;TZID=([^:]+):/gm)].map((m) => m[1]));
        if (tzids.size > 0) zoned += 1;
        for (const tzid of tzids) if (!contentLines(ics).includes(`TZID:${tzid}`)) problems.push(`${zone}: no VTIMEZONE for ${tzid}`);
        const calendar = new ICAL.Component(ICAL.parse(ics));
        withRegisteredTimezones(calendar, () => {
          for (const vevent of calendar.getAllSubcomponents('vevent')) {
            const event = new ICAL.Event(vevent);
            const expected = events.find((e) => e.uid === event.uid);
            const read = [event.startDate.toJSDate().toISOString(), event.endDate.toJSDate().toISOString()];
            if (read[0] !== expected?.start || read[1] !== expected?.end) problems.push(`${zone}: ${expected?.start} read as ${read[0]}`);
          }
        });
      }
      assert.deepEqual(problems, []);
      assert.ok(zoned > 400, `only ${zoned} zones rendered with a TZID`);
    });

    it('when a zone was stored in another case before the API refused that, then it still renders in its zone', () => {
      const ics = renderCalendar(calendarMeta, [aCalendarEvent({ timezone: 'america/new_york' })]);
      assert.deepEqual(property(eventLines(ics, aCalendarEvent().uid), 'DTSTART'), ['DTSTART;TZID=America/New_York:20261110T100000']);
    });
  });

  describe('stored text with control characters', () => {
    it('when the calendar name and event text hold C0 and C1 controls, then the ICS holds none and parses back', () => {
      const dirty = 'A\u0000B\u0007C\u001bD\u007fE\u0085F\u009fG';
      const ics = renderCalendar({ ...calendarMeta, name: `Sessions – ${dirty}` }, [
        aCalendarEvent({ summary: `Telehealth session with ${dirty}`, location: `Room ${dirty}`, description: `Line 1 ${dirty}\nLine 2\tend`, url: `https://doxy.me/x${dirty}` }),
      ]);
      // eslint-disable-next-line no-control-regex -- looking for control characters is the point
      assert.equal(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/.test(ics), false);
      assert.equal(ics.replace(/\r\n/g, '').includes('\n'), false, 'no bare LF');
      const lines = contentLines(ics);
      assert.ok(lines.includes('NAME:Sessions – A B C D E F G'));
      const event = eventLines(ics, aCalendarEvent().uid);
      assert.deepEqual(property(event, 'SUMMARY'), ['SUMMARY:Telehealth session with A B C D E F G']);
      assert.deepEqual(property(event, 'DESCRIPTION'), ['DESCRIPTION:Line 1 A B C D E F G\\nLine 2\tend']);
      assert.deepEqual(property(event, 'URL'), ['URL;VALUE=URI:https://doxy.me/xA%00B%07C%1BD%7FE%C2%85F%C2%9FG']);
      assert.equal(Object.values(nodeIcal.sync.parseICS(ics)).filter((c) => c?.type === 'VEVENT').length, 1);
    });
  });

  describe('text format', () => {
    for (const [label, render] of [
      ['the fixtures', () => renderFixtures()],
      ['no events', () => renderCalendar(calendarMeta, [])],
    ] as const) {
      it(`when ${label} are rendered, then every line ends in CRLF and is at most 75 octets`, () => {
        const ics = render();
        assert.ok(ics.endsWith('END:VCALENDAR\r\n'), 'ends with END:VCALENDAR CRLF');
        const lines = ics.split('\r\n');
        assert.equal(lines.pop(), '', 'the last line ends with CRLF');
        for (const line of lines) {
          assert.ok(!/[\r\n]/.test(line), `bare CR or LF in: ${JSON.stringify(line)}`);
          assert.ok(Buffer.byteLength(line, 'utf8') <= 75, `longer than 75 octets: ${line}`);
          // A fold inside a surrogate pair leaves a lone surrogate, which is not valid UTF-8.
          assert.ok(line.isWellFormed(), `fold splits a character: ${JSON.stringify(line)}`);
        }
      });
    }

    it('when a value is longer than a line, then it is folded and unfolds to the same value', () => {
      const ics = renderFixtures();
      assert.ok(ics.includes('\r\n '), 'something was folded');
      const [description] = property(eventLines(ics, virtualEvent.uid), 'DESCRIPTION');
      assert.ok(description?.includes('café Wi-Fi is not private 🎧\\, please.'));
    });
  });

  describe('parsing back', () => {
    it('when parsed with node-ical, then every field and instant comes back', () => {
      const parsed = nodeIcal.sync.parseICS(renderFixtures());
      const events = Object.values(parsed).filter((c) => c?.type === 'VEVENT');
      assert.equal(events.length, allCalendarEvents.length);
      for (const fixture of allCalendarEvents) {
        const event = parsed[fixture.uid];
        assert.ok(event?.type === 'VEVENT', fixture.uid);
        assert.equal(event.uid, fixture.uid);
        assert.equal(Number(event.sequence), fixture.sequence, fixture.uid);
        assert.equal(valueOf(event.summary), fixture.summary, fixture.uid);
        assert.equal(valueOf(event.location) ?? null, fixture.location, fixture.uid);
        assert.equal(valueOf(event.description) ?? null, fixture.description, fixture.uid);
        if (fixture.url === null) assert.equal(event.url, undefined, fixture.uid);
        else assertSameLink(valueOf(event.url), fixture.url);
        assert.equal(event.status, fixture.status.toUpperCase(), fixture.uid);
        assert.equal(event.start.toISOString(), fixture.start, `${fixture.uid} start`);
        assert.equal(event.end?.toISOString(), fixture.end, `${fixture.uid} end`);
        assert.equal(event.dtstamp.toISOString(), fixture.stamp, `${fixture.uid} dtstamp`);
        assert.equal(event.created?.toISOString(), fixture.created, `${fixture.uid} created`);
        assert.equal(event.lastmodified?.toISOString(), fixture.stamp, `${fixture.uid} last-modified`);
      }
    });

    it('when parsed with ical.js with its VTIMEZONEs registered, then every field and instant comes back', () => {
      const calendar = new ICAL.Component(ICAL.parse(renderFixtures()));
      withRegisteredTimezones(calendar, () => {
        const vevents = calendar.getAllSubcomponents('vevent');
        assert.equal(vevents.length, allCalendarEvents.length);
        for (const fixture of allCalendarEvents) {
          const vevent = vevents.find((v) => v.getFirstPropertyValue('uid') === fixture.uid);
          assert.ok(vevent, fixture.uid);
          const event = new ICAL.Event(vevent);
          assert.equal(event.sequence, fixture.sequence, fixture.uid);
          assert.equal(event.summary, fixture.summary, fixture.uid);
          assert.equal(event.location, fixture.location, fixture.uid);
          assert.equal(event.description, fixture.description, fixture.uid);
          const url = vevent.getFirstPropertyValue('url');
          if (fixture.url === null) assert.equal(url, null, fixture.uid);
          else assertSameLink(url, fixture.url);
          assert.equal(vevent.getFirstPropertyValue('status'), fixture.status.toUpperCase(), fixture.uid);
          // The zone must be resolved from the VTIMEZONE, not floating (which would use the test's TZ).
          const zone = writtenInUtc.has(fixture.uid) ? 'UTC' : fixture.timezone;
          assert.equal(event.startDate.zone.tzid, zone, `${fixture.uid} start zone`);
          assert.equal(event.endDate.zone.tzid, zone, `${fixture.uid} end zone`);
          assert.equal(event.startDate.toJSDate().toISOString(), fixture.start, `${fixture.uid} start`);
          assert.equal(event.endDate.toJSDate().toISOString(), fixture.end, `${fixture.uid} end`);
        }
      });
    });

    it('when the telehealth URL is parsed back, then its query parameters are the original ones', () => {
      const parsed = nodeIcal.sync.parseICS(renderFixtures());
      const event = parsed[virtualEvent.uid];
      assert.ok(event?.type === 'VEVENT');
      const link = new URL(String(valueOf(event.url)));
      assert.equal(link.searchParams.get('pwd'), 'a1,b2;c3');
      assert.equal(link.searchParams.get('lang'), 'de');
      assert.equal(valueOf(event.location), telehealthUrl);
    });

    it('when the calendar name is parsed back with node-ical, then it is the name given', () => {
      const parsed = nodeIcal.sync.parseICS(renderFixtures());
      assert.equal(parsed.vcalendar?.['WR-CALNAME'], calendarMeta.name);
    });
  });

  describe('determinism', () => {
    it('when the input order changes, then the output is identical', () => {
      const expected = renderFixtures();
      const rotations = allCalendarEvents.map((_, i) => [...allCalendarEvents.slice(i), ...allCalendarEvents.slice(0, i)]);
      for (const events of [[...allCalendarEvents].reverse(), ...rotations]) {
        assert.equal(renderCalendar(calendarMeta, events), expected);
      }
    });

    it('when the events are rendered, then they are sorted by start', () => {
      const uids = [...eventBlocks(renderFixtures()).keys()];
      const byStart = [...allCalendarEvents].sort((a, b) => Date.parse(a.start) - Date.parse(b.start)).map((e) => e.uid);
      assert.deepEqual(uids, byStart);
    });

    it('when two events start together, then they are ordered by uid', () => {
      const b = aCalendarEvent({ uid: 'b@sessionsync.test' });
      const a = aCalendarEvent({ uid: 'a@sessionsync.test' });
      const ics = renderCalendar(calendarMeta, [b, a]);
      assert.deepEqual([...eventBlocks(ics).keys()], [a.uid, b.uid]);
      assert.equal(renderCalendar(calendarMeta, [a, b]), ics);
    });

    it('when rendered in processes with TZ=Pacific/Auckland and TZ=America/Los_Angeles, then all outputs are identical', () => {
      const inZone = (TZ: string, args: string[]): string =>
        execFileSync(process.execPath, args, { cwd: repoRoot, env: { ...process.env, TZ }, encoding: 'utf8' });
      // The children really do run in different zones, so equal output means TZ does not leak in.
      const offsetScript = ['-e', 'process.stdout.write(String(new Date(Date.UTC(2026, 10, 10)).getTimezoneOffset()))'];
      assert.notEqual(inZone('Pacific/Auckland', offsetScript), inZone('America/Los_Angeles', offsetScript));

      const script = ['--import', 'tsx', renderFixtureScript];
      const auckland = inZone('Pacific/Auckland', script);
      const losAngeles = inZone('America/Los_Angeles', script);
      assert.equal(auckland, losAngeles);
      assert.equal(auckland, renderFixtures());
    });
  });

  describe('input checks', () => {
    it('when an event ends before or when it starts, then it throws a RangeError', () => {
      for (const end of ['2026-11-10T15:00:00.000Z', '2026-11-10T14:00:00.000Z']) {
        assert.throws(() => renderCalendar(calendarMeta, [aCalendarEvent({ end })]), RangeError);
      }
    });

    it('when an event has no uid, then it throws a RangeError instead of inventing one', () => {
      assert.throws(() => renderCalendar(calendarMeta, [aCalendarEvent({ uid: '' })]), RangeError);
    });

    it('when an instant has no offset, then it is read as UTC, not as server time', () => {
      const event = aCalendarEvent({ timezone: 'UTC', start: '2026-11-10T15:00', end: '2026-11-10T15:50' });
      const lines = eventLines(renderCalendar(calendarMeta, [event]), event.uid);
      assert.deepEqual(property(lines, 'DTSTART'), ['DTSTART:20261110T150000Z']);
    });

    it('when an instant is not ISO-8601, then it throws a RangeError', () => {
      assert.throws(() => renderCalendar(calendarMeta, [aCalendarEvent({ stamp: 'yesterday' })]), RangeError);
    });

    it('when an instant in the store\'s own form names a day that does not exist, then it throws a RangeError (not the day it rolls over to)', () => {
      assert.throws(() => renderCalendar(calendarMeta, [aCalendarEvent({ created: '2026-02-30T10:00:00.000Z' })]), RangeError);
      assert.throws(() => renderCalendar(calendarMeta, [aCalendarEvent({ start: '2026-11-31T15:00:00.000Z', end: '2026-12-01T15:50:00.000Z' })]), RangeError);
    });

    it('when an instant carries an offset or no fraction, then it is the same instant as in the store\'s own form', () => {
      const canonical = renderCalendar(calendarMeta, [aCalendarEvent({ start: '2026-11-10T15:00:00.000Z', end: '2026-11-10T15:50:00.000Z' })]);
      assert.equal(renderCalendar(calendarMeta, [aCalendarEvent({ start: '2026-11-10T10:00:00-05:00', end: '2026-11-10T15:50:00Z' })]), canonical);
    });
  });
});
