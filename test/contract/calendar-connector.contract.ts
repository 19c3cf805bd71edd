// The behaviour every CalendarConnector shows, whatever the vendor (CONVENTIONS.md rule 7): run
// against the fake Google and fake Graph servers with the real client libraries.
import { testJoinLinks } from '../support/builders.js';
import assert from 'node:assert/strict';
import { toCalendarEvent } from '../../src/domain/calendar-event.js';
import { SyncError, eventTagKey, idempotencyKeyFor } from '../../src/domain/index.js';
import type {
  CalendarConnector,
  CalendarEvent,
  ConnectorSession,
  ConnectorTarget,
  EventTag,
  OAuthTokens,
  Session,
  SyncErrorKind,
} from '../../src/domain/index.js';
import type { FakeCalendarServer, FakeStoredEvent } from '../fakes/fake-calendar.js';
import { aProvider, aSession, aVirtualLocation, anOfficeLocation } from '../support/builders.js';

export interface CalendarConnectorHarness {
  connector: CalendarConnector;
  fake: FakeCalendarServer;
  /** Tokens from fake.issueTokens(); onTokens pushes into refreshedTokens. */
  session: ConnectorSession;
  calendarId: string;
  refreshedTokens: OAuthTokens[];
}

/** One session's desired event in one connection, as the sync engine would hand it over. */
export interface Planned {
  target: ConnectorTarget;
  event: CalendarEvent;
  tag: EventTag;
}

export function planFor(h: CalendarConnectorHarness, overrides: Partial<Session> = {}, where: 'video' | 'office' = 'video'): Planned {
  const provider = aProvider();
  const session = aSession(overrides);
  const event = toCalendarEvent(session, provider, where === 'video' ? aVirtualLocation() : anOfficeLocation(), testJoinLinks);
  return {
    target: {
      connectionId: h.session.connectionId,
      calendarId: h.calendarId,
      idempotencyKey: idempotencyKeyFor(h.session.connectionId, provider.id, session.id),
    },
    event,
    tag: { key: eventTagKey(provider.id, session.id), revision: event.revision },
  };
}

/** Events of ours for one session that a person would see (not cancelled). */
export function liveEvents(h: CalendarConnectorHarness, key: string): FakeStoredEvent[] {
  return h.fake.events(h.calendarId).filter((e) => !e.cancelled && e.tag?.key === key);
}

export async function expectSyncError(promise: Promise<unknown>, kind: SyncErrorKind): Promise<SyncError> {
  const error = await promise.then(
    () => assert.fail(`expected a SyncError of kind ${kind}, but the call succeeded`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof SyncError, `expected a SyncError, got ${String(error)}`);
  assert.equal(error.kind, kind, `kind (code ${error.code})`);
  assert.match(error.code, /^[A-Z][A-Z0-9_]*$/, 'codes are SCREAMING_SNAKE and carry no data');
  return error;
}

export function describeCalendarConnectorContract(name: string, makeHarness: () => Promise<CalendarConnectorHarness>): void {
  describe(`CalendarConnector contract: ${name}`, () => {
    let h: CalendarConnectorHarness;

    beforeEach(async () => {
      h = await makeHarness();
    });

    afterEach(async () => {
      await h.fake.close();
    });

    async function create(p: Planned): Promise<string> {
      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);
      return externalId;
    }

    describe('upsert', () => {
      it('when an event is created and then upserted with new content, then exactly one event shows the new content', async () => {
        const first = planFor(h);
        const externalId = await create(first);
        const moved = planFor(h, { start: '2026-11-11T16:00:00.000Z', end: '2026-11-11T16:50:00.000Z' }, 'office');
        assert.notEqual(moved.tag.revision, first.tag.revision);

        const again = await h.connector.upsert(h.session, moved.target, externalId, moved.event, moved.tag);

        assert.equal(again.externalId, externalId);
        const [only, ...others] = liveEvents(h, first.tag.key);
        assert.deepEqual(others, []);
        assert.equal(only?.summary, 'In-person session');
        assert.equal(only?.location, anOfficeLocation().address);
        assert.equal(only?.start, '2026-11-11T16:00:00.000Z');
        assert.equal(only?.end, '2026-11-11T16:50:00.000Z');
        assert.deepEqual(only?.tag, moved.tag);
      });

      it('when upserted with one reminder, then the event has it; changed, the event is updated; [], the event has none', async () => {
        const p = planFor(h);
        const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag, [30]);
        assert.deepEqual(liveEvents(h, p.tag.key)[0]?.reminders, [30]);

        await h.connector.upsert(h.session, p.target, externalId, p.event, p.tag, [5]);
        assert.deepEqual(liveEvents(h, p.tag.key)[0]?.reminders, [5]);

        await h.connector.upsert(h.session, p.target, externalId, p.event, p.tag, []);
        const [only, ...others] = liveEvents(h, p.tag.key);
        assert.deepEqual(others, []);
        assert.deepEqual(only?.reminders, []);
      });

      it('when created without reminders, then the calendar\'s defaults apply', async () => {
        const p = planFor(h);
        await create(p);

        assert.equal(liveEvents(h, p.tag.key)[0]?.reminders, null);
      });

      it('when a new event is created, then the calendar holds it with our times, title, link and tag', async () => {
        const p = planFor(h);
        const externalId = await create(p);

        const [only, ...others] = liveEvents(h, p.tag.key);
        assert.deepEqual(others, []);
        assert.equal(only?.id, externalId);
        assert.equal(only?.summary, 'Telehealth session');
        assert.equal(only?.start, p.event.start);
        assert.equal(only?.end, p.event.end);
        assert.equal(only?.location, aVirtualLocation().url);
        assert.ok(only?.description?.includes(aVirtualLocation().url), 'the link is in the description');
        assert.deepEqual(only?.tag, p.tag);
      });

      it('when the event was deleted in the calendar and the upsert carries its stale id, then it is there again, once', async () => {
        const p = planFor(h);
        const externalId = await create(p);
        h.fake.deleteExternally(h.calendarId, externalId);
        assert.equal(liveEvents(h, p.tag.key).length, 0);

        const { externalId: now } = await h.connector.upsert(h.session, p.target, externalId, p.event, p.tag);

        const live = liveEvents(h, p.tag.key);
        assert.equal(live.length, 1);
        assert.equal(live[0]?.id, now);
        assert.equal(live[0]?.start, p.event.start);
      });

      it('when the response to a create is lost and the create is retried, then there is still exactly one event', async () => {
        const p = planFor(h);
        h.fake.inject({ operation: 'create', network: 'drop-response' });

        await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'retryable');
        assert.equal(liveEvents(h, p.tag.key).length, 1, 'the lost create was applied');
        const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);

        const live = liveEvents(h, p.tag.key);
        assert.equal(live.length, 1);
        assert.equal(live[0]?.id, externalId);
        assert.equal(h.fake.events(h.calendarId).filter((e) => e.tag?.key === p.tag.key).length, 1, 'no second event, cancelled or not');
      });
    });

    describe('remove', () => {
      it('when an event is removed twice, then both calls succeed and no event of ours is left to see', async () => {
        const p = planFor(h);
        const externalId = await create(p);

        await h.connector.remove(h.session, externalId);
        await h.connector.remove(h.session, externalId);

        assert.deepEqual(liveEvents(h, p.tag.key), []);
      });

      it('when an id the calendar never had is removed, then it succeeds and nothing changes', async () => {
        const p = planFor(h);
        await create(p);
        const unknown = idempotencyKeyFor(h.session.connectionId, 'prov-1', 'never-synced');

        await h.connector.remove(h.session, unknown);

        assert.equal(liveEvents(h, p.tag.key).length, 1);
      });
    });

    describe('removeByKey', () => {
      it('when an event was created but its id never recorded, then removeByKey deletes it, and a second call finds nothing', async () => {
        const p = planFor(h);
        await create(p);

        await h.connector.removeByKey(h.session, p.target, p.tag.key);
        await h.connector.removeByKey(h.session, p.target, p.tag.key);

        assert.deepEqual(liveEvents(h, p.tag.key), []);
      });

      it('when no event of ours carries the key, then it succeeds and another session\'s event and a person\'s own stay', async () => {
        const mine = planFor(h);
        await create(mine);
        const own = h.fake.addUntaggedEvent(h.calendarId, 'Dentist', '2026-11-10T18:00:00.000Z', '2026-11-10T19:00:00.000Z');
        const other = idempotencyKeyFor(h.session.connectionId, 'prov-1', 'never-synced');

        await h.connector.removeByKey(h.session, { ...mine.target, idempotencyKey: other }, 'prov-1/never-synced');

        assert.equal(liveEvents(h, mine.tag.key).length, 1);
        assert.ok(h.fake.events(h.calendarId).some((e) => e.id === own && !e.cancelled));
      });
    });

    describe('listTagged', () => {
      it('when the calendar holds our events and a person\'s own event, then only ours come back, with their tags and UTC times', async () => {
        const a = planFor(h, { id: 'sess-a' });
        const b = planFor(h, { id: 'sess-b', start: '2026-11-12T14:00:00.000Z', end: '2026-11-12T14:50:00.000Z' }, 'office');
        const idA = await create(a);
        const idB = await create(b);
        h.fake.addUntaggedEvent(h.calendarId, 'Dentist', '2026-11-10T18:00:00.000Z', '2026-11-10T19:00:00.000Z');

        const listed = await h.connector.listTagged(h.session, { from: '2026-11-01T00:00:00.000Z' });

        const byId = new Map(listed.map((r) => [r.externalId, r]));
        assert.equal(listed.length, 2);
        assert.deepEqual(byId.get(idA), {
          externalId: idA,
          tag: a.tag,
          start: a.event.start,
          end: a.event.end,
          summary: 'Telehealth session',
          location: aVirtualLocation().url,
          cancelled: false,
        });
        assert.deepEqual(byId.get(idB), {
          externalId: idB,
          tag: b.tag,
          start: '2026-11-12T14:00:00.000Z',
          end: '2026-11-12T14:50:00.000Z',
          summary: 'In-person session',
          location: anOfficeLocation().address,
          cancelled: false,
        });
      });

      it('when an event of ours ended before `from`, then it is not listed', async () => {
        const past = planFor(h, { id: 'sess-past', start: '2026-10-01T15:00:00.000Z', end: '2026-10-01T15:50:00.000Z' });
        const future = planFor(h, { id: 'sess-future' });
        await create(past);
        const futureId = await create(future);

        const listed = await h.connector.listTagged(h.session, { from: '2026-11-01T00:00:00.000Z' });

        assert.deepEqual(listed.map((r) => r.externalId), [futureId]);
      });

      it('when a person edited our event by hand, then the edit shows in listTagged (drift is visible)', async () => {
        const p = planFor(h);
        const externalId = await create(p);
        h.fake.editExternally(h.calendarId, externalId, { summary: 'Moved by hand', start: '2026-11-10T16:00:00.000Z', end: '2026-11-10T16:50:00.000Z' });

        const [remote] = await h.connector.listTagged(h.session, { from: '2026-11-01T00:00:00.000Z' });

        assert.equal(remote?.summary, 'Moved by hand');
        assert.equal(remote?.start, '2026-11-10T16:00:00.000Z');
        assert.equal(remote?.end, '2026-11-10T16:50:00.000Z');
        assert.deepEqual(remote?.tag, p.tag, 'the tag still names the revision we wrote');
      });
    });

    describe('readBusy', () => {
      const WINDOW = { from: '2026-11-10T00:00:00.000Z', to: '2026-11-12T00:00:00.000Z', providerZone: 'America/New_York' };

      it('when the calendar holds our events and a person\'s own, then only the person\'s are busy time, merged, clipped to the window, in UTC', async () => {
        await create(planFor(h));
        h.fake.addUntaggedEvent(h.calendarId, 'Dentist', '2026-11-10T18:00:00.000Z', '2026-11-10T19:00:00.000Z');
        h.fake.addUntaggedEvent(h.calendarId, 'Lunch with Ada', '2026-11-10T18:30:00.000Z', '2026-11-10T19:30:00.000Z');
        h.fake.addUntaggedEvent(h.calendarId, 'Late flight', '2026-11-09T23:00:00.000Z', '2026-11-10T01:00:00.000Z');
        h.fake.addUntaggedEvent(h.calendarId, 'Next week', '2026-11-17T18:00:00.000Z', '2026-11-17T19:00:00.000Z');

        const busy = await h.connector.readBusy(h.session, WINDOW);

        assert.deepEqual(busy, [
          { start: '2026-11-10T00:00:00.000Z', end: '2026-11-10T01:00:00.000Z' },
          { start: '2026-11-10T18:00:00.000Z', end: '2026-11-10T19:30:00.000Z' },
        ]);
      });

      it('when the calendar holds nothing in the window, then there is no busy time', async () => {
        h.fake.addUntaggedEvent(h.calendarId, 'Next week', '2026-11-17T18:00:00.000Z', '2026-11-17T19:00:00.000Z');

        assert.deepEqual(await h.connector.readBusy(h.session, WINDOW), []);
      });

      it('when the access token has expired at the vendor, then it is refreshed, the read succeeds and the new tokens are handed back', async () => {
        h.fake.addUntaggedEvent(h.calendarId, 'Dentist', '2026-11-10T18:00:00.000Z', '2026-11-10T19:00:00.000Z');
        h.fake.expireAccessTokens();

        const busy = await h.connector.readBusy(h.session, WINDOW);

        assert.equal(busy.length, 1);
        assert.equal(h.refreshedTokens.length, 1);
        assert.notEqual(h.refreshedTokens[0]?.accessToken, h.session.tokens.accessToken);
      });

      it('when the grant was revoked and the access token expired, then the SyncError is auth INVALID_GRANT (the connection needs re-authorisation)', async () => {
        h.fake.expireAccessTokens();
        h.fake.revokeGrants();

        const error = await expectSyncError(h.connector.readBusy(h.session, WINDOW), 'auth');

        assert.equal(error.code, 'INVALID_GRANT');
      });

      it('when the vendor answers 503, then the SyncError is retryable', async () => {
        h.fake.inject({ operation: 'list', status: 503 });

        await expectSyncError(h.connector.readBusy(h.session, WINDOW), 'retryable');
      });

      it('when the window is not in UTC instants, then the SyncError is permanent INVALID_RANGE and the vendor is not asked', async () => {
        const error = await expectSyncError(h.connector.readBusy(h.session, { ...WINDOW, from: '2026-11-10T00:00:00' }), 'permanent');

        assert.equal(error.code, 'INVALID_RANGE');
        assert.equal(h.fake.requestCount('list'), 0);
      });
    });

    describe('failures', () => {
      it('when the vendor answers 429 with Retry-After: 7, then a retryable SyncError says to wait 7000 ms, and a retry succeeds', async () => {
        const p = planFor(h);
        h.fake.inject({ operation: 'create', status: 429, retryAfterSeconds: 7 });

        const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'retryable');

        assert.equal(error.retryAfterMs, 7000);
        assert.equal(liveEvents(h, p.tag.key).length, 0);
        await h.connector.upsert(h.session, p.target, null, p.event, p.tag);
        assert.equal(liveEvents(h, p.tag.key).length, 1);
      });

      it('when the vendor answers 503, then the SyncError is retryable', async () => {
        h.fake.inject({ operation: 'list', status: 503 });

        await expectSyncError(h.connector.listTagged(h.session, { from: '2026-11-01T00:00:00.000Z' }), 'retryable');
      });

      it('when the connection is reset before the request is applied, then the SyncError is retryable and nothing changed', async () => {
        const p = planFor(h);
        const externalId = await create(p);
        const moved = planFor(h, { start: '2026-11-11T16:00:00.000Z', end: '2026-11-11T16:50:00.000Z' });
        h.fake.inject({ operation: 'update', network: 'reset' });

        await expectSyncError(h.connector.upsert(h.session, moved.target, externalId, moved.event, moved.tag), 'retryable');

        assert.equal(liveEvents(h, p.tag.key)[0]?.start, p.event.start);
      });

      it('when the vendor answers 400, then the SyncError is permanent', async () => {
        const p = planFor(h);
        h.fake.inject({ operation: 'create', status: 400 });

        await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'permanent');
      });
    });

    describe('tokens', () => {
      it('when the access token has expired at the vendor, then it is refreshed transparently, the call succeeds and the new tokens are handed back', async () => {
        const p = planFor(h);
        const before = h.session.tokens;
        h.fake.expireAccessTokens();

        await create(p);

        assert.equal(liveEvents(h, p.tag.key).length, 1);
        const latest = h.refreshedTokens.at(-1);
        assert.ok(latest, 'onTokens was called');
        assert.notEqual(latest.accessToken, before.accessToken);
        assert.equal(typeof latest.refreshToken, 'string', 'a refresh token is still held');
        assert.equal(typeof latest.expiresAt, 'number');
      });

      it('when the call needs no refresh, then onTokens is not called', async () => {
        await create(planFor(h));

        assert.deepEqual(h.refreshedTokens, []);
      });

      it('when the grant was revoked and the access token expired, then the SyncError is of kind auth', async () => {
        const p = planFor(h);
        h.fake.expireAccessTokens();
        h.fake.revokeGrants();

        await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'auth');

        assert.equal(liveEvents(h, p.tag.key).length, 0);
      });
    });
  });
}
