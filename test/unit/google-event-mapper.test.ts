import assert from 'node:assert/strict';
import { fromGoogleEvent, tagOf, toGoogleEvent } from '../../connectors/google/google-event-mapper.js';
import { aCalendarEvent, officeEvent, virtualEvent } from '../fixtures/calendar-events.js';

const tag = { key: 'prov-1/sess-virtual', revision: 'rev-virtual' };

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

describe('toGoogleEvent', () => {
  it('when given the same event twice, then it renders the same body and leaves its input untouched', () => {
    const event = deepFreeze(structuredClone(virtualEvent));

    const first = toGoogleEvent(event, tag);
    const second = toGoogleEvent(event, tag);

    assert.deepEqual(first, second);
    assert.deepEqual(event, virtualEvent);
  });

  it('when the session is virtual, then title, link, instructions, UTC times and the display zone are carried over', () => {
    const body = toGoogleEvent(virtualEvent, tag);

    assert.equal(body.summary, 'Telehealth session');
    assert.equal(body.location, virtualEvent.url);
    assert.equal(body.description, virtualEvent.description);
    assert.deepEqual(body.start, { dateTime: '2026-11-10T15:00:00.000Z', timeZone: 'America/New_York' });
    assert.deepEqual(body.end, { dateTime: '2026-11-10T15:50:00.000Z', timeZone: 'America/New_York' });
  });

  it('when the session is in person, then the address is the location and the description is cleared', () => {
    const body = toGoogleEvent(officeEvent, { key: 'prov-1/sess-office', revision: 'rev-office' });

    assert.equal(body.location, officeEvent.location);
    assert.equal(body.description, null, 'a full update must clear an old description, so null rather than absent');
  });

  it('when rendered, then the event is private, busy, with default reminders, invites nobody and carries our tag', () => {
    const body = toGoogleEvent(virtualEvent, tag);

    assert.equal(body.status, 'confirmed');
    assert.equal(body.visibility, 'private');
    assert.equal(body.transparency, 'opaque');
    assert.equal(body.guestsCanInviteOthers, false);
    assert.deepEqual(body.reminders, { useDefault: true });
    assert.deepEqual(body.extendedProperties, { private: { sessionsync: '1', sessionsyncKey: tag.key, sessionsyncRevision: tag.revision } });
  });

  it('when the provider has reminders, then they are popup overrides in ascending minutes; [] is no reminder; null is the calendar defaults', () => {
    assert.deepEqual(toGoogleEvent(virtualEvent, tag, undefined, [60, 10]).reminders, {
      useDefault: false,
      overrides: [
        { method: 'popup', minutes: 10 },
        { method: 'popup', minutes: 60 },
      ],
    });
    assert.deepEqual(toGoogleEvent(virtualEvent, tag, undefined, []).reminders, { useDefault: false, overrides: [] });
    assert.deepEqual(toGoogleEvent(virtualEvent, tag, undefined, null).reminders, { useDefault: true });
  });

  it('when rendered, then there are no attendees, no conferenceData, no sequence, no iCalUID and no source', () => {
    const body: Record<string, unknown> = { ...toGoogleEvent(virtualEvent, tag) };

    for (const field of ['attendees', 'conferenceData', 'sequence', 'iCalUID', 'source', 'hangoutLink']) {
      assert.equal(field in body, false, field);
    }
  });

  it('when an id is given (insert), then the body carries it; without one (update), it has none', () => {
    assert.equal(toGoogleEvent(virtualEvent, tag, 'abcdefghij0123456789').id, 'abcdefghij0123456789');
    assert.equal('id' in toGoogleEvent(virtualEvent, tag), false);
  });

  it('when the session is cancelled, then the status is cancelled', () => {
    assert.equal(toGoogleEvent(aCalendarEvent({ status: 'cancelled' }), tag).status, 'cancelled');
  });
});

describe('fromGoogleEvent', () => {
  const ours = {
    id: 'abcdefghij0123456789',
    status: 'confirmed',
    summary: 'Telehealth session',
    location: 'https://telehealth.example.com/join/1',
    start: { dateTime: '2026-11-10T10:00:00-05:00', timeZone: 'America/New_York' },
    end: { dateTime: '2026-11-10T10:50:00-05:00', timeZone: 'America/New_York' },
    extendedProperties: { private: { sessionsync: '1', sessionsyncKey: 'prov-1/sess-1', sessionsyncRevision: 'rev-1' } },
  };

  it('when Google answers times with an offset, then they come back as UTC instants in toISOString form', () => {
    assert.deepEqual(fromGoogleEvent(ours), {
      externalId: 'abcdefghij0123456789',
      tag: { key: 'prov-1/sess-1', revision: 'rev-1' },
      start: '2026-11-10T15:00:00.000Z',
      end: '2026-11-10T15:50:00.000Z',
      summary: 'Telehealth session',
      location: 'https://telehealth.example.com/join/1',
      cancelled: false,
    });
  });

  it('when the event carries no tag of ours, then it is not ours (null)', () => {
    assert.equal(fromGoogleEvent({ ...ours, extendedProperties: undefined }), null);
    assert.equal(fromGoogleEvent({ ...ours, extendedProperties: { private: { sessionsyncKey: 'prov-1/sess-1' } } }), null);
    assert.equal(fromGoogleEvent({ ...ours, extendedProperties: { shared: { sessionsync: '1', sessionsyncKey: 'k' } } }), null);
  });

  it('when the event was deleted and Google kept only its id and tag, then it is cancelled with empty times', () => {
    const remote = fromGoogleEvent({ id: ours.id, status: 'cancelled', extendedProperties: ours.extendedProperties });

    assert.equal(remote?.cancelled, true);
    assert.equal(remote?.start, '');
    assert.equal(remote?.summary, '');
    assert.equal(remote?.location, null);
  });

  it('when a person turned it into an all-day event, then the date reads as UTC midnight (so it shows as drift)', () => {
    const remote = fromGoogleEvent({ ...ours, start: { date: '2026-11-10' }, end: { date: '2026-11-11' } });

    assert.equal(remote?.start, '2026-11-10T00:00:00.000Z');
    assert.equal(remote?.end, '2026-11-11T00:00:00.000Z');
  });

  it('when what we render is read back, then the tag and content round-trip', () => {
    const body = toGoogleEvent(virtualEvent, tag, 'abcdefghij0123456789');

    assert.deepEqual(tagOf(body), tag);
    const remote = fromGoogleEvent(body);
    assert.equal(remote?.start, virtualEvent.start);
    assert.equal(remote?.end, virtualEvent.end);
    assert.equal(remote?.summary, virtualEvent.summary);
    assert.equal(remote?.location, virtualEvent.location);
  });
});
