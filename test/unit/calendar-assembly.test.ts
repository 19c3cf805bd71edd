import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assembleCalendar, joinParts, renderCalendar, renderEvent, spanBytes } from '../../feeds/index.js';
import type { CalendarEvent, CalendarMeta } from '../../src/domain/index.js';
import { allCalendarEvents, calendarMeta } from '../fixtures/calendar-events.js';
import { renderCalendarReference } from '../support/reference-renderer.js';

// The calendar assembled from events rendered one at a time must be byte for byte what
// ical-generator writes when it builds the whole calendar at once (the renderer before fragments,
// kept in test/support/reference-renderer.ts), whatever the events and their order.

const FC = { seed: 8, numRuns: 150, endOnFailure: true } as const;

// DST zones on both hemispheres, a half-hour zone, UTC spellings, an alias, a wrong case, junk.
const ZONES = ['America/New_York', 'Europe/London', 'Australia/Sydney', 'Asia/Kolkata', 'America/St_Johns', 'UTC', 'Etc/UTC', 'US/Eastern', 'america/chicago', 'Not/AZone'];
const MINUTE = 60_000;
// 2025-01-01 .. 2028-01-01: three years of daylight-saving changes.
const FROM = Date.UTC(2025, 0, 1);
const SPAN_MINUTES = (Date.UTC(2028, 0, 1) - FROM) / MINUTE;

const text = fc.oneof(
  fc.string({ maxLength: 120 }),
  fc.string({ unit: 'grapheme', maxLength: 90 }),
  fc.constantFrom('Telehealth session with A.B.', 'a,b;c\\d', 'Line one\nLine two\r\nthree', 'Café – 東京 – 🎉'.repeat(6)),
);

const eventArb: fc.Arbitrary<CalendarEvent> = fc
  .record({
    id: fc.integer({ min: 0, max: 40 }),
    startMinute: fc.integer({ min: 0, max: SPAN_MINUTES }),
    minutes: fc.integer({ min: 1, max: 3 * 24 * 60 }),
    timezone: fc.constantFrom(...ZONES),
    summary: text,
    location: fc.option(text),
    description: fc.option(text),
    url: fc.option(fc.constantFrom('https://doxy.me/dr-a', 'https://x.example/j/1?p=a,b;c\\d', 'https://zoom.us/j/1 2')),
    status: fc.constantFrom('confirmed' as const, 'cancelled' as const),
    sequence: fc.nat(20),
    revision: fc.string({ minLength: 1, maxLength: 8 }),
  })
  .map((r) => {
    const start = FROM + r.startMinute * MINUTE;
    return {
      uid: `p1.s${r.id}@sessionsync.test`,
      sequence: r.sequence,
      start: new Date(start).toISOString(),
      end: new Date(start + r.minutes * MINUTE).toISOString(),
      timezone: r.timezone,
      summary: r.summary,
      location: r.location,
      description: r.description,
      url: r.url,
      status: r.status,
      stamp: '2026-10-01T12:00:00.000Z',
      created: '2026-09-01T08:30:00.000Z',
      revision: r.revision,
    };
  });

const metaArb: fc.Arbitrary<CalendarMeta> = fc.record({
  name: text,
  productId: fc.constantFrom('sessionsync', 'a,b;c'),
  refreshIntervalSeconds: fc.constantFrom(3600, 5400, 86_400),
});

describe('calendar assembly from event fragments', () => {
  it('when the fixtures are assembled, then the bytes equal the whole-calendar ical-generator build', () => {
    assert.equal(renderCalendar(calendarMeta, allCalendarEvents), renderCalendarReference(calendarMeta, allCalendarEvents));
    assert.equal(renderCalendar(calendarMeta, []), renderCalendarReference(calendarMeta, []));
    assert.equal(renderCalendar(calendarMeta, allCalendarEvents, { method: 'PUBLISH' }), renderCalendarReference(calendarMeta, allCalendarEvents, { method: 'PUBLISH' }));
  });

  it('when generated events (zones, DST, folding, escapes, ties) are assembled in any order, then the bytes equal the reference build', () => {
    fc.assert(
      fc.property(metaArb, fc.array(eventArb, { maxLength: 25 }), fc.boolean(), fc.func(fc.integer()), (meta, events, publish, order) => {
        const options = publish ? { method: 'PUBLISH' as const } : {};
        const fragments = events.map(renderEvent);
        // The same fragments in another order: the assembler sorts, as the reference does.
        const shuffled = fragments.map((f, i) => ({ f, k: order(i) })).sort((a, b) => a.k - b.k).map(({ f }) => f);
        const assembled = assembleCalendar(meta, shuffled, options);
        const body = joinParts(assembled.parts);
        assert.equal(body.toString('utf8'), renderCalendarReference(meta, events, options));
        assert.equal(body.length, assembled.length);
        // The spans (head, each event in order, end) are the body too.
        const { spans } = assembled;
        assert.equal(spans.length, fragments.length + 2);
        assert.ok(Buffer.concat(spans.map(spanBytes)).equals(body));
      }),
      FC,
    );
  });

  it('when two assemblies have equal bytes, then their ETags are equal; when the bytes differ, so do the ETags', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 8 }), fc.array(eventArb, { maxLength: 8 }), (a, b) => {
        const x = assembleCalendar(calendarMeta, a.map(renderEvent));
        const y = assembleCalendar(calendarMeta, b.map(renderEvent));
        assert.equal(x.etag === y.etag, joinParts(x.parts).equals(joinParts(y.parts)));
      }),
      FC,
    );
    const one = assembleCalendar(calendarMeta, allCalendarEvents.map(renderEvent));
    const again = assembleCalendar(calendarMeta, [...allCalendarEvents].reverse().map(renderEvent));
    assert.equal(one.etag, again.etag);
    assert.match(one.etag, /^"[A-Za-z0-9_-]{43}"$/);
  });

  it('when fragments already sit side by side in one buffer, then they go out as one part (no copy), in any order given', () => {
    const first = assembleCalendar(calendarMeta, allCalendarEvents.map(renderEvent));
    const body = joinParts(first.parts);
    let offset = first.head.length;
    const placed = first.sorted.map((f) => {
      const moved = { ...f, source: body, offset };
      offset += f.length;
      return moved;
    });
    const again = assembleCalendar(calendarMeta, [...placed].reverse());
    assert.equal(again.parts.length, 3, 'head, one run of all events, end');
    assert.equal(again.parts[1]?.buffer, body.buffer);
    assert.ok(joinParts(again.parts).equals(body));
  });

  it('when one event is rendered, then its fragment is exactly its VEVENT lines of the whole calendar', () => {
    const [event] = allCalendarEvents;
    assert.ok(event);
    const fragment = spanBytes(renderEvent(event)).toString('utf8');
    assert.match(fragment, /^BEGIN:VEVENT\r\n[\s\S]*END:VEVENT\r\n$/);
    assert.ok(renderCalendarReference(calendarMeta, [event]).includes(fragment));
  });
});
