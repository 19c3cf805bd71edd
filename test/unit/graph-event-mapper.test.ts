import assert from 'node:assert/strict';
import {
  EXPAND_TAG_PROPERTIES,
  TAG_KEY_PROPERTY_ID,
  TAG_REVISION_PROPERTY_ID,
  filterByTagKey,
  filterTaggedEndingAfter,
  fromGraphDateTime,
  fromGraphEvent,
  toGraphCreateEvent,
  toGraphDateTime,
  toGraphEvent,
  toGraphReminders,
} from '../../connectors/outlook/graph-event-mapper.js';
import type { GraphEventRead } from '../../connectors/outlook/graph-event-mapper.js';
import type { CalendarEvent, EventTag } from '../../src/domain/index.js';
import { aCalendarEvent, allCalendarEvents, fallBackEvent, officeEvent, telehealthUrl, virtualEvent } from '../fixtures/calendar-events.js';

const tag: EventTag = { key: 'prov-1/sess-virtual', revision: 'rev-virtual' };

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function aGraphEvent(overrides: Partial<GraphEventRead> = {}): GraphEventRead {
  return {
    id: 'AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AAAA=',
    subject: 'Telehealth session',
    start: { dateTime: '2026-11-10T15:00:00.0000000', timeZone: 'UTC' },
    end: { dateTime: '2026-11-10T15:50:00.0000000', timeZone: 'UTC' },
    location: { displayName: telehealthUrl },
    isCancelled: false,
    singleValueExtendedProperties: [
      { id: TAG_KEY_PROPERTY_ID, value: tag.key },
      { id: TAG_REVISION_PROPERTY_ID, value: tag.revision },
    ],
    ...overrides,
  };
}

describe('Graph event mapper', () => {
  describe('toGraphEvent', () => {
    it('when a virtual event is mapped, then subject, plain-text body, UTC times, location and our tag are set', () => {
      const graph = toGraphEvent(virtualEvent, tag);

      assert.deepEqual(graph, {
        subject: 'Telehealth session',
        body: { contentType: 'text', content: virtualEvent.description },
        start: { dateTime: '2026-11-10T15:00:00.000', timeZone: 'UTC' },
        end: { dateTime: '2026-11-10T15:50:00.000', timeZone: 'UTC' },
        location: { displayName: telehealthUrl },
        isOnlineMeeting: false,
        sensitivity: 'private',
        showAs: 'busy',
        responseRequested: false,
        isReminderOn: true,
        reminderMinutesBeforeStart: 15,
        singleValueExtendedProperties: [
          { id: 'String {9ced5288-5cda-49f2-ad67-29584fc43a33} Name sessionsyncKey', value: 'prov-1/sess-virtual' },
          { id: 'String {9ced5288-5cda-49f2-ad67-29584fc43a33} Name sessionsyncRevision', value: 'rev-virtual' },
        ],
      });
    });

    it('when an event is mapped, then no attendees, online meeting or transactionId are written', () => {
      const graph: Record<string, unknown> = { ...toGraphEvent(virtualEvent, tag) };

      for (const absent of ['attendees', 'onlineMeeting', 'onlineMeetingProvider', 'transactionId', 'categories']) {
        assert.equal(absent in graph, false, absent);
      }
    });

    it('when the provider has no reminders setting, then a create leaves the reminder to the mailbox and an update writes Outlook\'s default (Graph has no "default" value)', () => {
      const create: Record<string, unknown> = { ...toGraphCreateEvent(virtualEvent, tag, 'txn') };

      assert.equal('isReminderOn' in create, false);
      assert.equal('reminderMinutesBeforeStart' in create, false);
      assert.deepEqual(toGraphReminders(null, false), { isReminderOn: true, reminderMinutesBeforeStart: 15 });
    });

    it('when the provider has reminders, then the one closest to the start is written (Outlook keeps one), and [] turns the reminder off', () => {
      assert.deepEqual(toGraphReminders([60, 10, 1440], true), { isReminderOn: true, reminderMinutesBeforeStart: 10 });
      assert.deepEqual(toGraphReminders([0, 30], false), { isReminderOn: true, reminderMinutesBeforeStart: 0 });
      assert.deepEqual(toGraphReminders([], true), { isReminderOn: false });
      assert.equal(toGraphEvent(virtualEvent, tag, [30, 5]).reminderMinutesBeforeStart, 5);
    });

    it('when the event has no description or location, then both are written empty so that an update clears them', () => {
      const graph = toGraphEvent(aCalendarEvent({ description: null, location: null }), tag);

      assert.deepEqual(graph.body, { contentType: 'text', content: '' });
      assert.deepEqual(graph.location, { displayName: '' });
    });

    it('when an office event is mapped, then its address is the location', () => {
      assert.equal(toGraphEvent(officeEvent, tag).location.displayName, officeEvent.location);
    });

    it('when mapped for a create with a reminders setting, then the only difference is the transactionId', () => {
      const create = toGraphCreateEvent(virtualEvent, tag, 'txn-52-chars', [15, 60]);

      const { transactionId, ...rest } = create;
      assert.equal(transactionId, 'txn-52-chars');
      assert.deepEqual(rest, toGraphEvent(virtualEvent, tag, [15, 60]));
    });

    it('when mapped twice, under another TZ, from frozen input, then the output is identical and the input untouched', () => {
      const frozen = deepFreeze(structuredClone(virtualEvent));
      const first = toGraphCreateEvent(frozen, tag, 'txn');
      const saved = process.env.TZ;
      process.env.TZ = 'Pacific/Kiritimati';
      try {
        assert.deepEqual(toGraphCreateEvent(frozen, tag, 'txn'), first);
      } finally {
        if (saved === undefined) delete process.env.TZ;
        else process.env.TZ = saved;
      }
      assert.deepEqual(frozen, virtualEvent);
    });
  });

  describe('instants', () => {
    it('when any fixture is written and read back, then start and end are the same instants, to the millisecond', () => {
      for (const event of allCalendarEvents) {
        const graph = toGraphEvent(event, tag);
        assert.equal(fromGraphDateTime(graph.start), event.start, event.uid);
        assert.equal(fromGraphDateTime(graph.end), event.end, event.uid);
      }
    });

    it('when the session spans the DST fall-back night, then the UTC times are written as they are (150 minutes)', () => {
      const graph = toGraphEvent(fallBackEvent, tag);

      assert.deepEqual(graph.start, { dateTime: '2026-11-01T04:30:00.000', timeZone: 'UTC' });
      assert.deepEqual(graph.end, { dateTime: '2026-11-01T07:00:00.000', timeZone: 'UTC' });
    });

    it('when the instant has milliseconds, then they survive', () => {
      const event: CalendarEvent = aCalendarEvent({ start: '2026-11-10T15:00:00.123Z', end: '2026-11-10T15:50:00.999Z' });

      const graph = toGraphEvent(event, tag);

      assert.equal(fromGraphDateTime(graph.start), '2026-11-10T15:00:00.123Z');
      assert.equal(fromGraphDateTime(graph.end), '2026-11-10T15:50:00.999Z');
    });

    it('when Graph answers with seven fractional digits in UTC, then the instant reads as Date.toISOString() would write it', () => {
      assert.equal(fromGraphDateTime({ dateTime: '2026-11-10T15:00:00.0000000', timeZone: 'UTC' }), '2026-11-10T15:00:00.000Z');
      assert.equal(fromGraphDateTime({ dateTime: '2026-11-10T15:00:00.1234567', timeZone: 'UTC' }), '2026-11-10T15:00:00.123Z');
      assert.equal(fromGraphDateTime({ dateTime: '2026-11-10T15:00:00', timeZone: 'Etc/UTC' }), '2026-11-10T15:00:00.000Z');
    });

    it('when Graph answers in another zone, then the value never equals an instant (the resync sees drift and rewrites)', () => {
      const read = fromGraphDateTime({ dateTime: '2026-11-10T10:00:00.0000000', timeZone: 'Eastern Standard Time' });

      assert.equal(Number.isNaN(Date.parse(read)), true);
      assert.notEqual(read, '2026-11-10T15:00:00.000Z');
    });

    it('when an instant is not UTC ISO-8601, then writing it throws rather than shifting it', () => {
      assert.throws(() => toGraphDateTime('2026-11-10T10:00:00-05:00'), RangeError);
      assert.throws(() => toGraphDateTime('2026-11-10 15:00'), RangeError);
    });
  });

  describe('fromGraphEvent', () => {
    it('when a tagged event is read, then it becomes a RemoteEvent with UTC times', () => {
      assert.deepEqual(fromGraphEvent(aGraphEvent()), {
        externalId: 'AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AAAA=',
        tag,
        start: '2026-11-10T15:00:00.000Z',
        end: '2026-11-10T15:50:00.000Z',
        summary: 'Telehealth session',
        location: telehealthUrl,
        cancelled: false,
      });
    });

    it('when the event has no tag, then it is not ours (null)', () => {
      assert.equal(fromGraphEvent(aGraphEvent({ singleValueExtendedProperties: [] })), null);
      assert.equal(fromGraphEvent(aGraphEvent({ singleValueExtendedProperties: undefined })), null);
    });

    it('when the property id differs in GUID case, then it still matches; when the name differs in case, it does not (Graph\'s rules)', () => {
      const upperGuid = aGraphEvent({ singleValueExtendedProperties: [{ id: 'String {9CED5288-5CDA-49F2-AD67-29584FC43A33} Name sessionsyncKey', value: tag.key }] });
      const otherName = aGraphEvent({ singleValueExtendedProperties: [{ id: TAG_KEY_PROPERTY_ID.replace('sessionsyncKey', 'SessionsyncKey'), value: tag.key }] });

      assert.deepEqual(fromGraphEvent(upperGuid)?.tag, { key: tag.key, revision: '' });
      assert.equal(fromGraphEvent(otherName), null);
    });

    it('when the location is empty and the event was cancelled by its organiser, then location is null and cancelled is true', () => {
      const remote = fromGraphEvent(aGraphEvent({ location: { displayName: '' }, isCancelled: true }));

      assert.equal(remote?.location, null);
      assert.equal(remote?.cancelled, true);
    });
  });

  describe('queries', () => {
    it('when filtering by a key with a quote, then the OData literal doubles it', () => {
      assert.equal(
        filterByTagKey("prov-1/o'brien"),
        `singleValueExtendedProperties/Any(ep: ep/id eq '${TAG_KEY_PROPERTY_ID}' and ep/value eq 'prov-1/o''brien')`,
      );
    });

    it('when listing from an instant, then the end filter uses the Graph dateTime of that instant', () => {
      assert.equal(
        filterTaggedEndingAfter('2026-11-01T00:00:00.000Z'),
        `singleValueExtendedProperties/Any(ep: ep/id eq '${TAG_KEY_PROPERTY_ID}' and ep/value ne null) and end/dateTime ge '2026-11-01T00:00:00.000'`,
      );
    });

    it('when expanding, then exactly our two properties are asked for', () => {
      assert.equal(EXPAND_TAG_PROPERTIES, `singleValueExtendedProperties($filter=id eq '${TAG_KEY_PROPERTY_ID}' or id eq '${TAG_REVISION_PROPERTY_ID}')`);
    });
  });
});
