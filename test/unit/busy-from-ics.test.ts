import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { busyFromIcs, IcsParseError, type BusyFromIcsOptions, type BusyFromIcsResult } from '../../busy/ics-busy.js';

const FIXTURES = new URL('../fixtures/busy/', import.meta.url);
const OUR_SUFFIX = '@sessionsync.example';

function fixture(name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8');
}

/** Options for a window [from, to) with New York as the provider's zone unless told otherwise. */
function anOptions(from: string, to: string, more: Partial<BusyFromIcsOptions> = {}): BusyFromIcsOptions {
  return { from: new Date(from), to: new Date(to), providerZone: 'America/New_York', ownUidSuffix: OUR_SUFFIX, ...more };
}

/** A calendar around the given VEVENT bodies (lines without BEGIN/END:VEVENT). */
function aCalendar(...events: string[][]): string {
  const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN'];
  events.forEach((body, i) => lines.push('BEGIN:VEVENT', ...(body.some((l) => l.startsWith('UID')) ? [] : [`UID:event-${i}@example.com`]), ...body, 'END:VEVENT'));
  lines.push('END:VCALENDAR');
  return lines.join('\r\n') + '\r\n';
}

/** The intervals as [start, end] pairs, to compare with short literals. */
function pairs(result: BusyFromIcsResult): Array<[string, string]> {
  return result.intervals.map((i) => [i.start, i.end]);
}

function z(isoWithoutZone: string): string {
  return new Date(`${isoWithoutZone}Z`).toISOString();
}

describe('busyFromIcs', () => {
  describe('a Google "secret address in iCal format" export', () => {
    it('when read over the March 8 DST change, then the weekly 10:00 series is 15:00Z before and 14:00Z after, with EXDATE, moved, declined, free and cancelled events handled', async () => {
      const result = await busyFromIcs(fixture('google-export.ics'), anOptions('2026-02-23T00:00:00Z', '2026-03-28T00:00:00Z'));
      assert.deepEqual(pairs(result), [
        [z('2026-02-23T15:00'), z('2026-02-23T16:00')], // series, EST
        [z('2026-03-02T15:00'), z('2026-03-02T16:00')],
        [z('2026-03-05T17:00'), z('2026-03-05T18:00')], // accepted invite; the declined one at 15:00 is absent
        [z('2026-03-09T14:00'), z('2026-03-09T15:00')], // series, EDT
        [z('2026-03-10T04:00'), z('2026-03-11T04:00')], // all-day, a New York day; the transparent one on the 17th is absent
        [z('2026-03-12T18:00'), z('2026-03-12T18:30')], // an unanswered invitation blocks
        // 16th: EXDATE. 23rd: moved to the 24th 14:00 local, counted only there.
        [z('2026-03-24T18:00'), z('2026-03-24T19:00')],
      ]);
      assert.equal(result.truncated, false);
    });

    it('when read over the November 1 DST change, then the series returns to 15:00Z, the cancelled occurrence is absent and the multi-day event spans 73 hours', async () => {
      const result = await busyFromIcs(fixture('google-export.ics'), anOptions('2026-10-19T00:00:00Z', '2026-11-20T00:00:00Z'));
      assert.deepEqual(pairs(result), [
        [z('2026-10-19T14:00'), z('2026-10-19T15:00')],
        [z('2026-10-21T13:00'), z('2026-10-21T14:00')],
        [z('2026-10-26T14:00'), z('2026-10-26T15:00')],
        [z('2026-10-30T04:00'), z('2026-11-02T05:00')], // Oct 30 to Nov 1 inclusive, New York midnights
        [z('2026-11-02T15:00'), z('2026-11-02T16:00')],
        // Nov 9: cancelled override. Nov 16: the last before UNTIL.
        [z('2026-11-16T15:00'), z('2026-11-16T16:00')],
      ]);
    });

    it('when the window cuts through events, then intervals are clipped to it, including one that began before it', async () => {
      const result = await busyFromIcs(fixture('google-export.ics'), anOptions('2026-03-09T14:30:00Z', '2026-03-24T18:30:00Z'));
      assert.deepEqual(pairs(result), [
        [z('2026-03-09T14:30'), z('2026-03-09T15:00')],
        [z('2026-03-10T04:00'), z('2026-03-11T04:00')],
        [z('2026-03-12T18:00'), z('2026-03-12T18:30')],
        [z('2026-03-24T18:00'), z('2026-03-24T18:30')],
      ]);
    });
  });

  describe('an Outlook / Exchange published calendar', () => {
    it('when it uses Windows zone names and a Customized Time Zone, then every event lands at its real instant and FREE and cancelled ones are absent', async () => {
      const result = await busyFromIcs(fixture('outlook-export.ics'), anOptions('2026-04-13T00:00:00Z', '2026-04-28T00:00:00Z'));
      assert.deepEqual(pairs(result), [
        [z('2026-04-13T12:00'), z('2026-04-13T12:30')], // weekly 08:00 Eastern Standard Time (EDT); Apr 20 is an EXDATE
        [z('2026-04-14T13:00'), z('2026-04-14T14:00')], // BUSY; the FREE lunch at noon is absent
        [z('2026-04-15T19:00'), z('2026-04-15T19:30')], // TENTATIVE blocks
        [z('2026-04-16T04:00'), z('2026-04-18T04:00')], // OOF all-day, two New York days
        [z('2026-04-21T16:00'), z('2026-04-21T17:00')], // 18:00 W. Europe Standard Time (CEST)
        [z('2026-04-22T16:00'), z('2026-04-22T17:00')], // 09:00 Pacific Standard Time (PDT)
        [z('2026-04-23T15:00'), z('2026-04-23T16:00')], // 10:00 in a custom VTIMEZONE with US Central rules
        [z('2026-04-27T12:00'), z('2026-04-27T12:30')], // the last before UNTIL; the cancelled webinar on the 24th is absent
      ]);
    });
  });

  describe('an iCloud calendar', () => {
    const window = ['2026-05-11T00:00:00Z', '2026-05-16T00:00:00Z'] as const;
    const expected: Array<[string, string]> = [
      [z('2026-05-11T14:00'), z('2026-05-11T14:30')], // daily COUNT=3 at 07:00 Los Angeles, DURATION PT30M
      [z('2026-05-12T14:00'), z('2026-05-12T14:30')],
      [z('2026-05-12T16:30'), z('2026-05-12T17:30')],
      [z('2026-05-13T14:00'), z('2026-05-13T14:30')],
      [z('2026-05-13T18:00'), z('2026-05-13T19:00')], // floating 12:00 read in Denver, not in the feed's VTIMEZONE
      [z('2026-05-14T06:00'), z('2026-05-15T06:00')], // all-day, a Denver day
    ];

    it('when the owner is not known, then floating and all-day times are in the provider zone and the declined invitation still blocks', async () => {
      const result = await busyFromIcs(fixture('icloud.ics'), anOptions(...window, { providerZone: 'America/Denver' }));
      assert.deepEqual(pairs(result), [...expected, [z('2026-05-15T17:00'), z('2026-05-15T18:00')]]);
    });

    it("when the owner's address is given (in any case), then the invitation they declined is absent", async () => {
      const options = anOptions(...window, { providerZone: 'America/Denver', ownerAddresses: ['Sam.Rivera@iCloud.com'] });
      assert.deepEqual(pairs(await busyFromIcs(fixture('icloud.ics'), options)), expected);
    });
  });

  describe('a Fastmail (CalDAV) export', () => {
    it('when it has UTC times and VALUE=DATE events with DTEND, DURATION or neither, then dates are Berlin days and the transparent birthday is absent', async () => {
      const result = await busyFromIcs(fixture('fastmail.ics'), anOptions('2026-06-01T00:00:00Z', '2026-06-10T00:00:00Z', { providerZone: 'Europe/Berlin' }));
      assert.deepEqual(pairs(result), [
        [z('2026-06-01T07:00'), z('2026-06-01T07:45')], // weekly MO,TH COUNT=4 in UTC
        [z('2026-06-01T09:00'), z('2026-06-01T10:00')], // STATUS:TENTATIVE blocks
        [z('2026-06-02T13:00'), z('2026-06-02T14:00')],
        [z('2026-06-02T22:00'), z('2026-06-03T22:00')], // June 3, DTEND
        [z('2026-06-04T07:00'), z('2026-06-04T07:45')],
        [z('2026-06-04T22:00'), z('2026-06-06T22:00')], // June 5, DURATION P2D
        [z('2026-06-08T07:00'), z('2026-06-08T07:45')],
        [z('2026-06-08T22:00'), z('2026-06-09T22:00')], // June 9, no DTEND: one day
      ]);
    });
  });

  describe('our own events', () => {
    it('when the calendar holds events and overrides whose UID ends in our suffix, then they never count, but a UID merely containing it does', async () => {
      const result = await busyFromIcs(fixture('own-events.ics'), anOptions('2026-07-06T00:00:00Z', '2026-07-11T00:00:00Z'));
      assert.deepEqual(pairs(result), [
        [z('2026-07-08T16:00'), z('2026-07-08T17:00')],
        [z('2026-07-09T16:00'), z('2026-07-09T17:00')],
      ]);
    });
  });

  describe('privacy', () => {
    const all: Array<[string, BusyFromIcsOptions]> = [
      ['google-export.ics', anOptions('2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z')],
      ['outlook-export.ics', anOptions('2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z')],
      ['icloud.ics', anOptions('2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z', { providerZone: 'America/Denver' })],
      ['fastmail.ics', anOptions('2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z', { providerZone: 'Europe/Berlin' })],
      ['own-events.ics', anOptions('2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z')],
    ];

    /** Every title, place, description, attendee, organizer and UID of a feed, unfolded. */
    function secrets(text: string): string[] {
      const unfolded = text.replace(/\r?\n[ \t]/g, '');
      const found = [...unfolded.matchAll(/^(?:SUMMARY|LOCATION|DESCRIPTION|ATTENDEE|ORGANIZER|UID|X-APPLE-STRUCTURED-LOCATION)[^:\r\n]*:(.*)$/gm)];
      const values = found.flatMap((m) => [m[1]!, ...(m[0].match(/(?:CN|EMAIL|X-TITLE|X-ADDRESS)="?([^";:]+)/g) ?? []).map((p) => p.replace(/^[^=]+="?/, ''))]);
      return [...new Set(values.map((v) => v.replace(/^mailto:/i, '').replace(/\\[,;n]/g, ' ').trim()))].filter((v) => v.length >= 4);
    }

    it('when any fixture is read, then the result holds only instants and none of its titles, places, attendees or UIDs', async () => {
      for (const [name, options] of all) {
        const text = fixture(name);
        const json = JSON.stringify(await busyFromIcs(text, options));
        const leaked = secrets(text).filter((s) => json.includes(s));
        assert.deepEqual(leaked, [], `${name} leaked`);
        const parsed = JSON.parse(json) as { intervals: Array<Record<string, unknown>> };
        assert.deepEqual(Object.keys(parsed).sort(), ['intervals', 'truncated']);
        for (const i of parsed.intervals) assert.deepEqual(Object.keys(i), ['start', 'end']);
      }
    });

    it('when fixtures, malformed text and hostile rules are read, then nothing is written to the console', async () => {
      const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
      const saved = methods.map((m) => console[m]);
      const calls: string[] = [];
      for (const m of methods) console[m] = (...args: unknown[]) => void calls.push(`${m}: ${args.map(String).join(' ')}`);
      try {
        for (const [name, options] of all) await busyFromIcs(fixture(name), options);
        const odd = aCalendar(
          ['DTSTART;TZID=Nowhere/Special:20260301T100000', 'DURATION:PT1H'],
          ['DTSTART;TZID=Customized Time Zone:20260301T100000', 'DURATION:PT1H', 'RRULE:FREQ=DAILY;COUNT=2'],
          ['DTSTART:20260301T100000Z', 'DURATION:-PT1H'],
          ['DTSTART:20260301T100000Z', 'DTEND:20260301T110000Z', 'RRULE:FREQ=SOMETIMES'],
          ['DTSTART:20260301T100000Z', 'DTEND:20260301T110000Z', 'RRULE:FREQ=SECONDLY'],
          ['DTSTART:2026-03-01', 'SEQUENCE:x'],
        );
        await busyFromIcs(odd, anOptions('2026-03-01T00:00:00Z', '2026-03-02T00:00:00Z'));
        await busyFromIcs(odd.slice(0, odd.length / 2), anOptions('2026-03-01T00:00:00Z', '2026-03-02T00:00:00Z'));
        await assert.rejects(busyFromIcs('<html>Sign in</html>', anOptions('2026-03-01T00:00:00Z', '2026-03-02T00:00:00Z')));
      } finally {
        methods.forEach((m, i) => (console[m] = saved[i]!));
      }
      assert.deepEqual(calls, []);
    });
  });

  describe('malformed text', () => {
    const options = anOptions('2026-03-01T00:00:00Z', '2026-03-08T00:00:00Z');

    it('when the text is not iCalendar, then it rejects with an IcsParseError whose message quotes nothing of it', async () => {
      const page = '<!doctype html><title>Sign in to Dr. Rivera calendar</title>';
      await assert.rejects(busyFromIcs(page, options), (err: unknown) => {
        assert.ok(err instanceof IcsParseError);
        assert.equal(err.reason, 'NOT_ICALENDAR');
        assert.ok(!err.message.includes('Rivera') && !err.message.includes('doctype'));
        return true;
      });
      await assert.rejects(busyFromIcs('', options), IcsParseError);
    });

    it('when the text stops in the middle of an event, then the complete events before it are returned', async () => {
      const text = aCalendar(['DTSTART:20260302T100000Z', 'DTEND:20260302T110000Z'], ['DTSTART:20260303T100000Z', 'DTEND:20260303T110000Z']);
      const cut = text.slice(0, text.lastIndexOf('END:VEVENT'));
      assert.deepEqual(pairs(await busyFromIcs(cut, options)), [[z('2026-03-02T10:00'), z('2026-03-02T11:00')]]);
    });

    it('when some events have unreadable dates or rules, then they are skipped (a bad rule keeps its first instance) and the rest count', async () => {
      const text = aCalendar(
        ['DTSTART:2026-03-02 10:00', 'DTEND:20260302T110000Z'],
        ['DTSTART:20260303T100000Z', 'DTEND:20260303T110000Z', 'RRULE:FREQ=SOMETIMES;COUNT=3'],
        ['DTSTART:20261345T100000Z', 'DTEND:20260304T110000Z'],
        ['this is not a content line', 'DTSTART:20260305T100000Z', 'DTEND:20260305T110000Z'],
      );
      assert.deepEqual(pairs(await busyFromIcs(text, options)), [
        [z('2026-03-03T10:00'), z('2026-03-03T11:00')],
        [z('2026-03-05T10:00'), z('2026-03-05T11:00')],
      ]);
    });

    it('when the options are unusable, then it throws a RangeError before reading', async () => {
      const text = aCalendar();
      await assert.rejects(busyFromIcs(text, anOptions('2026-03-08T00:00:00Z', '2026-03-01T00:00:00Z')), RangeError);
      await assert.rejects(busyFromIcs(text, { ...options, providerZone: 'Eastern Standard Time' }), RangeError);
      await assert.rejects(busyFromIcs(text, { ...options, ownUidSuffix: '' }), RangeError);
      await assert.rejects(busyFromIcs(text, { ...options, maxEvents: 0 }), RangeError);
    });
  });

  describe('rules for what blocks', () => {
    const options = anOptions('2026-03-01T00:00:00Z', '2026-03-08T00:00:00Z', { ownerAddresses: ['owner@example.com'] });
    const owner = (partstat: string): string => `ATTENDEE;PARTSTAT=${partstat};CN=Owner:mailto:owner@example.com`;

    it('when X-MICROSOFT-CDO-BUSYSTATUS is present, then it decides over TRANSP', async () => {
      const text = aCalendar(
        ['DTSTART:20260302T100000Z', 'DTEND:20260302T110000Z', 'TRANSP:TRANSPARENT', 'X-MICROSOFT-CDO-BUSYSTATUS:BUSY'],
        ['DTSTART:20260303T100000Z', 'DTEND:20260303T110000Z', 'TRANSP:OPAQUE', 'X-MICROSOFT-CDO-BUSYSTATUS:FREE'],
        ['DTSTART:20260304T100000Z', 'DTEND:20260304T110000Z', 'TRANSP:TRANSPARENT'],
      );
      assert.deepEqual(pairs(await busyFromIcs(text, options)), [[z('2026-03-02T10:00'), z('2026-03-02T11:00')]]);
    });

    it('when the owner declined one occurrence of a series they accepted, then only that occurrence is absent', async () => {
      const text = aCalendar(
        ['UID:s@example.com', 'DTSTART:20260302T100000Z', 'DTEND:20260302T110000Z', 'RRULE:FREQ=DAILY;COUNT=3', owner('ACCEPTED')],
        ['UID:s@example.com', 'RECURRENCE-ID:20260303T100000Z', 'DTSTART:20260303T100000Z', 'DTEND:20260303T110000Z', owner('DECLINED')],
      );
      assert.deepEqual(pairs(await busyFromIcs(text, options)), [
        [z('2026-03-02T10:00'), z('2026-03-02T11:00')],
        [z('2026-03-04T10:00'), z('2026-03-04T11:00')],
      ]);
    });

    it('when only other attendees declined, or the owner is listed twice and accepted once, then the event blocks', async () => {
      const text = aCalendar(
        ['DTSTART:20260302T100000Z', 'DTEND:20260302T110000Z', 'ATTENDEE;PARTSTAT=DECLINED:mailto:someone@example.com'],
        ['DTSTART:20260303T100000Z', 'DTEND:20260303T110000Z', owner('DECLINED'), owner('ACCEPTED')],
      );
      assert.deepEqual(pairs(await busyFromIcs(text, options)), [
        [z('2026-03-02T10:00'), z('2026-03-02T11:00')],
        [z('2026-03-03T10:00'), z('2026-03-03T11:00')],
      ]);
    });

    it('when a series master is cancelled, then its overrides are gone too; when an override has no end, it keeps the master length', async () => {
      const text = aCalendar(
        ['UID:gone@example.com', 'DTSTART:20260302T100000Z', 'DTEND:20260302T110000Z', 'RRULE:FREQ=DAILY', 'STATUS:CANCELLED'],
        ['UID:gone@example.com', 'RECURRENCE-ID:20260303T100000Z', 'DTSTART:20260303T150000Z', 'DTEND:20260303T160000Z'],
        ['UID:kept@example.com', 'DTSTART:20260305T080000Z', 'DURATION:PT45M', 'RRULE:FREQ=DAILY;COUNT=2'],
        ['UID:kept@example.com', 'RECURRENCE-ID:20260306T080000Z', 'DTSTART:20260306T090000Z'],
      );
      assert.deepEqual(pairs(await busyFromIcs(text, options)), [
        [z('2026-03-05T08:00'), z('2026-03-05T08:45')],
        [z('2026-03-06T09:00'), z('2026-03-06T09:45')],
      ]);
    });

    it('when an RRULE names INTERVAL before FREQ, then the interval still applies (node-ical alone drops parts before FREQ)', async () => {
      const text = aCalendar(['DTSTART:20260302T100000Z', 'DTEND:20260302T110000Z', 'RRULE:INTERVAL=2;FREQ=DAILY;COUNT=3']);
      assert.deepEqual(pairs(await busyFromIcs(text, options)), [
        [z('2026-03-02T10:00'), z('2026-03-02T11:00')],
        [z('2026-03-04T10:00'), z('2026-03-04T11:00')],
        [z('2026-03-06T10:00'), z('2026-03-06T11:00')],
      ]);
    });

    it('when a series has RDATEs, including a PERIOD, then they add occurrences', async () => {
      const text = aCalendar([
        'DTSTART;TZID=America/New_York:20260302T090000',
        'DTEND;TZID=America/New_York:20260302T093000',
        'RDATE;TZID=America/New_York:20260304T090000,20260305T170000',
        'RDATE;VALUE=PERIOD:20260306T120000Z/PT2H',
      ]);
      assert.deepEqual(pairs(await busyFromIcs(text, options)), [
        [z('2026-03-02T14:00'), z('2026-03-02T14:30')],
        [z('2026-03-04T14:00'), z('2026-03-04T14:30')],
        [z('2026-03-05T22:00'), z('2026-03-05T22:30')],
        [z('2026-03-06T12:00'), z('2026-03-06T14:00')],
      ]);
    });
  });

  describe('time zones', () => {
    it('when a TZID is a Windows name without any VTIMEZONE, then node-ical\'s Windows table places it', async () => {
      const text = aCalendar(['DTSTART;TZID=W. Europe Standard Time:20260302T090000', 'DTEND;TZID=W. Europe Standard Time:20260302T100000']);
      assert.deepEqual(pairs(await busyFromIcs(text, anOptions('2026-03-01T00:00:00Z', '2026-03-08T00:00:00Z'))), [[z('2026-03-02T08:00'), z('2026-03-02T09:00')]]);
    });

    it('when a TZID is unknown and has no VTIMEZONE, then it is read in the provider zone, not the host zone', async () => {
      const text = aCalendar(['DTSTART;TZID=Clinic Local Time:20260302T090000', 'DTEND;TZID=Clinic Local Time:20260302T100000']);
      const options = anOptions('2026-03-01T00:00:00Z', '2026-03-08T00:00:00Z', { providerZone: 'Asia/Tokyo' });
      assert.deepEqual(pairs(await busyFromIcs(text, options)), [[z('2026-03-02T00:00'), z('2026-03-02T01:00')]]);
    });

    it('when a TZID is an unknown name with southern-hemisphere VTIMEZONE rules, or tzone://Microsoft/Utc, then both land at their real instants', async () => {
      const sydneyRules = [
        'BEGIN:VTIMEZONE',
        'TZID:Head Office Time',
        'BEGIN:STANDARD',
        'DTSTART:16010101T030000',
        'TZOFFSETFROM:+1100',
        'TZOFFSETTO:+1000',
        'RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4',
        'END:STANDARD',
        'BEGIN:DAYLIGHT',
        'DTSTART:16010101T020000',
        'TZOFFSETFROM:+1000',
        'TZOFFSETTO:+1100',
        'RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=10',
        'END:DAYLIGHT',
        'END:VTIMEZONE',
      ];
      const text = aCalendar(
        ['DTSTART;TZID=Head Office Time:20260403T090000', 'DURATION:PT1H', 'RRULE:FREQ=DAILY;COUNT=3'], // Fri to Sun, DST ends Sunday 03:00
        ['DTSTART;TZID=tzone://Microsoft/Utc:20260403T120000', 'DTEND;TZID=tzone://Microsoft/Utc:20260403T130000'],
      ).replace('BEGIN:VEVENT', [...sydneyRules, 'BEGIN:VEVENT'].join('\r\n'));
      assert.deepEqual(pairs(await busyFromIcs(text, anOptions('2026-04-01T00:00:00Z', '2026-04-08T00:00:00Z'))), [
        [z('2026-04-02T22:00'), z('2026-04-02T23:00')], // 09:00 AEDT
        [z('2026-04-03T12:00'), z('2026-04-03T13:00')],
        [z('2026-04-03T22:00'), z('2026-04-03T23:00')],
        [z('2026-04-04T23:00'), z('2026-04-05T00:00')], // 09:00 AEST
      ]);
    });

    it('when a weekly all-day series crosses the November DST change, then each day runs from local midnight to local midnight', async () => {
      const text = aCalendar(['DTSTART;VALUE=DATE:20261023', 'DTEND;VALUE=DATE:20261024', 'RRULE:FREQ=WEEKLY;COUNT=3']);
      assert.deepEqual(pairs(await busyFromIcs(text, anOptions('2026-10-24T00:00:00Z', '2026-11-10T00:00:00Z'))), [
        [z('2026-10-24T00:00'), z('2026-10-24T04:00')], // the end of Friday Oct 23 in New York
        [z('2026-10-30T04:00'), z('2026-10-31T04:00')],
        [z('2026-11-06T05:00'), z('2026-11-07T05:00')],
      ]);
    });
  });

  describe('bounded work', () => {
    const week = anOptions('2026-03-02T00:00:00Z', '2026-03-09T00:00:00Z');

    it('when a daily rule without COUNT or UNTIL started in 2000, then only the window instances come back', async () => {
      const text = aCalendar(['DTSTART;TZID=America/New_York:20000103T070000', 'DURATION:PT20M', 'RRULE:FREQ=DAILY']);
      const result = await busyFromIcs(text, week);
      const expected: Array<[string, string]> = ['02', '03', '04', '05', '06', '07'].map((d) => [z(`2026-03-${d}T12:00`), z(`2026-03-${d}T12:20`)]);
      expected.push([z('2026-03-08T11:00'), z('2026-03-08T11:20')]); // EDT from March 8
      assert.deepEqual(pairs(result), expected);
      assert.equal(result.truncated, false);
    });

    it('when a daily rule from 2000 has a COUNT, then it is counted from DTSTART: 10000 reaches the window, 9000 ended in 2024', async () => {
      const rule = (count: number): string => aCalendar(['DTSTART:20000103T070000Z', 'DURATION:PT20M', `RRULE:FREQ=DAILY;COUNT=${count}`]);
      assert.equal((await busyFromIcs(rule(10_000), week)).intervals.length, 7);
      assert.deepEqual((await busyFromIcs(rule(9_000), week)).intervals, []);
    });

    it('when a series has more instances in the window than maxInstancesPerSeries, then it stops there with truncated', async () => {
      const text = aCalendar(['DTSTART:20260301T000000Z', 'DURATION:PT30M', 'RRULE:FREQ=HOURLY']);
      const result = await busyFromIcs(text, { ...week, maxInstancesPerSeries: 50 });
      assert.equal(result.intervals.length, 50);
      assert.equal(result.truncated, true);
      assert.equal((await busyFromIcs(text, { ...week, maxInstancesPerSeries: 24 * 7 })).truncated, false);
    });

    it('when a feed has more components than maxEvents, then it stops reading there with truncated', async () => {
      const text = aCalendar(...['02', '03', '04'].map((d) => [`DTSTART:202603${d}T100000Z`, `DTEND:202603${d}T110000Z`]));
      const result = await busyFromIcs(text, { ...week, maxEvents: 2 });
      assert.equal(result.intervals.length, 2);
      assert.equal(result.truncated, true);
    });

    // How long each slice takes is a wall-clock figure (about 4 ms, at most ~20 ms with a
    // collection in it, on this 2-core machine): measured, not asserted. What is asserted is that
    // the work ends and was cut into slices that gave the event loop back.
    it('when hostile rules ask for millions of instances (SECONDLY from 1970, hundreds of MINUTELY series), then work ends with truncated, in slices', async () => {
      const slices: number[] = [];
      const series = Array.from({ length: 300 }, (_, i) => [`DTSTART:19700101T0000${String(i % 60).padStart(2, '0')}Z`, 'DURATION:PT20S', 'RRULE:FREQ=MINUTELY']);
      const text = aCalendar(['DTSTART:19700101T000000Z', 'DURATION:PT1S', 'RRULE:FREQ=SECONDLY'], ...series);
      const result = await busyFromIcs(text, { ...anOptions('2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z'), onSlice: (ms) => slices.push(ms) });
      assert.equal(result.truncated, true);
      assert.ok(slices.length > 1, 'the work was sliced');
    });

    it('when a feed has 100,000 events, then it stops at maxEvents with truncated, in slices', async () => {
      const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//generated//EN'];
      const hour = 3_600_000;
      const stamp = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, '').slice(0, 15) + 'Z';
      for (let i = 0; i < 100_000; i += 1) {
        const start = Date.UTC(2026, 0, 1) + i * hour;
        lines.push('BEGIN:VEVENT', `UID:generated-${i}@example.com`, 'DTSTAMP:20260101T000000Z', `DTSTART:${stamp(start)}`, `DTEND:${stamp(start + hour / 2)}`);
        lines.push(`SUMMARY:Generated appointment ${i}`, 'DESCRIPTION:Lorem ipsum dolor sit amet\\, consectetur adipiscing elit.', 'END:VEVENT');
      }
      lines.push('END:VCALENDAR');
      const slices: number[] = [];
      const result = await busyFromIcs(lines.join('\r\n'), {
        ...anOptions('2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z'),
        onSlice: (ms) => slices.push(ms),
      });
      assert.equal(result.truncated, true);
      assert.equal(result.intervals.length, 8_760); // the year's hours; the first 20,000 events reach into 2028
      assert.ok(slices.length > 1, 'the work was sliced');
    });
  });
});
