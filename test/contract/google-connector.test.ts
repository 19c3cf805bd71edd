import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createGoogleConnector, createGoogleOAuth, GOOGLE_DEFAULT_SCOPES } from '../../connectors/google/index.js';
import type { GoogleConfig } from '../../connectors/google/index.js';
import type { ConnectorSession, OAuthTokens } from '../../src/domain/index.js';
import { startFakeGoogle } from '../fakes/fake-google.js';
import type { FakeGoogle, FakeGoogleOptions } from '../fakes/fake-google.js';
import { describeCalendarConnectorContract, expectSyncError, liveEvents, planFor } from './calendar-connector.contract.js';
import type { CalendarConnectorHarness } from './calendar-connector.contract.js';
import { googleConfigOf } from '../support/sync-harness.js';

const REDIRECT_URI = 'https://sessionsync.test/oauth/google/callback';

function googleConfig(fake: FakeGoogle): GoogleConfig {
  return googleConfigOf(fake, REDIRECT_URI);
}

interface GoogleHarness extends CalendarConnectorHarness {
  fake: FakeGoogle;
}

async function googleHarness(
  options: FakeGoogleOptions & { calendarId?: string; tokens?: (issued: ReturnType<FakeGoogle['issueTokens']>) => OAuthTokens; onTokens?: (t: OAuthTokens) => Promise<void> } = {},
): Promise<GoogleHarness> {
  const fake = await startFakeGoogle(options);
  const issued = fake.issueTokens();
  const refreshedTokens: OAuthTokens[] = [];
  const calendarId = options.calendarId ?? 'primary';
  const session: ConnectorSession = {
    connectionId: 'conn-google-1',
    calendarId,
    tokens: options.tokens?.(issued) ?? { accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresAt: issued.expiresAt, scope: GOOGLE_DEFAULT_SCOPES.join(' ') },
    onTokens:
      options.onTokens ??
      (async (tokens) => {
        refreshedTokens.push(tokens);
      }),
  };
  return { connector: createGoogleConnector(googleConfig(fake)), fake, session, calendarId, refreshedTokens };
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

const FROM = '2026-11-01T00:00:00.000Z';

describeCalendarConnectorContract('Google Calendar (fake Google, real googleapis client)', () => googleHarness());

describe('Google connector', () => {
  let h: GoogleHarness;

  afterEach(async () => {
    await h?.fake.close();
  });

  describe('rate limits and errors', () => {
    beforeEach(async () => {
      h = await googleHarness();
    });

    it('when Google answers 403 userRateLimitExceeded, then the SyncError is retryable and the client sent the insert once', async () => {
      const p = planFor(h);
      h.fake.inject({ operation: 'create', status: 403, reason: 'userRateLimitExceeded' });

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'retryable');

      assert.equal(error.code, 'RATE_LIMITED');
      assert.equal(h.fake.requestCount('create'), 1);
      assert.equal(h.fake.requestCount('token'), 0, 'a 403 is not taken for an expired token');
    });

    it('when Google answers 403 rateLimitExceeded with Retry-After, then the wait is passed on', async () => {
      const p = planFor(h);
      h.fake.inject({ operation: 'create', status: 403, reason: 'rateLimitExceeded', retryAfterSeconds: 30 });

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'retryable');

      assert.equal(error.retryAfterMs, 30_000);
    });

    it('when Google answers 403 quotaExceeded (calendar usage limits), then it is retryable as QUOTA_EXCEEDED', async () => {
      const p = planFor(h);
      h.fake.inject({ operation: 'create', status: 403, reason: 'quotaExceeded' });

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'retryable');

      assert.equal(error.code, 'QUOTA_EXCEEDED');
    });

    it('when Google answers 403 forbidden, then the SyncError is permanent HTTP_403 and no token refresh is tried', async () => {
      const p = planFor(h);
      h.fake.inject({ operation: 'create', status: 403, reason: 'forbidden' });

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'permanent');

      assert.equal(error.code, 'HTTP_403');
      assert.equal(h.fake.requestCount('create'), 1);
      assert.equal(h.fake.requestCount('token'), 0);
    });

    it('when an update (PUT, which gaxios would retry by default) gets 503, then the library does not retry it', async () => {
      const p = planFor(h);
      const externalId = (await h.connector.upsert(h.session, p.target, null, p.event, p.tag)).externalId;
      h.fake.inject({ operation: 'update', status: 503, times: 5 });

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, externalId, p.event, p.tag), 'retryable');

      assert.equal(error.code, 'HTTP_503');
      assert.equal(h.fake.requestCount('update'), 1);
    });

    it('when a list (GET) connection is reset, then the library does not retry it and the error is retryable', async () => {
      h.fake.inject({ operation: 'list', network: 'reset', times: 5 });

      const error = await expectSyncError(h.connector.listTagged(h.session, { from: FROM }), 'retryable');

      assert.equal(error.code, 'NETWORK_ERROR');
      assert.equal(h.fake.requestCount('list'), 1);
    });

    it('when a delete gets 500, then the SyncError is retryable HTTP_500', async () => {
      const p = planFor(h);
      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);
      h.fake.inject({ operation: 'delete', status: 500 });

      const error = await expectSyncError(h.connector.remove(h.session, externalId), 'retryable');

      assert.equal(error.code, 'HTTP_500');
      assert.equal(liveEvents(h, p.tag.key).length, 1);
    });

    it('when the calendar does not exist (404 on insert), then the SyncError is permanent HTTP_404', async () => {
      const p = planFor(h);
      h.fake.inject({ operation: 'create', status: 404 });

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'permanent');

      assert.equal(error.code, 'HTTP_404');
    });

    it('when an error is raised, then neither its code nor its message carries event text or tokens', async () => {
      const p = planFor(h);
      h.fake.inject({ operation: 'create', status: 400 });

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'permanent');

      const text = `${error.code} ${error.message} ${String(error.cause)}`;
      assert.doesNotMatch(text, /Telehealth session|zoom\.us/);
      assert.ok(!text.includes(h.session.tokens.accessToken));
      assert.equal(error.cause, undefined, 'the client error (which holds the request) is not kept');
    });
  });

  describe('idempotent creates with our own event id', () => {
    beforeEach(async () => {
      h = await googleHarness();
    });

    it('when the event is created, then its Google id is the target\'s idempotency key', async () => {
      const p = planFor(h);

      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);

      assert.equal(externalId, p.target.idempotencyKey);
    });

    it('when our event was deleted and is created again (409, the id is kept by the cancelled event), then it is restored, not duplicated', async () => {
      const p = planFor(h);
      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);
      await h.connector.remove(h.session, externalId);
      assert.equal(h.fake.events(h.calendarId)[0]?.cancelled, true);

      const again = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);

      assert.equal(again.externalId, externalId);
      const all = h.fake.events(h.calendarId);
      assert.equal(all.length, 1);
      assert.equal(all[0]?.cancelled, false);
      assert.equal(h.fake.requestCount('create'), 2);
      assert.equal(h.fake.requestCount('get'), 1);
    });

    it('when our id is held by an event that is not ours, then it is left alone and the error is permanent', async () => {
      const p = planFor(h);
      h.fake.putRawEvent(h.calendarId, {
        kind: 'calendar#event',
        id: p.target.idempotencyKey,
        status: 'confirmed',
        summary: 'Not ours',
        start: { dateTime: '2026-11-10T15:00:00Z' },
        end: { dateTime: '2026-11-10T16:00:00Z' },
      });

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'permanent');

      assert.equal(error.code, 'EVENT_ID_TAKEN');
      assert.equal(h.fake.events(h.calendarId)[0]?.summary, 'Not ours');
      assert.equal(h.fake.requestCount('update'), 0);
    });

    it('when the stored id is gone for good (404 on update), then the event is inserted under our id', async () => {
      const p = planFor(h);

      const { externalId } = await h.connector.upsert(h.session, p.target, 'someoldid00000', p.event, p.tag);

      assert.equal(externalId, p.target.idempotencyKey);
      assert.equal(liveEvents(h, p.tag.key).length, 1);
    });
  });

  describe('what is written', () => {
    beforeEach(async () => {
      h = await googleHarness({ calendarId: 'ada@example.org' });
    });

    it('when an event is written, then it has no attendees, no conferenceData, no sequence, and carries our private extended properties', async () => {
      const p = planFor(h);

      await h.connector.upsert(h.session, p.target, null, p.event, p.tag);

      const raw = h.fake.events(h.calendarId)[0]?.raw ?? {};
      assert.equal('attendees' in raw, false);
      assert.equal('conferenceData' in raw, false);
      assert.equal(raw.sequence, 0, 'Google\'s own sequence, not ours');
      assert.deepEqual(raw.extendedProperties, { private: { sessionsync: '1', sessionsyncKey: p.tag.key, sessionsyncRevision: p.tag.revision } });
      assert.equal(raw.visibility, 'private');
      assert.equal(raw.transparency, 'opaque');
      assert.equal(raw.guestsCanInviteOthers, false);
      assert.deepEqual(raw.reminders, { useDefault: true });
      assert.deepEqual(raw.start, { dateTime: '2026-11-10T10:00:00-05:00', timeZone: 'America/New_York' });
    });

    it('when reminders are set, then Google stores popup overrides (all of them, ascending); back to null, the calendar\'s defaults again', async () => {
      const p = planFor(h);
      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag, [60, 10]);
      assert.deepEqual(h.fake.events(h.calendarId)[0]?.raw.reminders, {
        useDefault: false,
        overrides: [
          { method: 'popup', minutes: 10 },
          { method: 'popup', minutes: 60 },
        ],
      });

      await h.connector.upsert(h.session, p.target, externalId, p.event, p.tag, []);
      assert.deepEqual(h.fake.events(h.calendarId)[0]?.raw.reminders, { useDefault: false });

      await h.connector.upsert(h.session, p.target, externalId, p.event, p.tag, null);
      assert.deepEqual(h.fake.events(h.calendarId)[0]?.raw.reminders, { useDefault: true });
    });

    it('when events are inserted, updated and deleted, then every write says sendUpdates=none', async () => {
      const p = planFor(h);
      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);
      await h.connector.upsert(h.session, p.target, externalId, p.event, p.tag);
      await h.connector.remove(h.session, externalId);

      const writes = h.fake.requests.filter((r) => r.operation === 'create' || r.operation === 'update' || r.operation === 'delete');
      assert.deepEqual(
        writes.map((r) => [r.operation, r.query.get('sendUpdates')]),
        [
          ['create', 'none'],
          ['update', 'none'],
          ['delete', 'none'],
        ],
      );
      assert.ok(writes.every((r) => r.path.startsWith('/calendar/v3/calendars/ada%40example.org/events')), 'calendar id is path-encoded');
    });

    it('when the event is updated, then it is a full replace (PUT), not a patch', async () => {
      const p = planFor(h);
      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);
      await h.connector.upsert(h.session, p.target, externalId, p.event, p.tag);

      assert.deepEqual(
        h.fake.requests.filter((r) => r.operation === 'update').map((r) => r.method),
        ['PUT'],
      );
    });
  });

  describe('listTagged', () => {
    it('when listing, then the request filters on our private property, shows deleted events, expands series and asks for full pages', async () => {
      h = await googleHarness();

      await h.connector.listTagged(h.session, { from: FROM });

      const [request] = h.fake.requests.filter((r) => r.operation === 'list');
      assert.deepEqual(request?.query.getAll('privateExtendedProperty'), ['sessionsync=1']);
      assert.equal(request?.query.get('showDeleted'), 'true');
      assert.equal(request?.query.get('singleEvents'), 'true');
      assert.equal(request?.query.get('maxResults'), '2500');
      assert.equal(request?.query.get('timeMin'), FROM);
    });

    it('when Google pages the answer, then every page is followed', async () => {
      h = await googleHarness({ pageSize: 2 });
      for (const id of ['s1', 's2', 's3', 's4', 's5']) {
        const p = planFor(h, { id });
        await h.connector.upsert(h.session, p.target, null, p.event, p.tag);
      }

      const listed = await h.connector.listTagged(h.session, { from: FROM });

      assert.equal(listed.length, 5);
      assert.equal(new Set(listed.map((r) => r.tag.key)).size, 5);
      assert.equal(h.fake.requestCount('list'), 3);
    });

    it('when one of our events was deleted, then it is listed as cancelled', async () => {
      h = await googleHarness();
      const p = planFor(h);
      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);
      await h.connector.remove(h.session, externalId);

      const listed = await h.connector.listTagged(h.session, { from: FROM });

      assert.deepEqual(listed.map((r) => [r.externalId, r.cancelled]), [[externalId, true]]);
    });
  });

  describe('readBusy', () => {
    const WINDOW = { from: '2026-11-01T00:00:00.000Z', to: '2026-11-15T00:00:00.000Z', providerZone: 'America/New_York' };
    const BUSY_MASK = 'items(start,end,status,transparency,eventType,attendees(self,responseStatus),extendedProperties/private),nextPageToken';
    let seq = 0;

    /** A person's own event as Google stores it, titled, placed and with a guest. */
    function putEvent(fields: Record<string, unknown>): string {
      seq += 1;
      const id = `own${String(seq).padStart(5, '0')}`;
      h.fake.putRawEvent(h.calendarId, {
        kind: 'calendar#event',
        id,
        status: 'confirmed',
        summary: 'Dentist with Dr Who',
        location: '12 Harley Street',
        description: 'Root canal',
        attendees: [{ email: 'guest@example.org', responseStatus: 'accepted' }],
        start: { dateTime: '2026-11-10T13:00:00-05:00', timeZone: 'America/New_York' },
        end: { dateTime: '2026-11-10T14:00:00-05:00', timeZone: 'America/New_York' },
        ...fields,
      });
      return id;
    }

    it('when busy time is read, then events.list asks for single events in the window with a fields mask, and no title, place or guest comes back', async () => {
      h = await googleHarness({ calendarId: 'ada@example.org' });
      putEvent({});

      const busy = await h.connector.readBusy(h.session, WINDOW);

      assert.deepEqual(busy, [{ start: '2026-11-10T18:00:00.000Z', end: '2026-11-10T19:00:00.000Z' }]);
      const [request, ...more] = h.fake.requests.filter((r) => r.operation === 'list');
      assert.deepEqual(more, []);
      assert.equal(request?.path, '/calendar/v3/calendars/ada%40example.org/events');
      assert.deepEqual(Object.fromEntries(request?.query ?? []), {
        timeMin: WINDOW.from,
        timeMax: WINDOW.to,
        singleEvents: 'true',
        maxResults: '2500',
        fields: BUSY_MASK,
      });
      const answered = request?.responseBody ?? '';
      assert.match(answered, /"dateTime":"2026-11-10T13:00:00-05:00"/);
      for (const secret of ['Dentist', 'Harley', 'Root canal', 'guest@example.org', 'summary', 'htmlLink']) assert.ok(!answered.includes(secret), `${secret} left Google`);
    });

    it('when events are cancelled, free, a working location, declined or ours, then they are not busy; confirmed and tentative ones are', async () => {
      h = await googleHarness();
      const on = (day: number) => ({ start: { dateTime: `2026-11-0${day}T15:00:00Z` }, end: { dateTime: `2026-11-0${day}T15:30:00Z` } });
      putEvent({ ...on(1), status: 'cancelled' });
      putEvent({ ...on(2), transparency: 'transparent' });
      putEvent({ ...on(3), eventType: 'workingLocation', transparency: 'opaque' });
      putEvent({ ...on(4), attendees: [{ email: 'provider@example.com', self: true, responseStatus: 'declined' }] });
      putEvent({ ...on(5), extendedProperties: { private: { sessionsync: '1', sessionsyncKey: 'prov-1/sess-9', sessionsyncRevision: 'r1' } } });
      putEvent({ ...on(6), transparency: 'opaque' });
      putEvent({ ...on(7), status: 'tentative', attendees: [{ email: 'provider@example.com', self: true, responseStatus: 'tentative' }] });
      const ours = planFor(h);
      await h.connector.upsert(h.session, ours.target, null, ours.event, ours.tag);

      const busy = await h.connector.readBusy(h.session, WINDOW);

      assert.deepEqual(busy, [
        { start: '2026-11-06T15:00:00.000Z', end: '2026-11-06T15:30:00.000Z' },
        { start: '2026-11-07T15:00:00.000Z', end: '2026-11-07T15:30:00.000Z' },
      ]);
    });

    it('when all-day events fall on days a DST change makes 25 and 23 hours long, then each is busy from midnight to midnight in the provider\'s zone', async () => {
      h = await googleHarness();
      putEvent({ start: { date: '2026-11-01' }, end: { date: '2026-11-02' } });
      putEvent({ start: { date: '2027-03-14' }, end: { date: '2027-03-16' } });

      const busy = await h.connector.readBusy(h.session, { ...WINDOW, from: '2026-10-25T00:00:00.000Z', to: '2027-04-01T00:00:00.000Z' });

      assert.deepEqual(busy, [
        // 1 November 2026: EDT until 02:00, then EST: 25 hours.
        { start: '2026-11-01T04:00:00.000Z', end: '2026-11-02T05:00:00.000Z' },
        // 14 March 2027 (EST until 02:00, then EDT: 23 hours) and 15 March.
        { start: '2027-03-14T05:00:00.000Z', end: '2027-03-16T04:00:00.000Z' },
      ]);
      const inTokyo = await h.connector.readBusy(h.session, { from: '2026-10-25T00:00:00.000Z', to: '2026-11-05T00:00:00.000Z', providerZone: 'Asia/Tokyo' });
      assert.deepEqual(inTokyo, [{ start: '2026-10-31T15:00:00.000Z', end: '2026-11-01T15:00:00.000Z' }]);
    });

    it('when Google pages the answer, then every page is read with the same window and mask', async () => {
      h = await googleHarness({ pageSize: 2 });
      for (let day = 2; day <= 6; day += 1) putEvent({ start: { dateTime: `2026-11-0${day}T15:00:00Z` }, end: { dateTime: `2026-11-0${day}T16:00:00Z` } });

      const busy = await h.connector.readBusy(h.session, WINDOW);

      assert.equal(busy.length, 5);
      const pages = h.fake.requests.filter((r) => r.operation === 'list');
      assert.equal(pages.length, 3);
      assert.deepEqual(pages.map((r) => r.query.has('pageToken')), [false, true, true]);
      assert.ok(pages.every((r) => r.query.get('fields') === BUSY_MASK && r.query.get('timeMin') === WINDOW.from && r.query.get('timeMax') === WINDOW.to));
    });

    it('when Google answers 401 to a token our clock still trusts, then it is refreshed once and the read retried, and the new tokens are handed back', async () => {
      h = await googleHarness();
      putEvent({});
      h.fake.inject({ operation: 'list', status: 401 });

      const busy = await h.connector.readBusy(h.session, WINDOW);

      assert.equal(busy.length, 1);
      assert.deepEqual(h.fake.requests.map((r) => r.operation), ['list', 'token', 'list']);
      assert.equal(h.refreshedTokens.length, 1);
    });

    it('when the refresh after a 401 answers invalid_grant, then the SyncError is auth INVALID_GRANT, as for the other calls', async () => {
      h = await googleHarness();
      h.fake.inject({ operation: 'list', status: 401 });
      h.fake.inject({ operation: 'token', status: 400, reason: 'invalid_grant' });

      const error = await expectSyncError(h.connector.readBusy(h.session, WINDOW), 'auth');

      assert.equal(error.code, 'INVALID_GRANT');
      assert.equal(h.fake.requestCount('list'), 1);
    });
  });

  describe('tokens', () => {
    it('when Google refreshes the access token, then the refresh token we hold is kept (Google omits it on refresh)', async () => {
      h = await googleHarness();
      const p = planFor(h);
      h.fake.expireAccessTokens();

      await h.connector.upsert(h.session, p.target, null, p.event, p.tag);

      assert.equal(h.refreshedTokens.length, 1);
      assert.equal(h.refreshedTokens[0]?.refreshToken, h.session.tokens.refreshToken);
      assert.equal(h.fake.requestCount('token'), 1);
      assert.equal(h.fake.requestCount('create'), 2, 'the 401 and the retry after refreshing');
    });

    it('when our clock already says the token expired, then it is refreshed before the call (no 401 round trip)', async () => {
      h = await googleHarness({ tokens: (issued) => ({ accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresAt: Date.now() - 60_000, scope: null }) });
      const p = planFor(h);

      await h.connector.upsert(h.session, p.target, null, p.event, p.tag);

      assert.deepEqual(h.fake.requests.map((r) => r.operation), ['token', 'create']);
      assert.equal(h.refreshedTokens.length, 1);
    });

    it('when the expiry is unknown, then the token is refreshed first and the expiry learnt', async () => {
      h = await googleHarness({ tokens: (issued) => ({ accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresAt: null, scope: null }) });

      await h.connector.listTagged(h.session, { from: FROM });

      assert.deepEqual(h.fake.requests.map((r) => r.operation), ['token', 'list']);
      assert.equal(typeof h.refreshedTokens[0]?.expiresAt, 'number');
    });

    it('when Google still answers 401 after a refresh, then the SyncError is auth UNAUTHORIZED after exactly one refresh', async () => {
      h = await googleHarness();
      const p = planFor(h);
      h.fake.inject({ operation: 'create', status: 401, times: 2 });

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'auth');

      assert.equal(error.code, 'UNAUTHORIZED');
      assert.equal(h.fake.requestCount('token'), 1);
      assert.equal(h.fake.requestCount('create'), 2);
    });

    it('when the refresh answers invalid_grant, then the SyncError is auth INVALID_GRANT', async () => {
      h = await googleHarness();
      const p = planFor(h);
      h.fake.expireAccessTokens();
      h.fake.inject({ operation: 'token', status: 400, reason: 'invalid_grant' });

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'auth');

      assert.equal(error.code, 'INVALID_GRANT');
    });

    it('when the token endpoint answers 503, then the SyncError is retryable and the refresh was tried once', async () => {
      h = await googleHarness();
      h.fake.expireAccessTokens();
      h.fake.inject({ operation: 'token', status: 503, times: 5 });

      await expectSyncError(h.connector.listTagged(h.session, { from: FROM }), 'retryable');

      assert.equal(h.fake.requestCount('token'), 1);
    });

    it('when the refreshed tokens cannot be stored, then the call fails retryably after the write, which a retry repeats harmlessly', async () => {
      h = await googleHarness({
        onTokens: async () => {
          throw new Error('store down');
        },
      });
      const p = planFor(h);
      h.fake.expireAccessTokens();

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'retryable');

      assert.equal(error.code, 'TOKEN_PERSIST_FAILED');
      assert.equal(liveEvents(h, p.tag.key).length, 1);
    });
  });

  describe('OAuth', () => {
    beforeEach(async () => {
      h = await googleHarness();
    });

    it('when building the consent URL, then it asks for offline access with PKCE S256, our scopes, state and redirect URI', () => {
      const oauth = createGoogleOAuth(googleConfig(h.fake));

      const url = new URL(oauth.authorizeUrl({ state: 'st-123', codeChallenge: 'challenge-abc' }));

      assert.equal(`${url.origin}${url.pathname}`, h.fake.authUrl);
      assert.deepEqual(Object.fromEntries(url.searchParams), {
        client_id: h.fake.clientId,
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: 'https://www.googleapis.com/auth/calendar.events openid email',
        state: 'st-123',
        code_challenge: 'challenge-abc',
        code_challenge_method: 'S256',
        access_type: 'offline',
        prompt: 'consent',
        include_granted_scopes: 'true',
      });
    });

    it('when a code is exchanged with its verifier, then tokens and the account email come back', async () => {
      const oauth = createGoogleOAuth(googleConfig(h.fake));
      const { verifier, challenge } = pkce();
      const code = h.fake.issueAuthorizationCode(challenge, REDIRECT_URI);

      const { tokens, accountEmail } = await oauth.exchangeCode({ code, codeVerifier: verifier });

      assert.equal(accountEmail, h.fake.accountEmail);
      assert.equal(typeof tokens.accessToken, 'string');
      assert.equal(typeof tokens.refreshToken, 'string');
      assert.ok(tokens.expiresAt !== null && tokens.expiresAt > Date.now());
      assert.match(tokens.scope ?? '', /calendar\.events/);
      const [request] = h.fake.requests.filter((r) => r.operation === 'token');
      assert.deepEqual(request?.body, {
        client_id: h.fake.clientId,
        client_secret: h.fake.clientSecret,
        code,
        code_verifier: verifier,
        grant_type: 'authorization_code',
        redirect_uri: REDIRECT_URI,
      });
    });

    it('when the exchanged tokens are used, then the connector works with them', async () => {
      const oauth = createGoogleOAuth(googleConfig(h.fake));
      const { verifier, challenge } = pkce();
      const { tokens } = await oauth.exchangeCode({ code: h.fake.issueAuthorizationCode(challenge, REDIRECT_URI), codeVerifier: verifier });
      const p = planFor(h);

      await h.connector.upsert({ ...h.session, tokens }, p.target, null, p.event, p.tag);

      assert.equal(liveEvents(h, p.tag.key).length, 1);
    });

    it('when the consent screen redirects back, then its code exchanges (the whole browser round trip)', async () => {
      const oauth = createGoogleOAuth(googleConfig(h.fake));
      const { verifier, challenge } = pkce();

      const consent = await fetch(oauth.authorizeUrl({ state: 'st-9', codeChallenge: challenge }), { redirect: 'manual' });
      const callback = new URL(consent.headers.get('location') ?? '');
      const { tokens } = await oauth.exchangeCode({ code: callback.searchParams.get('code') ?? '', codeVerifier: verifier });

      assert.equal(consent.status, 302);
      assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
      assert.equal(callback.searchParams.get('state'), 'st-9');
      assert.equal(typeof tokens.refreshToken, 'string');
    });

    it('when a code is used twice, then the second exchange is an auth error', async () => {
      const oauth = createGoogleOAuth(googleConfig(h.fake));
      const { verifier, challenge } = pkce();
      const code = h.fake.issueAuthorizationCode(challenge, REDIRECT_URI);
      await oauth.exchangeCode({ code, codeVerifier: verifier });

      const error = await expectSyncError(oauth.exchangeCode({ code, codeVerifier: verifier }), 'auth');

      assert.equal(error.code, 'INVALID_GRANT');
    });

    it('when the verifier does not match the challenge, then the exchange is an auth error', async () => {
      const oauth = createGoogleOAuth(googleConfig(h.fake));
      const code = h.fake.issueAuthorizationCode(pkce().challenge, REDIRECT_URI);

      await expectSyncError(oauth.exchangeCode({ code, codeVerifier: pkce().verifier }), 'auth');
    });

    it('when the client secret is wrong, then the exchange fails permanently, not as a reauth', async () => {
      const oauth = createGoogleOAuth({ ...googleConfig(h.fake), clientSecret: 'wrong' });
      const { verifier, challenge } = pkce();
      const code = h.fake.issueAuthorizationCode(challenge, REDIRECT_URI);

      const error = await expectSyncError(oauth.exchangeCode({ code, codeVerifier: verifier }), 'permanent');

      assert.equal(error.code, 'OAUTH_INVALID_CLIENT');
    });
  });
});
