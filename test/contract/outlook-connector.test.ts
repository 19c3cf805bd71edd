import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createMicrosoftOAuth, createOutlookConnector, DEFAULT_MICROSOFT_SCOPES } from '../../connectors/outlook/index.js';
import type { MicrosoftConfig, OutlookConnectorDeps } from '../../connectors/outlook/index.js';
import type { ConnectorSession, OAuthTokens } from '../../src/domain/index.js';
import { startFakeGraph } from '../fakes/fake-graph.js';
import type { FakeGraphOptions, FakeGraphServer, RecordedRequest } from '../fakes/fake-graph.js';
import { describeCalendarConnectorContract, expectSyncError, liveEvents, planFor } from './calendar-connector.contract.js';
import type { CalendarConnectorHarness } from './calendar-connector.contract.js';
import { microsoftConfigOf } from '../support/sync-harness.js';

const REDIRECT_URI = 'https://sessionsync.test/oauth/microsoft/callback';
const FROM = '2026-11-01T00:00:00.000Z';
const KEY_PROPERTY = 'String {9ced5288-5cda-49f2-ad67-29584fc43a33} Name sessionsyncKey';
const REVISION_PROPERTY = 'String {9ced5288-5cda-49f2-ad67-29584fc43a33} Name sessionsyncRevision';

function outlookConfig(fake: FakeGraphServer): MicrosoftConfig {
  return microsoftConfigOf(fake, REDIRECT_URI);
}

interface OutlookHarness extends CalendarConnectorHarness {
  fake: FakeGraphServer;
}

interface HarnessOptions extends FakeGraphOptions {
  calendarId?: string;
  connectionId?: string;
  tokens?: (issued: ReturnType<FakeGraphServer['issueTokens']>) => OAuthTokens;
  onTokens?: (tokens: OAuthTokens) => Promise<void>;
  deps?: (fake: FakeGraphServer) => OutlookConnectorDeps;
}

async function outlookHarness(options: HarnessOptions = {}): Promise<OutlookHarness> {
  const fake = await startFakeGraph(options);
  const issued = fake.issueTokens();
  const refreshedTokens: OAuthTokens[] = [];
  const calendarId = options.calendarId ?? 'primary';
  const session: ConnectorSession = {
    connectionId: options.connectionId ?? 'conn-outlook-1',
    calendarId,
    tokens: options.tokens?.(issued) ?? { accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresAt: issued.expiresAt, scope: DEFAULT_MICROSOFT_SCOPES.join(' ') },
    onTokens:
      options.onTokens ??
      (async (tokens) => {
        refreshedTokens.push(tokens);
      }),
  };
  const connector = createOutlookConnector(outlookConfig(fake), options.deps?.(fake) ?? { fetch: fake.fetch });
  return { connector, fake, session, calendarId, refreshedTokens };
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function apiRequests(fake: FakeGraphServer): RecordedRequest[] {
  return fake.requests.filter((r) => r.operation !== 'token');
}

function bodyOf(request: RecordedRequest | undefined): Record<string, unknown> {
  assert.ok(request, 'the request was sent');
  assert.equal(typeof request.body, 'object');
  return request.body as Record<string, unknown>;
}

/** Writes a tagged event straight through the fake's API, as an earlier (buggy) writer might have. */
async function postTaggedEvent(h: OutlookHarness, key: string, subject: string): Promise<string> {
  const response = await h.fake.fetch(`${h.fake.graphUrl}/v1.0/me/calendar/events`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${h.session.tokens.accessToken}`, 'Content-Type': 'application/json', Prefer: 'IdType="ImmutableId"' },
    body: JSON.stringify({
      subject,
      start: { dateTime: '2026-11-10T15:00:00', timeZone: 'UTC' },
      end: { dateTime: '2026-11-10T15:50:00', timeZone: 'UTC' },
      singleValueExtendedProperties: [{ id: KEY_PROPERTY, value: key }],
    }),
  });
  assert.equal(response.status, 201);
  return ((await response.json()) as { id: string }).id;
}

/** Lets held requests through whenever any are waiting, until `work` settles. */
async function drainHeld(fake: FakeGraphServer, work: Promise<unknown>): Promise<void> {
  let settled = false;
  const done = work.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  while (!settled) {
    await Promise.race([fake.waitForHeld(1), done]);
    fake.releaseHeld();
  }
}

describeCalendarConnectorContract('Outlook (fake Graph over HTTPS, real Graph client)', () => outlookHarness());

describe('Outlook connector', () => {
  let h: OutlookHarness;

  afterEach(async () => {
    await h?.fake.close();
  });

  describe('idempotent creates', () => {
    beforeEach(async () => {
      h = await outlookHarness();
    });

    it('when an event is created, then the POST carries the target\'s idempotency key as transactionId and updates never send one', async () => {
      const p = planFor(h);

      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);
      await h.connector.upsert(h.session, p.target, externalId, p.event, p.tag);

      const creates = h.fake.requests.filter((r) => r.operation === 'create');
      const updates = h.fake.requests.filter((r) => r.operation === 'update');
      assert.equal(creates.length, 1);
      assert.equal(bodyOf(creates[0]).transactionId, p.target.idempotencyKey);
      assert.equal(updates.length, 1);
      assert.equal('transactionId' in bodyOf(updates[0]), false);
    });

    it('when a create response is lost, then the retry finds our tagged event and updates it instead of posting again', async () => {
      const p = planFor(h);
      h.fake.inject({ operation: 'create', network: 'drop-response' });
      const firstError = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'retryable');
      assert.equal(firstError.code, 'NETWORK_ERROR');

      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);

      assert.deepEqual(
        apiRequests(h.fake).map((r) => r.operation),
        ['list', 'create', 'list', 'update'],
      );
      assert.deepEqual(
        h.fake.events(h.calendarId).map((e) => e.id),
        [externalId],
      );
    });

    it('when two creates of the same session race past the lookup, then Graph\'s transactionId dedupe leaves one event', async () => {
      const p = planFor(h);
      h.fake.hold();

      const both = Promise.all([h.connector.upsert(h.session, p.target, null, p.event, p.tag), h.connector.upsert(h.session, p.target, null, p.event, p.tag)]);
      await h.fake.waitForHeld(2); // both lookups, before either create
      assert.deepEqual(
        h.fake.requests.map((r) => r.operation),
        ['list', 'list'],
      );
      await drainHeld(h.fake, both);
      const [first, second] = await both;

      assert.equal(h.fake.requestCount('create'), 2, 'both creates reached Graph');
      assert.equal(first.externalId, second.externalId);
      assert.equal(h.fake.events(h.calendarId).length, 1);
    });

    it('when two events carry our key (an earlier duplicate), then the upsert keeps one, updates it and deletes the other', async () => {
      const p = planFor(h);
      const keep = await postTaggedEvent(h, p.tag.key, 'old 1');
      await postTaggedEvent(h, p.tag.key, 'old 2');

      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);

      assert.equal(externalId, keep);
      const live = liveEvents(h, p.tag.key);
      assert.deepEqual(
        live.map((e) => [e.id, e.summary]),
        [[keep, 'Telehealth session']],
      );
      assert.equal(h.fake.requestCount('create'), 2, 'only the two seeded creates, none by the connector');
    });

    it('when another event\'s key differs only in case (Graph matches values case-insensitively), then it is not adopted', async () => {
      const p = planFor(h);
      const other = await postTaggedEvent(h, p.tag.key.toUpperCase(), 'not this session');

      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);

      assert.notEqual(externalId, other);
      assert.equal(h.fake.events(h.calendarId).find((e) => e.id === other)?.summary, 'not this session');
      assert.equal(liveEvents(h, p.tag.key).length, 1);
    });
    it('when the tag key holds a quote, then the lookup after a lost create still finds our event (OData quoting)', async () => {
      const base = planFor(h);
      const p = { ...base, tag: { ...base.tag, key: "prov-1/o'brien" } };
      h.fake.inject({ operation: 'create', network: 'drop-response' });
      await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'retryable');

      await h.connector.upsert(h.session, p.target, null, p.event, p.tag);

      assert.equal(h.fake.requestCount('create'), 1);
      assert.deepEqual(
        h.fake.events(h.calendarId).map((e) => e.tag?.key),
        ["prov-1/o'brien"],
      );
    });

    it('when the event\'s instants are not UTC ISO-8601, then the SyncError is permanent INVALID_EVENT and nothing is sent', async () => {
      const p = planFor(h);

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, { ...p.event, start: '2026-11-10T10:00:00-05:00' }, p.tag), 'permanent');

      assert.equal(error.code, 'INVALID_EVENT');
      assert.deepEqual(h.fake.requests, []);
    });
  });

  describe('what is sent', () => {
    beforeEach(async () => {
      h = await outlookHarness();
    });

    it('when events are written, read and deleted, then every request asks for immutable ids and UTC, and the ids returned are the immutable ones', async () => {
      const p = planFor(h);

      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);
      await h.connector.listTagged(h.session, { from: FROM });
      await h.connector.remove(h.session, externalId);

      const requests = apiRequests(h.fake);
      assert.deepEqual(
        requests.map((r) => r.operation),
        ['list', 'create', 'list', 'delete'],
      );
      for (const request of requests) {
        assert.match(String(request.headers.prefer), /IdType="ImmutableId"/, `${request.method} ${request.path}`);
        assert.match(String(request.headers.prefer), /outlook\.timezone="UTC"/);
      }
      // The fake hands out REST ids unless asked for immutable ones; events() shows immutable ids.
      assert.equal(requests[3]?.path, `/v1.0/me/calendar/events/${encodeURIComponent(externalId)}`);
      assert.match(externalId, /^AAkALg/);
    });

    it('when the access token is sent, then it goes as a bearer token to the https fake (a custom host)', async () => {
      await h.connector.listTagged(h.session, { from: FROM });

      const [request] = apiRequests(h.fake);
      assert.equal(request?.headers.authorization, `Bearer ${h.session.tokens.accessToken}`);
      assert.ok(h.fake.graphUrl.startsWith('https://127.0.0.1:'));
    });

    it('when the Graph URL is not https, then the connector refuses to start (the client would never send the token)', () => {
      assert.throws(() => createOutlookConnector({ ...outlookConfig(h.fake), graphUrl: h.fake.graphUrl.replace('https:', 'http:') }), /https/);
    });

    it('when an event is created, then it has no attendees or online meeting, is private and busy, asks for no responses, leaves reminders to defaults and carries both extended properties', async () => {
      const p = planFor(h);

      await h.connector.upsert(h.session, p.target, null, p.event, p.tag);

      const body = bodyOf(h.fake.requests.find((r) => r.operation === 'create'));
      assert.equal('attendees' in body, false);
      assert.equal('onlineMeeting' in body, false);
      assert.equal('onlineMeetingProvider' in body, false);
      assert.equal('isReminderOn' in body, false);
      assert.equal(body.isOnlineMeeting, false);
      assert.equal(body.sensitivity, 'private');
      assert.equal(body.showAs, 'busy');
      assert.equal(body.responseRequested, false);
      assert.deepEqual(body.start, { dateTime: '2026-11-10T15:00:00.000', timeZone: 'UTC' });
      assert.deepEqual(body.singleValueExtendedProperties, [
        { id: KEY_PROPERTY, value: p.tag.key },
        { id: REVISION_PROPERTY, value: p.tag.revision },
      ]);
      const [stored] = h.fake.events(h.calendarId);
      assert.deepEqual(stored?.raw.attendees, []);
      assert.deepEqual(stored?.tag, p.tag);
    });

    it('when reminders are set, then Outlook gets the one closest to the start; [] turns it off; back to null, Outlook\'s default reminder again', async () => {
      const p = planFor(h);
      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag, [1440, 10, 60]);
      const created = bodyOf(h.fake.requests.find((r) => r.operation === 'create'));
      assert.equal(created.isReminderOn, true);
      assert.equal(created.reminderMinutesBeforeStart, 10);
      assert.deepEqual(h.fake.events(h.calendarId)[0]?.reminders, [10]);

      await h.connector.upsert(h.session, p.target, externalId, p.event, p.tag, []);
      assert.equal(h.fake.events(h.calendarId)[0]?.raw.isReminderOn, false);

      await h.connector.upsert(h.session, p.target, externalId, p.event, p.tag, null);
      const raw = h.fake.events(h.calendarId)[0]?.raw ?? {};
      assert.equal(raw.isReminderOn, true);
      assert.equal(raw.reminderMinutesBeforeStart, 15);
    });

    it('when listing, then the request filters on our key property and the end, expands only our two properties and selects what RemoteEvent needs', async () => {
      await h.connector.listTagged(h.session, { from: FROM });

      const [request] = apiRequests(h.fake);
      assert.equal(request?.path, '/v1.0/me/calendar/events');
      assert.deepEqual(request?.query, {
        $filter: `singleValueExtendedProperties/Any(ep: ep/id eq '${KEY_PROPERTY}' and ep/value ne null) and end/dateTime ge '2026-11-01T00:00:00.000'`,
        $expand: `singleValueExtendedProperties($filter=id eq '${KEY_PROPERTY}' or id eq '${REVISION_PROPERTY}')`,
        $select: 'subject,start,end,location,isCancelled',
        $top: '100',
      });
    });
  });

  describe('calendars other than the default one', () => {
    it('when the calendar id needs encoding, then it is path-encoded and the event lands in that calendar', async () => {
      h = await outlookHarness({ calendarId: 'AAMkAGI2TG93AAA=' });
      const p = planFor(h);

      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);
      await h.connector.upsert(h.session, p.target, externalId, p.event, p.tag);

      assert.ok(apiRequests(h.fake).every((r) => r.path.startsWith('/v1.0/me/calendars/AAMkAGI2TG93AAA%3D/events')));
      assert.equal(h.fake.events('AAMkAGI2TG93AAA=').length, 1);
      assert.equal(h.fake.events('primary').length, 0);
    });

    it('when the calendar is gone, then the SyncError is permanent HTTP_404', async () => {
      h = await outlookHarness({ calendarId: 'cal-removed' });
      h.fake.removeCalendar('cal-removed');
      const p = planFor(h);

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'permanent');

      assert.equal(error.code, 'HTTP_404');
    });
  });

  describe('retries belong to the sync engine', () => {
    beforeEach(async () => {
      h = await outlookHarness();
    });

    it('when a create gets 503 with Retry-After, then the client does not retry the POST and the wait is passed on', async () => {
      const p = planFor(h);
      h.fake.inject({ operation: 'create', status: 503, retryAfterSeconds: 12, times: 5 });

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'retryable');

      assert.equal(error.code, 'HTTP_503');
      assert.equal(error.retryAfterMs, 12_000);
      assert.equal(h.fake.requestCount('create'), 1);
    });

    it('when an update gets 429, then the client does not retry the PATCH and the error is RATE_LIMITED', async () => {
      const p = planFor(h);
      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);
      h.fake.inject({ operation: 'update', status: 429, retryAfterSeconds: 3, times: 5 });

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, externalId, p.event, p.tag), 'retryable');

      assert.equal(error.code, 'RATE_LIMITED');
      assert.equal(error.retryAfterMs, 3000);
      assert.equal(h.fake.requestCount('update'), 1);
    });

    it('when a list connection is reset, then the error is retryable NETWORK_ERROR after one attempt', async () => {
      h.fake.inject({ operation: 'list', network: 'reset', times: 5 });

      const error = await expectSyncError(h.connector.listTagged(h.session, { from: FROM }), 'retryable');

      assert.equal(error.code, 'NETWORK_ERROR');
      assert.equal(h.fake.requestCount('list'), 1);
    });

    it('when a delete gets 500, then the error is retryable HTTP_500 and the event is still there', async () => {
      const p = planFor(h);
      const { externalId } = await h.connector.upsert(h.session, p.target, null, p.event, p.tag);
      h.fake.inject({ operation: 'delete', status: 500 });

      const error = await expectSyncError(h.connector.remove(h.session, externalId), 'retryable');

      assert.equal(error.code, 'HTTP_500');
      assert.equal(liveEvents(h, p.tag.key).length, 1);
    });

    it('when Graph answers 403, then the SyncError is permanent HTTP_403 and no refresh is tried', async () => {
      const p = planFor(h);
      h.fake.inject({ operation: 'create', status: 403 });

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'permanent');

      assert.equal(error.code, 'HTTP_403');
      assert.equal(h.fake.requestCount('token'), 0);
    });

    it('when an error is raised, then neither its code, message nor cause carries event text or tokens', async () => {
      const p = planFor(h);
      h.fake.inject({ operation: 'create', status: 400 });

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'permanent');

      const text = `${error.code} ${error.message} ${String(error.cause)}`;
      assert.doesNotMatch(text, /Telehealth session|zoom\.us/);
      assert.ok(!text.includes(h.session.tokens.accessToken));
      assert.equal(error.cause, undefined);
    });
  });

  describe('at most two requests in flight per mailbox', () => {
    function countingFetch(fake: FakeGraphServer): { fetch: typeof fetch; max: () => number } {
      let now = 0;
      let max = 0;
      return {
        fetch: async (input, init) => {
          now += 1;
          max = Math.max(max, now);
          try {
            return await fake.fetch(input, init);
          } finally {
            now -= 1;
          }
        },
        max: () => max,
      };
    }

    it('when six upserts for one connection run at once against a Graph that holds every response, then never more than two requests are in flight', async () => {
      let counter: ReturnType<typeof countingFetch> | undefined;
      h = await outlookHarness({
        deps: (fake) => {
          counter = countingFetch(fake);
          return { fetch: counter.fetch };
        },
      });
      h.fake.hold();
      const plans = ['s1', 's2', 's3', 's4', 's5', 's6'].map((id) => planFor(h, { id }));

      const all = Promise.all(plans.map((p) => h.connector.upsert(h.session, p.target, null, p.event, p.tag)));
      // Every upsert reaches fetch() within microtasks unless it is queued: by the time two
      // requests have arrived over the network, an unlimited connector would have sent all six.
      await h.fake.waitForHeld(2);
      assert.equal(counter?.max(), 2);
      await drainHeld(h.fake, all);
      await all;

      assert.equal(counter?.max(), 2);
      assert.equal(h.fake.maxConcurrentApiRequests(), 2);
      assert.equal(h.fake.events(h.calendarId).length, 6);
    });

    it('when two connections are busy at once, then each gets its own two slots', async () => {
      let counter: ReturnType<typeof countingFetch> | undefined;
      h = await outlookHarness({
        deps: (fake) => {
          counter = countingFetch(fake);
          return { fetch: counter.fetch };
        },
      });
      const other: ConnectorSession = { ...h.session, connectionId: 'conn-outlook-2' };
      h.fake.hold();
      const work = ['a1', 'a2', 'a3', 'b1', 'b2', 'b3'].map((id) => {
        const session = id.startsWith('a') ? h.session : other;
        const p = planFor({ ...h, session }, { id });
        return h.connector.upsert(session, p.target, null, p.event, p.tag);
      });
      const all = Promise.all(work);

      await h.fake.waitForHeld(2);
      assert.equal(counter?.max(), 4);
      await drainHeld(h.fake, all);
      await all;

      assert.equal(counter?.max(), 4);
    });
  });

  describe('listTagged', () => {
    it('when Graph pages the answer, then every @odata.nextLink is followed with the bearer token', async () => {
      h = await outlookHarness({ maxPageSize: 2 });
      for (const id of ['s1', 's2', 's3', 's4', 's5']) {
        const p = planFor(h, { id });
        await h.connector.upsert(h.session, p.target, null, p.event, p.tag);
      }
      const before = h.fake.requests.length;

      const listed = await h.connector.listTagged(h.session, { from: FROM });

      assert.equal(listed.length, 5);
      assert.equal(new Set(listed.map((r) => r.tag.key)).size, 5);
      const pages = h.fake.requests.slice(before);
      assert.deepEqual(
        pages.map((r) => [r.operation, r.query.$skip]),
        [
          ['list', undefined],
          ['list', '2'],
          ['list', '4'],
        ],
      );
      assert.ok(pages.every((r) => r.headers.authorization === `Bearer ${h.session.tokens.accessToken}`));
      assert.ok(pages.every((r) => r.query.$filter === pages[0]?.query.$filter), 'the filter is kept on every page');
    });
  });

  describe('readBusy', () => {
    const WINDOW = { from: '2026-11-01T00:00:00.000Z', to: '2026-11-15T00:00:00.000Z', providerZone: 'America/New_York' };
    const at = (iso: string) => ({ dateTime: `${iso}.0000000`, timeZone: 'UTC' });

    /** A person's own event as Outlook stores it: titled, with a body and a place. */
    function putEvent(fields: Record<string, unknown>, properties: { id: string; value: string }[] = []): string {
      return h.fake.putRawEvent(
        h.calendarId,
        {
          subject: 'Dentist with Dr Who',
          body: { contentType: 'text', content: 'Root canal' },
          location: { displayName: '12 Harley Street' },
          start: at('2026-11-10T18:00:00'),
          end: at('2026-11-10T19:00:00'),
          showAs: 'busy',
          ...fields,
        },
        properties,
      );
    }

    it('when busy time is read, then calendarView is asked for the window in UTC with only times, showAs and our key property, and no subject or body comes back', async () => {
      h = await outlookHarness();
      putEvent({});

      const busy = await h.connector.readBusy(h.session, WINDOW);

      assert.deepEqual(busy, [{ start: '2026-11-10T18:00:00.000Z', end: '2026-11-10T19:00:00.000Z' }]);
      const [request, ...more] = apiRequests(h.fake);
      assert.deepEqual(more, []);
      assert.equal(request?.path, '/v1.0/me/calendar/calendarView');
      assert.deepEqual(request?.query, {
        startDateTime: WINDOW.from,
        endDateTime: WINDOW.to,
        $select: 'start,end,showAs,isCancelled,isAllDay',
        $expand: `singleValueExtendedProperties($filter=id eq '${KEY_PROPERTY}')`,
        $top: '250',
      });
      assert.match(String(request?.headers.prefer), /outlook\.timezone="UTC"/);
      const answered = request?.responseBody ?? '';
      assert.match(answered, /"showAs":"busy"/);
      for (const secret of ['Dentist', 'Root canal', 'Harley', 'subject', 'bodyPreview']) assert.ok(!answered.includes(secret), `${secret} left Graph`);
    });

    it('when the connection is to another calendar, then that calendar\'s view is read, path-encoded', async () => {
      h = await outlookHarness({ calendarId: 'AAMkAGI2TG93AAA=' });
      putEvent({});

      assert.equal((await h.connector.readBusy(h.session, WINDOW)).length, 1);
      assert.equal(apiRequests(h.fake)[0]?.path, '/v1.0/me/calendars/AAMkAGI2TG93AAA%3D/calendarView');
    });

    it('when events are cancelled, free, working elsewhere or ours, then they are not busy; busy, tentative, away and unknown ones are', async () => {
      h = await outlookHarness();
      const on = (day: number) => ({ start: at(`2026-11-0${day}T15:00:00`), end: at(`2026-11-0${day}T15:30:00`) });
      putEvent({ ...on(1), isCancelled: true });
      putEvent({ ...on(2), showAs: 'free' });
      putEvent({ ...on(3), showAs: 'workingElsewhere' });
      putEvent({ ...on(4) }, [{ id: KEY_PROPERTY, value: 'prov-1/sess-9' }]);
      putEvent({ ...on(5), showAs: 'tentative' });
      putEvent({ ...on(6), showAs: 'oof' });
      putEvent({ ...on(7), showAs: 'unknown' });
      const ours = planFor(h);
      await h.connector.upsert(h.session, ours.target, null, ours.event, ours.tag);

      const busy = await h.connector.readBusy(h.session, WINDOW);

      assert.deepEqual(busy, [
        { start: '2026-11-05T15:00:00.000Z', end: '2026-11-05T15:30:00.000Z' },
        { start: '2026-11-06T15:00:00.000Z', end: '2026-11-06T15:30:00.000Z' },
        { start: '2026-11-07T15:00:00.000Z', end: '2026-11-07T15:30:00.000Z' },
      ]);
    });

    it('when all-day events fall on days a DST change makes 25 and 23 hours long, then each is busy from midnight to midnight in the provider\'s zone', async () => {
      h = await outlookHarness();
      // Graph answers all-day events as date-valued midnights, whatever outlook.timezone says.
      putEvent({ isAllDay: true, start: at('2026-11-01T00:00:00'), end: at('2026-11-02T00:00:00') });
      putEvent({ isAllDay: true, start: at('2027-03-14T00:00:00'), end: at('2027-03-16T00:00:00') });

      const busy = await h.connector.readBusy(h.session, { ...WINDOW, from: '2026-10-25T00:00:00.000Z', to: '2027-04-01T00:00:00.000Z' });

      assert.deepEqual(busy, [
        { start: '2026-11-01T04:00:00.000Z', end: '2026-11-02T05:00:00.000Z' },
        { start: '2027-03-14T05:00:00.000Z', end: '2027-03-16T04:00:00.000Z' },
      ]);
    });

    it('when Graph pages the answer, then every @odata.nextLink is followed, keeping the window, $select and $expand', async () => {
      h = await outlookHarness({ maxPageSize: 2 });
      for (let day = 2; day <= 6; day += 1) putEvent({ start: at(`2026-11-0${day}T15:00:00`), end: at(`2026-11-0${day}T16:00:00`) });

      const busy = await h.connector.readBusy(h.session, WINDOW);

      assert.equal(busy.length, 5);
      const pages = apiRequests(h.fake);
      assert.deepEqual(pages.map((r) => r.query.$skip), [undefined, '2', '4']);
      for (const page of pages) {
        assert.equal(page.query.startDateTime, WINDOW.from);
        assert.equal(page.query.endDateTime, WINDOW.to);
        assert.equal(page.query.$select, 'start,end,showAs,isCancelled,isAllDay');
        assert.equal(page.query.$expand, pages[0]?.query.$expand);
        assert.equal(page.headers.authorization, `Bearer ${h.session.tokens.accessToken}`);
      }
    });

    it('when Graph answers 401 to a token our clock still trusts, then it is refreshed once and the read retried, and the new tokens are handed back', async () => {
      h = await outlookHarness();
      putEvent({});
      h.fake.inject({ operation: 'list', status: 401 });

      const busy = await h.connector.readBusy(h.session, WINDOW);

      assert.equal(busy.length, 1);
      assert.deepEqual(h.fake.requests.map((r) => r.operation), ['list', 'token', 'list']);
      assert.equal(h.refreshedTokens.length, 1);
    });

    it('when the refresh after a 401 answers invalid_grant, then the SyncError is auth INVALID_GRANT, as for the other calls', async () => {
      h = await outlookHarness();
      h.fake.inject({ operation: 'list', status: 401 });
      h.fake.inject({ operation: 'token', status: 400, reason: 'invalid_grant' });

      const error = await expectSyncError(h.connector.readBusy(h.session, WINDOW), 'auth');

      assert.equal(error.code, 'INVALID_GRANT');
    });
  });

  describe('tokens', () => {
    it('when Graph answers 401 for an expired token, then one refresh (refresh_token grant to the tenant endpoint) and one retry follow, and the new tokens are handed back', async () => {
      h = await outlookHarness();
      const p = planFor(h);
      h.fake.expireAccessTokens();

      await h.connector.upsert(h.session, p.target, null, p.event, p.tag);

      assert.deepEqual(
        h.fake.requests.map((r) => r.operation),
        ['list', 'token', 'list', 'create'],
      );
      const token = h.fake.requests.find((r) => r.operation === 'token');
      assert.equal(token?.path, '/common/oauth2/v2.0/token');
      assert.deepEqual(token?.body, {
        client_id: h.fake.clientId,
        client_secret: h.fake.clientSecret,
        grant_type: 'refresh_token',
        refresh_token: h.session.tokens.refreshToken,
        scope: DEFAULT_MICROSOFT_SCOPES.join(' '),
      });
      assert.equal(h.refreshedTokens.length, 1);
      const retried = apiRequests(h.fake)[1];
      assert.equal(retried?.headers.authorization, `Bearer ${h.refreshedTokens[0]?.accessToken}`, 'only the new token, not appended to the old');
    });

    it('when the next call comes with the refreshed tokens, then no further refresh happens', async () => {
      h = await outlookHarness();
      h.fake.expireAccessTokens();
      await h.connector.listTagged(h.session, { from: FROM });
      const [refreshed] = h.refreshedTokens;
      assert.ok(refreshed);

      await h.connector.listTagged({ ...h.session, tokens: refreshed }, { from: FROM });

      assert.equal(h.fake.requestCount('token'), 1);
    });

    it('when our clock already says the token expired, then it is refreshed before the call (no 401 round trip)', async () => {
      h = await outlookHarness({ tokens: (issued) => ({ accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresAt: 0, scope: null }) });

      await h.connector.listTagged(h.session, { from: FROM });

      assert.deepEqual(
        h.fake.requests.map((r) => r.operation),
        ['token', 'list'],
      );
    });

    it('when two requests of one connection find the token expired, then it is refreshed once', async () => {
      h = await outlookHarness({ tokens: (issued) => ({ accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresAt: 0, scope: null }) });

      await Promise.all([h.connector.listTagged(h.session, { from: FROM }), h.connector.listTagged(h.session, { from: FROM })]);

      assert.equal(h.fake.requestCount('token'), 1);
      assert.equal(h.refreshedTokens.length, 1);
    });

    it('when Graph still answers 401 after a refresh, then the SyncError is auth UNAUTHORIZED after exactly one refresh', async () => {
      h = await outlookHarness();
      h.fake.inject({ operation: 'list', status: 401, times: 2 });

      const error = await expectSyncError(h.connector.listTagged(h.session, { from: FROM }), 'auth');

      assert.equal(error.code, 'UNAUTHORIZED');
      assert.equal(h.fake.requestCount('token'), 1);
      assert.equal(h.fake.requestCount('list'), 2);
    });

    it('when the refresh answers invalid_grant, then the SyncError is auth INVALID_GRANT', async () => {
      h = await outlookHarness();
      h.fake.expireAccessTokens();
      h.fake.revokeGrants();

      const error = await expectSyncError(h.connector.listTagged(h.session, { from: FROM }), 'auth');

      assert.equal(error.code, 'INVALID_GRANT');
      assert.match(error.message, /AADSTS50173/);
    });

    it('when the token endpoint answers 503 with Retry-After, then the SyncError is retryable with the wait', async () => {
      h = await outlookHarness();
      h.fake.expireAccessTokens();
      h.fake.inject({ operation: 'token', status: 503, retryAfterSeconds: 5 });

      const error = await expectSyncError(h.connector.listTagged(h.session, { from: FROM }), 'retryable');

      assert.equal(error.retryAfterMs, 5000);
    });

    it('when the session has no refresh token and the access token expired, then the SyncError is auth', async () => {
      h = await outlookHarness({ tokens: (issued) => ({ accessToken: issued.accessToken, refreshToken: null, expiresAt: 0, scope: null }) });

      const error = await expectSyncError(h.connector.listTagged(h.session, { from: FROM }), 'auth');

      assert.equal(error.code, 'NO_REFRESH_TOKEN');
    });

    it('when the refreshed tokens cannot be stored, then the call fails before writing and the next call stores them and proceeds without refreshing again', async () => {
      const stored: OAuthTokens[] = [];
      let storeDown = true;
      h = await outlookHarness({
        onTokens: async (tokens) => {
          if (storeDown) throw new Error('store down');
          stored.push(tokens);
        },
      });
      const p = planFor(h);
      h.fake.expireAccessTokens();

      const error = await expectSyncError(h.connector.upsert(h.session, p.target, null, p.event, p.tag), 'retryable');
      assert.equal(error.code, 'TOKEN_PERSIST_FAILED');
      assert.equal(h.fake.requestCount('create'), 0);
      storeDown = false;
      await h.connector.upsert(h.session, p.target, null, p.event, p.tag);

      assert.equal(h.fake.requestCount('token'), 1);
      assert.equal(stored.length, 1);
      assert.equal(liveEvents(h, p.tag.key).length, 1);
    });

    it('when fetchOptions are given (e.g. an undici dispatcher), then every Graph and token request carries them', async () => {
      const marker = { name: 'dispatcher-marker' };
      const seen: unknown[] = [];
      h = await outlookHarness({
        tokens: (issued) => ({ accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresAt: 0, scope: null }),
        deps: (fake) => ({
          fetchOptions: { dispatcher: marker },
          fetch: async (input, init) => {
            seen.push((init as { dispatcher?: unknown } | undefined)?.dispatcher);
            return fake.fetch(input, init);
          },
        }),
      });

      await h.connector.listTagged(h.session, { from: FROM });

      assert.deepEqual(seen, [marker, marker]);
    });
  });

  describe('OAuth (Microsoft identity platform v2.0)', () => {
    beforeEach(async () => {
      h = await outlookHarness();
    });

    it('when building the consent URL, then it targets the tenant\'s authorize endpoint with PKCE S256, our scopes, state and redirect URI', () => {
      const oauth = createMicrosoftOAuth(outlookConfig(h.fake), { fetch: h.fake.fetch });

      const url = new URL(oauth.authorizeUrl({ state: 'signed-state', codeChallenge: 'challenge-123' }));

      assert.equal(`${url.origin}${url.pathname}`, `${h.fake.loginUrl}/common/oauth2/v2.0/authorize`);
      assert.deepEqual(Object.fromEntries(url.searchParams), {
        client_id: h.fake.clientId,
        response_type: 'code',
        redirect_uri: REDIRECT_URI,
        response_mode: 'query',
        scope: 'offline_access openid email Calendars.ReadWrite User.Read',
        state: 'signed-state',
        code_challenge: 'challenge-123',
        code_challenge_method: 'S256',
        prompt: 'select_account',
      });
      assert.equal(oauth.kind, 'outlook');
    });

    it('when the code is exchanged with its verifier, then tokens and the account email (from the id_token) come back', async () => {
      const oauth = createMicrosoftOAuth(outlookConfig(h.fake), { fetch: h.fake.fetch });
      const { verifier, challenge } = pkce();
      const code = h.fake.issueAuthorizationCode(challenge, REDIRECT_URI);

      const { tokens, accountEmail } = await oauth.exchangeCode({ code, codeVerifier: verifier });

      assert.equal(accountEmail, 'provider@example.test');
      assert.match(tokens.accessToken, /^fake-at-/);
      assert.match(tokens.refreshToken ?? '', /^fake-rt-/);
      assert.equal(typeof tokens.expiresAt, 'number');
      const [request] = h.fake.requests;
      assert.deepEqual(request?.body, {
        client_id: h.fake.clientId,
        client_secret: h.fake.clientSecret,
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: REDIRECT_URI,
        scope: DEFAULT_MICROSOFT_SCOPES.join(' '),
      });
      // The tokens work against Graph.
      const connector = createOutlookConnector(outlookConfig(h.fake), { fetch: h.fake.fetch });
      await connector.listTagged({ ...h.session, tokens }, { from: FROM });
    });

    it('when a code is redeemed twice, then the second exchange is an auth SyncError (invalid_grant)', async () => {
      const oauth = createMicrosoftOAuth(outlookConfig(h.fake), { fetch: h.fake.fetch });
      const { verifier, challenge } = pkce();
      const code = h.fake.issueAuthorizationCode(challenge, REDIRECT_URI);
      await oauth.exchangeCode({ code, codeVerifier: verifier });

      const error = await expectSyncError(oauth.exchangeCode({ code, codeVerifier: verifier }), 'auth');

      assert.equal(error.code, 'INVALID_GRANT');
    });

    it('when the verifier does not match the challenge, then the exchange is an auth SyncError', async () => {
      const oauth = createMicrosoftOAuth(outlookConfig(h.fake), { fetch: h.fake.fetch });
      const code = h.fake.issueAuthorizationCode(pkce().challenge, REDIRECT_URI);

      const error = await expectSyncError(oauth.exchangeCode({ code, codeVerifier: pkce().verifier }), 'auth');

      assert.equal(error.code, 'INVALID_GRANT');
    });

    it('when the client secret is wrong, then the exchange is a permanent INVALID_CLIENT error', async () => {
      const oauth = createMicrosoftOAuth({ ...outlookConfig(h.fake), clientSecret: 'wrong' }, { fetch: h.fake.fetch });
      const { verifier, challenge } = pkce();
      const code = h.fake.issueAuthorizationCode(challenge, REDIRECT_URI);

      const error = await expectSyncError(oauth.exchangeCode({ code, codeVerifier: verifier }), 'permanent');

      assert.equal(error.code, 'INVALID_CLIENT');
    });

    it('when the token endpoint cannot be reached, then the exchange fails retryably', async () => {
      const oauth = createMicrosoftOAuth(outlookConfig(h.fake), { fetch: h.fake.fetch });
      const { verifier, challenge } = pkce();
      h.fake.inject({ operation: 'token', network: 'reset' });

      const error = await expectSyncError(oauth.exchangeCode({ code: h.fake.issueAuthorizationCode(challenge, REDIRECT_URI), codeVerifier: verifier }), 'retryable');

      assert.equal(error.code, 'NETWORK_ERROR');
    });
  });
});
