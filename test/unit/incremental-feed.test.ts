import { testJoinLinks } from '../support/builders.js';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { assembleCalendar, FeedService, joinParts, renderEvent } from '../../feeds/index.js';
import { feedCalendarMeta } from '../../feeds/feed-service.js';
import { toCalendarEvent } from '../../src/domain/calendar-event.js';
import { AppError } from '../../src/domain/index.js';
import type { Location, PrivacyMode, Store } from '../../src/domain/index.js';
import { LocationService } from '../../src/services/location-service.js';
import { ProviderService } from '../../src/services/provider-service.js';
import { SessionService } from '../../src/services/session-service.js';
import { FakeClock } from '../support/fake-clock.js';
import { renderCalendarReference } from '../support/reference-renderer.js';
import { testStores } from '../support/stores.js';

// A feed re-renders only the events whose session changed and assembles the rest from cached
// fragments. After every change of a random sequence (sessions added, moved, cancelled, restored,
// deleted, renamed clients; the provider's name, zone and privacy; a location's link and
// instructions; the default location; the window moving on a day), the body a long-lived
// FeedService serves must be byte for byte the whole-calendar ical-generator build of the same
// data (test/support/reference-renderer.ts), and its ETag that of a service with nothing cached.

const HOUR = 3_600_000;
const BASE = Date.parse('2026-11-03T14:00:00.000Z');
const PAST_DAYS = 3;
const FUTURE_DAYS = 20;

type Change =
  | { kind: 'put'; session: number; slot: number; minutes: number; client: number; office: boolean; cancelled: boolean }
  | { kind: 'delete'; session: number }
  | { kind: 'provider'; name: number; zone: string; privacy: PrivacyMode }
  | { kind: 'link'; location: 'video' | 'video2'; variant: number; instructions: number }
  | { kind: 'default'; location: 'video' | 'video2' }
  | { kind: 'day' }
  | { kind: 'poll' };

const changeArb: fc.Arbitrary<Change> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('put' as const),
      session: fc.nat(14),
      // Slots past the window's end and before its start too (the window moves with 'day').
      slot: fc.integer({ min: -30, max: 200 }),
      minutes: fc.constantFrom(30, 50, 90),
      client: fc.nat(3),
      office: fc.boolean(),
      cancelled: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), session: fc.nat(14) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('provider' as const),
      name: fc.nat(2),
      zone: fc.constantFrom('America/New_York', 'Europe/London', 'Australia/Sydney', 'UTC'),
      privacy: fc.constantFrom('none' as const, 'initials' as const, 'full' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('link' as const), location: fc.constantFrom('video' as const, 'video2' as const), variant: fc.nat(2), instructions: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('default' as const), location: fc.constantFrom('video' as const, 'video2' as const) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'day' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'poll' as const }) },
);

const CLIENTS = [null, { id: 'c1', firstName: 'Jane', lastName: 'Doe' }, { id: 'c2', firstName: 'Émile', lastName: 'Zola' }, { id: 'c3', firstName: 'Lee', lastName: null }];
const INSTRUCTIONS = [null, 'Check in a few minutes early.', 'Long instructions, with commas; semicolons\nand a second line – Café 東京 '.repeat(3)];

for (const [name, createStore] of testStores()) {
  describe(`incremental feed rendering (${name})`, function () {
    this.timeout(120_000);

    it('when random changes follow one another, then every body is the whole-calendar build of the data, and every ETag that of a cold render', async () => {
      Object.assign(answers, { edited: 0, changed: 0, runs: 0 });
      await fc.assert(
        fc.asyncProperty(fc.array(changeArb, { minLength: 1, maxLength: 30 }), async (changes) => {
          const store = await createStore();
          try {
            await run(store, changes);
          } finally {
            await store.close();
          }
        }),
        { seed: 5, numRuns: name === 'SQLite' ? 60 : 15, endOnFailure: true },
      );
      // Nearly every changed body's first gzip is an edit of the gzip before (not: a new day's
      // window, a provider-wide change, the first events of an empty feed).
      const changedAfter = answers.changed - answers.runs;
      assert.ok(answers.edited >= 0.8 * changedAfter && changedAfter > 0, `${answers.edited} of ${changedAfter} first gzips after a change were edits`);
    });

    it('when the service refreshes after writes, polled or not between them, then every body polled is still the whole-calendar build of the data', async () => {
      refreshed.renders = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(changeArb, { minLength: 1, maxLength: 30 }), async (changes) => {
          const store = await createStore();
          try {
            await run(store, changes, true);
          } finally {
            await store.close();
          }
        }),
        { seed: 6, numRuns: name === 'SQLite' ? 40 : 10, endOnFailure: true },
      );
      assert.ok(refreshed.renders >= 10, `${refreshed.renders} renders were refreshes`);
    });
  });
}

/** Renders that refreshes after writes made, in the refresh property's runs. */
const refreshed = { renders: 0 };

/** First gzip answers after a change that were the gzip before edited (parts, not one buffer). */
const answers = { edited: 0, changed: 0, runs: 0 };

/**
 * `refresh`: the service refreshes cached feeds after writes (as the app's does), and the feed is
 * polled only after 'poll' changes and at the end, so that writes also come in a row unpolled.
 */
async function run(store: Store, changes: readonly Change[], refresh = false): Promise<void> {
  const clock = new FakeClock('2026-11-02T12:00:00.000Z');
  const providers = new ProviderService({ joinLinks: testJoinLinks, store, clock });
  const locations = new LocationService({ joinLinks: testJoinLinks, store, clock });
  const sessions = new SessionService({ joinLinks: testJoinLinks, store, clock, uidDomain: 'test.example' });
  const options = { store, clock, joinLinks: testJoinLinks, publicBaseUrl: 'https://x', pastDays: PAST_DAYS, futureDays: FUTURE_DAYS, cacheMaxBytes: 64 * 1024 * 1024 };
  let renders = 0;
  const feeds = new FeedService({ ...options, refreshOnChange: refresh, metrics: { feedRendered: () => void (renders += 1), feedCacheHit: () => undefined } });

  await providers.put('p1', { name: 'Dr. Ada Byron', email: null, timezone: 'America/New_York', privacy: { mode: 'initials', baaAttested: true } });
  await locations.put('p1', 'video', { kind: 'virtual', name: null, url: 'https://doxy.me/ada', instructions: null, waitingRoom: true, isDefault: true });
  await locations.put('p1', 'video2', { kind: 'virtual', name: 'Second room', url: 'https://doxy.me/ada2', instructions: null, waitingRoom: true });
  await locations.put('p1', 'office', { kind: 'office', name: 'Office', address: '1 Main St, Springfield' });
  const token = new URL((await feeds.create('p1', null)).url).pathname.slice('/feeds/'.length, -'.ics'.length);

  let lastEtag = '';
  answers.runs += 1;
  const check = async (step: string): Promise<void> => {
    const served = await feeds.render(token);
    assert.ok(served, step);
    const cold = await new FeedService(options).render(token);
    assert.ok(cold, step);
    const provider = await providers.get('p1');
    const dayStart = Math.floor(clock.now().getTime() / 86_400_000) * 86_400_000;
    const from = new Date(dayStart - PAST_DAYS * 86_400_000).toISOString();
    const to = new Date(dayStart + (FUTURE_DAYS + 1) * 86_400_000).toISOString();
    const byId = new Map<string, Location>((await store.listLocations('p1')).map((l) => [l.id, l]));
    const live = await store.listSessions('p1', { status: 'scheduled', endAfter: from, startBefore: to });
    const events = live.map((s) => toCalendarEvent(s, provider, s.locationId === null ? null : (byId.get(s.locationId) ?? null), testJoinLinks));
    assert.equal(joinParts(served.parts).toString('utf8'), renderCalendarReference(feedCalendarMeta(provider), events), step);
    assert.equal(served.etag, cold.etag, step);
    // The ETag of a body is one: that of the same calendar assembled in one go from its events.
    assert.equal(served.etag, assembleCalendar(feedCalendarMeta(provider), events.map(renderEvent)).etag, step);
    // The gzip a calendar app gets is that body too, however it was put together, and the same
    // bytes as a cold render's (another process answers with the same representation): the first
    // answer after a change (an edit of the gzip before, in parts) and the one buffer after it.
    const answer = served.gzipAnswer();
    const answered = Buffer.isBuffer(answer) ? answer : Buffer.concat(answer.parts);
    if (!Buffer.isBuffer(answer)) answers.edited += 1;
    if (served.etag !== lastEtag) answers.changed += 1;
    lastEtag = served.etag;
    assert.equal(answered.length, answer.length, step);
    assert.ok(answered.equals(cold.gzipped()), step);
    assert.ok(gunzipSync(served.gzipped()).equals(joinParts(served.parts)), step);
    assert.ok(served.gzipped().equals(cold.gzipped()), step);
  };

  await check('start');
  for (const [i, change] of changes.entries()) {
    clock.advance(61_000);
    try {
      await apply(change);
    } catch (error) {
      // Two virtual sessions on one link at once are refused (409); the data is unchanged.
      if (!(error instanceof AppError) || error.status !== 409) throw error;
    }
    if (!refresh) await check(`after change ${i}: ${JSON.stringify(change)}`);
    else {
      const before = renders;
      await feeds.refreshed();
      refreshed.renders += renders - before;
      if (change.kind === 'poll' || i === changes.length - 1) await check(`after change ${i}: ${JSON.stringify(change)}`);
    }
  }

  async function apply(change: Change): Promise<void> {
    switch (change.kind) {
      case 'put': {
        const start = new Date(BASE + change.slot * 3 * HOUR).toISOString();
        await sessions.put('p1', `s${change.session}`, {
          start,
          end: new Date(Date.parse(start) + change.minutes * 60_000).toISOString(),
          locationId: change.office ? 'office' : null,
          telehealthUrl: null,
          client: CLIENTS[change.client] ?? null,
          status: change.cancelled ? 'cancelled' : 'scheduled',
        });
        return;
      }
      case 'delete':
        try {
          await sessions.delete('p1', `s${change.session}`);
        } catch (error) {
          if (!(error instanceof AppError) || error.status !== 404) throw error;
        }
        return;
      case 'provider':
        await providers.put('p1', { name: ['Dr. Ada Byron', 'Dr. A. Lovelace', 'Ada, PhD; therapist'][change.name] ?? '', email: null, timezone: change.zone, privacy: { mode: change.privacy, baaAttested: true } });
        return;
      case 'link': {
        const url = `https://doxy.me/${change.location}-${change.variant}`;
        await locations.put('p1', change.location, { kind: 'virtual', name: null, url, instructions: INSTRUCTIONS[change.instructions] ?? null, waitingRoom: true });
        return;
      }
      case 'default':
        await locations.put('p1', change.location, { kind: 'virtual', name: null, url: `https://doxy.me/${change.location}-0`, instructions: null, waitingRoom: true, isDefault: true });
        return;
      case 'day':
        clock.advance(86_400_000);
        return;
      case 'poll':
        return;
      default: {
        const unknown: never = change;
        throw new Error(`unknown change ${JSON.stringify(unknown)}`);
      }
    }
  }
}
