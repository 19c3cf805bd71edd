// The Store port's behaviour, as every adapter must show it (SQLite always, PostgreSQL when
// TEST_DATABASE_URL is set). Each test opens a fresh, empty store and seeds only what it states.
import assert from 'node:assert/strict';
import type { BusyInterval, BusySource, FeedToken, Location, PortalLink, Provider, SealedValue, SealedValueKind, Session, Store, StoreTx, WebSession } from '../../src/domain/index.js';
import { AppError, ErrorCode } from '../../src/domain/index.js';
import { T0, aBusySource, aConnection, aFeedToken, aProvider, aSession, aVirtualLocation, anOfficeLocation } from '../support/builders.js';

const T1 = '2026-11-03T09:30:00.000Z';
const T2 = '2026-11-04T18:45:00.000Z';

interface Seed {
  providers?: Provider[];
  locations?: Location[];
  sessions?: Session[];
  feeds?: FeedToken[];
}

/** What findFeedRevision answers for an unrevoked feed of this provider. */
function activeFeed(feed: FeedToken, provider: Provider) {
  return { feedId: feed.id, providerId: provider.id, providerCreatedAt: provider.createdAt, feedRevision: provider.feedRevision };
}

function nextTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function describeStoreContract(adapterName: string, makeStore: () => Promise<Store>): void {
  describe(`Store contract (${adapterName})`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await makeStore();
    });

    afterEach(async () => {
      await store.close();
    });

    async function seed(data: Seed): Promise<void> {
      await store.transaction(async (tx) => {
        for (const provider of data.providers ?? []) await tx.putProvider(provider);
        for (const location of data.locations ?? []) await tx.putLocation(location);
        for (const session of data.sessions ?? []) await tx.putSession(session);
        for (const feed of data.feeds ?? []) await tx.putFeed(feed);
      });
    }

    // Two providers whose rows reuse the same location and session ids: scoping must hold.
    function twoProviders(): Required<Seed> {
      return {
        providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2', name: 'Dr. Grace Hopper' })],
        locations: [aVirtualLocation({ providerId: 'prov-1' }), aVirtualLocation({ providerId: 'prov-2' })],
        sessions: [aSession({ providerId: 'prov-1' }), aSession({ providerId: 'prov-2' })],
        feeds: [
          aFeedToken({ id: 'feed-1', providerId: 'prov-1', tokenHash: '1'.repeat(64) }),
          aFeedToken({ id: 'feed-2', providerId: 'prov-2', tokenHash: '2'.repeat(64) }),
        ],
      };
    }

    describe('providers', () => {
      it('when providers are searched, then those whose id or name holds the text (ASCII case ignored, % and _ literal) come back by id, up to the limit', async () => {
        await seed({
          providers: [
            aProvider({ id: 'prov-b', name: 'Dr. Ada Lovelace' }),
            aProvider({ id: 'prov-a', name: 'Dr. Grace Hopper' }),
            aProvider({ id: 'ada-3', name: 'Nobody 100%_sure' }),
          ],
        });
        const ids = async (text: string, limit = 10) => (await store.searchProviders(text, limit)).map((p) => p.id);
        assert.deepStrictEqual(await ids('ADA'), ['ada-3', 'prov-b']);
        assert.deepStrictEqual(await ids('prov-'), ['prov-a', 'prov-b']);
        assert.deepStrictEqual(await ids('prov-', 1), ['prov-a']);
        assert.deepStrictEqual(await ids('%_'), ['ada-3']);
        assert.deepStrictEqual(await ids('_'), ['ada-3']);
        assert.deepStrictEqual(await ids('nobody else'), []);
        assert.deepStrictEqual(await store.searchProviders('hopper', 10), [aProvider({ id: 'prov-a', name: 'Dr. Grace Hopper' })]);
      });

      it('when providers are put, then getProvider returns each one exactly, nulls included', async () => {
        const plain = aProvider({ id: 'prov-1' });
        const unusual = aProvider({
          id: 'prov-2',
          email: null,
          timezone: 'Europe/Berlin',
          privacy: { mode: 'initials', baaAttested: true },
          feedRevision: 7,
          createdAt: T0,
          updatedAt: T1,
        });
        await seed({ providers: [plain, unusual] });

        assert.deepStrictEqual(await store.getProvider('prov-1'), plain);
        assert.deepStrictEqual(await store.getProvider('prov-2'), unusual);
      });

      it('when the provider does not exist, then getProvider returns null', async () => {
        await seed({ providers: [aProvider({ id: 'prov-1' })] });

        assert.equal(await store.getProvider('prov-404'), null);
      });

      it('when a provider is put again, then it is replaced and its locations, sessions and feeds stay', async () => {
        const data = twoProviders();
        await seed(data);
        const renamed = aProvider({
          id: 'prov-1',
          name: 'Dr. Ada King',
          email: null,
          privacy: { mode: 'full', baaAttested: true },
          feedRevision: 4,
          updatedAt: T2,
        });

        await store.transaction((tx) => tx.putProvider(renamed));

        assert.deepStrictEqual(await store.getProvider('prov-1'), renamed);
        assert.deepStrictEqual(await store.listLocations('prov-1'), [data.locations[0]]);
        assert.deepStrictEqual(await store.listSessions('prov-1'), [data.sessions[0]]);
        assert.deepStrictEqual(await store.listFeeds('prov-1'), [data.feeds[0]]);
      });

      it('when a provider is deleted, then its locations, sessions and feeds go with it and others stay', async () => {
        const data = twoProviders();
        await seed(data);

        const deleted = await store.transaction((tx) => tx.deleteProvider('prov-1'));

        assert.equal(deleted, true);
        assert.equal(await store.getProvider('prov-1'), null);
        assert.deepStrictEqual(await store.listLocations('prov-1'), []);
        assert.equal(await store.getLocation('prov-1', 'loc-video'), null);
        assert.deepStrictEqual(await store.listSessions('prov-1'), []);
        assert.equal(await store.getSession('prov-1', 'sess-1'), null);
        assert.deepStrictEqual(await store.listFeeds('prov-1'), []);
        assert.equal(await store.findFeedRevision('1'.repeat(64)), null);
        assert.deepStrictEqual(await store.getProvider('prov-2'), data.providers[1]);
        assert.deepStrictEqual(await store.listLocations('prov-2'), [data.locations[1]]);
        assert.deepStrictEqual(await store.listSessions('prov-2'), [data.sessions[1]]);
        assert.deepStrictEqual(await store.listFeeds('prov-2'), [data.feeds[1]]);
      });

      it('when the provider to delete does not exist, then deleteProvider returns false', async () => {
        await seed({ providers: [aProvider({ id: 'prov-1' })] });

        assert.equal(await store.transaction((tx) => tx.deleteProvider('prov-404')), false);
        assert.deepStrictEqual(await store.getProvider('prov-1'), aProvider({ id: 'prov-1' }));
      });
    });

    describe('locations', () => {
      it('when locations of both kinds are put, then getLocation returns each one exactly, nulls included', async () => {
        const video = aVirtualLocation({ id: 'loc-video' });
        const bare = aVirtualLocation({
          id: 'loc-bare',
          name: null,
          instructions: null,
          isDefault: false,
          waitingRoom: null,
          platform: null,
          updatedAt: T1,
        });
        const noWaitingRoom = aVirtualLocation({ id: 'loc-nowait', isDefault: false, waitingRoom: false });
        const office = anOfficeLocation({ id: 'loc-office', isDefault: true, updatedAt: T2 });
        await seed({ providers: [aProvider()], locations: [video, bare, noWaitingRoom, office] });

        assert.deepStrictEqual(await store.getLocation('prov-1', 'loc-video'), video);
        assert.deepStrictEqual(await store.getLocation('prov-1', 'loc-bare'), bare);
        assert.deepStrictEqual(await store.getLocation('prov-1', 'loc-nowait'), noWaitingRoom);
        assert.deepStrictEqual(await store.getLocation('prov-1', 'loc-office'), office);
      });

      it('when a location is put again, even as the other kind, then the second replaces the first', async () => {
        await seed({
          providers: [aProvider()],
          locations: [aVirtualLocation({ id: 'loc-a' }), anOfficeLocation({ id: 'loc-b' })],
        });
        const nowOffice = anOfficeLocation({ id: 'loc-a', name: 'Annex', address: '1 Side Road', updatedAt: T1 });
        const nowVirtual = aVirtualLocation({ id: 'loc-b', url: 'https://meet.google.com/abc-defg-hij', platform: 'meet', isDefault: false });

        await store.transaction(async (tx) => {
          await tx.putLocation(nowOffice);
          await tx.putLocation(nowVirtual);
        });

        assert.deepStrictEqual(await store.getLocation('prov-1', 'loc-a'), nowOffice);
        assert.deepStrictEqual(await store.getLocation('prov-1', 'loc-b'), nowVirtual);
      });

      it('when listing locations, then only that provider\'s come back, ordered by id', async () => {
        const c = aVirtualLocation({ id: 'loc-c' });
        const a = anOfficeLocation({ id: 'loc-a' });
        const b = aVirtualLocation({ id: 'loc-b', isDefault: false });
        await seed({
          providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })],
          locations: [c, a, anOfficeLocation({ providerId: 'prov-2', id: 'loc-0' }), b],
        });

        assert.deepStrictEqual(await store.listLocations('prov-1'), [a, b, c]);
      });

      it('when another provider asks for a location id, then getLocation returns null', async () => {
        await seed({
          providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })],
          locations: [aVirtualLocation({ providerId: 'prov-1', id: 'loc-video' })],
        });

        assert.equal(await store.getLocation('prov-2', 'loc-video'), null);
      });

      it('when a location is deleted, then the sessions pointing at it are detached and nothing else changes', async () => {
        const first = aSession({ id: 'sess-1', locationId: 'loc-video' });
        const atOffice = aSession({ id: 'sess-2', locationId: 'loc-office' });
        const third = aSession({ id: 'sess-3', locationId: 'loc-video', start: '2026-11-11T15:00:00.000Z', end: '2026-11-11T15:50:00.000Z' });
        const otherProviders = aSession({ providerId: 'prov-2', id: 'sess-1', locationId: 'loc-video' });
        const otherLocation = aVirtualLocation({ providerId: 'prov-2', id: 'loc-video' });
        await seed({
          providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })],
          locations: [aVirtualLocation({ id: 'loc-video' }), anOfficeLocation({ id: 'loc-office' }), otherLocation],
          sessions: [first, atOffice, third, otherProviders],
        });

        const deleted = await store.transaction((tx) => tx.deleteLocation('prov-1', 'loc-video'));

        assert.equal(deleted, true);
        assert.equal(await store.getLocation('prov-1', 'loc-video'), null);
        assert.deepStrictEqual(await store.getSession('prov-1', 'sess-1'), { ...first, locationId: null });
        assert.deepStrictEqual(await store.getSession('prov-1', 'sess-2'), atOffice);
        assert.deepStrictEqual(await store.getSession('prov-1', 'sess-3'), { ...third, locationId: null });
        assert.deepStrictEqual(await store.getSession('prov-2', 'sess-1'), otherProviders);
        assert.deepStrictEqual(await store.getLocation('prov-2', 'loc-video'), otherLocation);
      });

      it('when the location to delete does not exist, then deleteLocation returns false', async () => {
        await seed({ providers: [aProvider()], locations: [aVirtualLocation({ id: 'loc-video' })] });

        assert.equal(await store.transaction((tx) => tx.deleteLocation('prov-1', 'loc-404')), false);
        assert.deepStrictEqual(await store.listLocations('prov-1'), [aVirtualLocation({ id: 'loc-video' })]);
      });
    });

    describe('sessions', () => {
      it('when join token hashes are set, then a session is found by its hash, a stored hash is never replaced, and a rewrite of the session keeps it', async () => {
        await seed(twoProviders());
        assert.deepEqual(await store.listSessionsWithoutJoinToken('prov-1'), ['sess-1']);
        await store.transaction((tx) => tx.setJoinTokenHashes('prov-1', [{ sessionId: 'sess-1', tokenHash: 'a'.repeat(64) }]));
        await store.transaction((tx) => tx.setJoinTokenHashes('prov-1', [{ sessionId: 'sess-1', tokenHash: 'b'.repeat(64) }]));
        await store.transaction((tx) => tx.putSession(aSession({ providerId: 'prov-1', status: 'cancelled' })));
        assert.deepEqual(await store.findJoinSession('a'.repeat(64)), { providerId: 'prov-1', sessionId: 'sess-1' });
        assert.equal(await store.findJoinSession('b'.repeat(64)), null);
        assert.deepEqual(await store.listSessionsWithoutJoinToken('prov-1'), []);
        assert.deepEqual(await store.listSessionsWithoutJoinToken('prov-2'), ['sess-1']);
        await store.transaction((tx) => tx.deleteSession('prov-1', 'sess-1'));
        assert.equal(await store.findJoinSession('a'.repeat(64)), null);
      });

      it('when a provider is stored with joinLink, then it reads back', async () => {
        await seed({ providers: [aProvider({ id: 'prov-1', joinLink: 'stable' }), aProvider({ id: 'prov-2', joinLink: 'direct' })] });
        assert.equal((await store.getProvider('prov-1'))?.joinLink, 'stable');
        assert.equal((await store.getProvider('prov-2'))?.joinLink, 'direct');
      });

      it('when versions of a window are listed, then only scheduled sessions overlapping it come, as ids, fingerprints, sequences and stamps, by start then id', async () => {
        const at = (day: number) => `2026-11-${String(day).padStart(2, '0')}T15:00:00.000Z`;
        const end = (day: number) => `2026-11-${String(day).padStart(2, '0')}T15:50:00.000Z`;
        await seed({
          providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })],
          locations: [aVirtualLocation({ providerId: 'prov-1' }), aVirtualLocation({ providerId: 'prov-2' })],
          sessions: [
            aSession({ id: 'b', start: at(10), end: end(10), eventFingerprint: 'fp-b', sequence: 2, lastModified: T1 }),
            aSession({ id: 'a', start: at(10), end: end(10), locationId: null, eventFingerprint: 'fp-a' }),
            aSession({ id: 'before', start: at(1), end: end(1) }),
            aSession({ id: 'after', start: at(20), end: end(20) }),
            aSession({ id: 'cancelled', start: at(12), end: end(12), status: 'cancelled', locationId: null }),
            aSession({ providerId: 'prov-2', id: 'other', start: at(12), end: end(12) }),
          ],
        });

        const versions = await store.listSessionVersions('prov-1', { endAfter: end(1), startBefore: at(20) });

        assert.deepStrictEqual(versions, [
          { id: 'a', eventFingerprint: 'fp-a', sequence: 0, lastModified: T0, createdAt: T0 },
          { id: 'b', eventFingerprint: 'fp-b', sequence: 2, lastModified: T1, createdAt: T0 },
        ]);
      });

      it('when sessions are written after a revision, then listSessionChanges returns just those (any status or time), and counts deletions', async () => {
        await seed({ providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })], locations: [aVirtualLocation({ providerId: 'prov-1' }), aVirtualLocation({ providerId: 'prov-2' })] });
        const write = (sessions: Session[]) =>
          store.transaction(async (tx) => {
            await tx.putSessions(sessions);
            return tx.bumpFeedRevision(sessions[0]!.providerId, T1);
          });
        const r1 = await write([aSession({ id: 'old' }), aSession({ id: 'gone', start: '2026-11-09T15:00:00.000Z', end: '2026-11-09T15:50:00.000Z' })]);
        await write([aSession({ providerId: 'prov-2', id: 'other' })]);
        const moved = aSession({ id: 'moved', start: '2030-01-01T15:00:00.000Z', end: '2030-01-01T15:50:00.000Z' });
        const cancelled = aSession({ id: 'cancelled', status: 'cancelled', locationId: null });
        const r2 = await write([moved, cancelled]);

        assert.deepStrictEqual(await store.listSessionChanges('prov-1', r1), { changed: [cancelled, moved], deletions: 0 });
        assert.deepStrictEqual(await store.listSessionChanges('prov-1', r2), { changed: [], deletions: 0 });
        assert.deepStrictEqual((await store.listSessionChanges('prov-1', 0)).changed.map((s) => s.id), ['gone', 'cancelled', 'old', 'moved']);

        await store.transaction((tx) => tx.deleteSession('prov-1', 'gone'));
        await store.transaction((tx) => tx.deleteSession('prov-1', 'never-was'));
        assert.deepStrictEqual(await store.listSessionChanges('prov-1', r2), { changed: [], deletions: 1 });
        assert.equal(await store.sessionDeletions('prov-1'), 1);
        assert.equal(await store.sessionDeletions('prov-2'), 0);
        assert.equal(await store.sessionDeletions('prov-404'), 0);
      });

      it('when sessions are asked for by id, then getSessions returns those of the provider that exist, whole, by start then id', async () => {
        const first = aSession({ id: 's2', start: '2026-11-09T15:00:00.000Z', end: '2026-11-09T15:50:00.000Z' });
        const second = aSession({ id: 's1', locationId: null });
        await seed({
          providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })],
          locations: [aVirtualLocation({ providerId: 'prov-1' }), aVirtualLocation({ providerId: 'prov-2' })],
          sessions: [second, first, aSession({ providerId: 'prov-2', id: 's3' })],
        });

        assert.deepStrictEqual(await store.getSessions('prov-1', ['s1', 's2', 's3', 'missing']), [first, second]);
        assert.deepStrictEqual(await store.getSessions('prov-1', []), []);
      });

      it('when sessions are put, then getSession returns each one exactly, a null client included', async () => {
        const full = aSession({
          id: 'sess-full',
          telehealthUrl: 'https://zoom.us/j/999',
          status: 'cancelled',
          seriesId: 'series-1',
          sequence: 3,
          eventFingerprint: 'fp-3',
          lastModified: T1,
          updatedAt: T2,
        });
        const anonymous = aSession({ id: 'sess-anon', client: null, locationId: null });
        const partialClient = aSession({ id: 'sess-partial', client: { id: null, firstName: 'Jane', lastName: null } });
        await seed({ providers: [aProvider()], sessions: [full, anonymous, partialClient] });

        assert.deepStrictEqual(await store.getSession('prov-1', 'sess-full'), full);
        assert.deepStrictEqual(await store.getSession('prov-1', 'sess-anon'), anonymous);
        assert.deepStrictEqual(await store.getSession('prov-1', 'sess-partial'), partialClient);
      });

      it('when a session is put again, then the second replaces the first', async () => {
        await seed({ providers: [aProvider()], sessions: [aSession({ id: 'sess-1' })] });
        const moved = aSession({
          id: 'sess-1',
          start: '2026-11-12T16:00:00.000Z',
          end: '2026-11-12T16:50:00.000Z',
          client: null,
          sequence: 1,
          eventFingerprint: 'fp-1',
          lastModified: T1,
          updatedAt: T1,
        });

        await store.transaction((tx) => tx.putSession(moved));

        assert.deepStrictEqual(await store.getSession('prov-1', 'sess-1'), moved);
        assert.deepStrictEqual(await store.listSessions('prov-1'), [moved]);
      });

      it('when the session does not exist or belongs to another provider, then getSession returns null', async () => {
        await seed({ providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })], sessions: [aSession({ id: 'sess-1' })] });

        assert.equal(await store.getSession('prov-1', 'sess-404'), null);
        assert.equal(await store.getSession('prov-2', 'sess-1'), null);
      });

      it('when listing sessions, then only that provider\'s come back, ordered by start then id', async () => {
        // Insertion order, id order and (start, id) order all differ.
        const d = aSession({ id: 'sess-d', start: '2026-11-10T15:00:00.000Z', end: '2026-11-10T15:50:00.000Z' });
        const a = aSession({ id: 'sess-a', start: '2026-11-12T15:00:00.000Z', end: '2026-11-12T15:50:00.000Z' });
        const c = aSession({ id: 'sess-c', start: '2026-11-10T15:00:00.000Z', end: '2026-11-10T15:50:00.000Z' });
        const b = aSession({ id: 'sess-b', start: '2026-11-09T15:00:00.000Z', end: '2026-11-09T15:50:00.000Z' });
        const elsewhere = aSession({ providerId: 'prov-2', id: 'sess-0', start: '2026-11-01T15:00:00.000Z' });
        await seed({
          providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })],
          sessions: [d, a, elsewhere, c, b],
        });

        assert.deepStrictEqual(await store.listSessions('prov-1'), [b, c, d, a]);
        assert.deepStrictEqual(await store.listSessions('prov-1', {}), [b, c, d, a]);
      });

      describe('listSessions filters', () => {
        const boundary = '2026-11-10T16:00:00.000Z';
        const endsBefore = aSession({ id: 's-ends-before', start: '2026-11-10T14:00:00.000Z', end: '2026-11-10T15:00:00.000Z' });
        const endsAtBoundary = aSession({ id: 's-ends-at', start: '2026-11-10T15:00:00.000Z', end: boundary });
        const straddles = aSession({ id: 's-straddles', start: '2026-11-10T15:30:00.000Z', end: '2026-11-10T16:30:00.000Z' });
        const startsAtBoundary = aSession({ id: 's-starts-at', start: boundary, end: '2026-11-10T17:00:00.000Z' });
        const startsAfter = aSession({ id: 's-starts-after', start: '2026-11-10T18:00:00.000Z', end: '2026-11-10T19:00:00.000Z' });
        const timeline = [endsBefore, endsAtBoundary, straddles, startsAtBoundary, startsAfter];

        it('when endAfter is given, then only sessions ending strictly after it come back', async () => {
          await seed({ providers: [aProvider()], sessions: timeline });

          assert.deepStrictEqual(await store.listSessions('prov-1', { endAfter: boundary }), [straddles, startsAtBoundary, startsAfter]);
        });

        it('when startBefore is given, then only sessions starting strictly before it come back', async () => {
          await seed({ providers: [aProvider()], sessions: timeline });

          assert.deepStrictEqual(await store.listSessions('prov-1', { startBefore: boundary }), [endsBefore, endsAtBoundary, straddles]);
        });

        it('when both bounds are given, then only sessions overlapping the window come back', async () => {
          await seed({ providers: [aProvider()], sessions: timeline });

          assert.deepStrictEqual(
            await store.listSessions('prov-1', { endAfter: '2026-11-10T15:10:00.000Z', startBefore: '2026-11-10T17:30:00.000Z' }),
            [endsAtBoundary, straddles, startsAtBoundary],
          );
        });

        it('when status is given, then only sessions with that status come back', async () => {
          const scheduled = aSession({ id: 'sess-1', status: 'scheduled' });
          const cancelled = aSession({ id: 'sess-2', status: 'cancelled' });
          await seed({ providers: [aProvider()], sessions: [scheduled, cancelled] });

          assert.deepStrictEqual(await store.listSessions('prov-1', { status: 'cancelled' }), [cancelled]);
          assert.deepStrictEqual(await store.listSessions('prov-1', { status: 'scheduled' }), [scheduled]);
        });

        it('when locationId is given, then only sessions at that location come back', async () => {
          const video = aSession({ id: 'sess-1', locationId: 'loc-video' });
          const office = aSession({ id: 'sess-2', locationId: 'loc-office' });
          const nowhere = aSession({ id: 'sess-3', locationId: null });
          await seed({ providers: [aProvider()], sessions: [video, office, nowhere] });

          assert.deepStrictEqual(await store.listSessions('prov-1', { locationId: 'loc-office' }), [office]);
        });

        it('when seriesId is given, then only sessions of that series come back', async () => {
          const weekly1 = aSession({ id: 'sess-1', seriesId: 'weekly' });
          const weekly2 = aSession({ id: 'sess-2', seriesId: 'weekly', start: '2026-11-17T15:00:00.000Z', end: '2026-11-17T15:50:00.000Z' });
          const other = aSession({ id: 'sess-3', seriesId: 'monthly' });
          const single = aSession({ id: 'sess-4', seriesId: null });
          await seed({ providers: [aProvider()], sessions: [weekly2, other, single, weekly1] });

          assert.deepStrictEqual(await store.listSessions('prov-1', { seriesId: 'weekly' }), [weekly1, weekly2]);
        });

        it('when every filter is given, then only the session matching all of them comes back', async () => {
          const match = { start: '2026-11-10T15:00:00.000Z', end: '2026-11-10T15:50:00.000Z', status: 'scheduled', locationId: 'loc-video', seriesId: 'weekly' } as const;
          const target = aSession({ id: 'sess-target', ...match });
          // Each decoy fails exactly one filter.
          const decoys = [
            aSession({ id: 'sess-ended', ...match, start: '2026-11-01T15:00:00.000Z', end: '2026-11-01T15:50:00.000Z' }),
            aSession({ id: 'sess-later', ...match, start: '2026-12-20T15:00:00.000Z', end: '2026-12-20T15:50:00.000Z' }),
            aSession({ id: 'sess-cancelled', ...match, status: 'cancelled' }),
            aSession({ id: 'sess-office', ...match, locationId: 'loc-office' }),
            aSession({ id: 'sess-other-series', ...match, seriesId: 'monthly' }),
            aSession({ providerId: 'prov-2', id: 'sess-target', ...match }),
          ];
          await seed({ providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })], sessions: [...decoys, target] });

          const found = await store.listSessions('prov-1', {
            endAfter: '2026-11-05T00:00:00.000Z',
            startBefore: '2026-12-01T00:00:00.000Z',
            status: 'scheduled',
            locationId: 'loc-video',
            seriesId: 'weekly',
          });

          assert.deepStrictEqual(found, [target]);
        });
      });

      it('when a session is deleted, then it is gone and deleteSession returns true; false when missing', async () => {
        const kept = aSession({ id: 'sess-2' });
        await seed({ providers: [aProvider()], sessions: [aSession({ id: 'sess-1' }), kept] });

        assert.equal(await store.transaction((tx) => tx.deleteSession('prov-1', 'sess-1')), true);
        assert.equal(await store.transaction((tx) => tx.deleteSession('prov-1', 'sess-1')), false);
        assert.equal(await store.getSession('prov-1', 'sess-1'), null);
        assert.deepStrictEqual(await store.listSessions('prov-1'), [kept]);
      });

      it('when 1,200 sessions are put at once, new and replaced, then each is stored exactly', async () => {
        const existing = aSession({ id: 's-0000', uid: 's-0000@sessionsync.test', sequence: 0 });
        await seed({ providers: [aProvider()], sessions: [existing] });
        const many = Array.from({ length: 1200 }, (_, i) => {
          const id = `s-${String(i).padStart(4, '0')}`;
          return aSession({ id, uid: `${id}@sessionsync.test`, sequence: i === 0 ? 1 : 0, eventFingerprint: `fp-${i}` });
        });

        await store.transaction((tx) => tx.putSessions(many));

        const stored = await store.listSessions('prov-1');
        assert.equal(stored.length, 1200);
        assert.deepStrictEqual(await store.getSession('prov-1', 's-0000'), many[0]);
        assert.deepStrictEqual(await store.getSession('prov-1', 's-1199'), many[1199]);
      });

      it('when one of many sessions put at once takes another\'s uid, then none of them lands', async () => {
        await seed({ providers: [aProvider()], sessions: [aSession({ id: 'taken', uid: 'taken@sessionsync.test' })] });
        const batch = [aSession({ id: 'n-1', uid: 'n-1@sessionsync.test' }), aSession({ id: 'n-2', uid: 'taken@sessionsync.test' })];

        await assert.rejects(store.transaction((tx) => tx.putSessions(batch)));

        assert.deepStrictEqual((await store.listSessions('prov-1')).map((s) => s.id), ['taken']);
      });

      it('when another provider\'s session reuses a uid, then the write rejects and the first session stays', async () => {
        const original = aSession({ providerId: 'prov-1', id: 'sess-1', uid: 'shared@sessionsync.test' });
        await seed({ providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })], sessions: [original] });

        await assert.rejects(
          store.transaction((tx) => tx.putSession(aSession({ providerId: 'prov-2', id: 'sess-9', uid: 'shared@sessionsync.test' }))),
        );

        assert.deepStrictEqual(await store.getSession('prov-1', 'sess-1'), original);
        assert.equal(await store.getSession('prov-2', 'sess-9'), null);
      });
    });

    describe('instants', () => {
      it('when sessions lie at both edges of the instant range, then listing orders them by time and filters by them', async () => {
        const earliest = aSession({ id: 'sess-early', uid: 'early@sessionsync.test', start: '1970-01-01T00:00:00.000Z', end: '1970-01-01T00:50:00.000Z' });
        const latest = aSession({ id: 'sess-late', uid: 'late@sessionsync.test', start: '2199-12-31T23:10:00.000Z', end: '2200-01-01T00:00:00.000Z' });
        const now = aSession({ id: 'sess-now', uid: 'now@sessionsync.test' });
        await seed({ providers: [aProvider()], sessions: [latest, now, earliest] });

        assert.deepEqual((await store.listSessions('prov-1')).map((s) => s.id), ['sess-early', 'sess-now', 'sess-late']);
        const upcoming = await store.listSessions('prov-1', { endAfter: '2199-12-31T23:30:00.000Z' });
        assert.deepEqual(upcoming.map((s) => s.id), ['sess-late']);
      });

      it('when a session instant is not fixed-width UTC inside the range, then the write rejects and nothing is stored', async () => {
        await seed({ providers: [aProvider()] });
        const bad: [string, string][] = [
          ['+010000-01-01T00:20:00.000Z', 'end'],
          ['-000001-01-01T00:00:00.000Z', 'start'],
          ['1969-12-31T23:59:59.999Z', 'start'],
          ['2200-01-01T00:00:00.001Z', 'end'],
          ['2026-11-02T15:00:00Z', 'start'],
          ['2026-11-02T10:00:00.000-05:00', 'start'],
        ];
        for (const [value, field] of bad) {
          const session = field === 'start' ? aSession({ start: value }) : aSession({ start: '2199-12-31T23:30:00.000Z', end: value });
          await assert.rejects(store.transaction((tx) => tx.putSession(session)), RangeError, value);
        }
        assert.deepEqual(await store.listSessions('prov-1'), []);
      });
    });

    describe('feeds', () => {
      it('when feeds are put, then listFeeds returns each one exactly, nulls included', async () => {
        const fresh = aFeedToken({ id: 'feed-1', label: null, tokenHash: '1'.repeat(64) });
        const used = aFeedToken({
          id: 'feed-2',
          tokenHash: '2'.repeat(64),
          revokedAt: T2,
          lastFetchedAt: T1,
          lastUserAgent: 'Google-Calendar-Importer',
          fetchCount: 5,
        });
        await seed({ providers: [aProvider()], feeds: [fresh, used] });

        assert.deepStrictEqual(await store.listFeeds('prov-1'), [fresh, used]);
      });

      it('when a feed is put again, then the second replaces the first', async () => {
        await seed({ providers: [aProvider()], feeds: [aFeedToken({ id: 'feed-1' })] });
        const relabelled = aFeedToken({ id: 'feed-1', label: 'iPhone', fetchCount: 2, lastFetchedAt: T1 });

        await store.transaction((tx) => tx.putFeed(relabelled));

        assert.deepStrictEqual(await store.listFeeds('prov-1'), [relabelled]);
      });

      it('when listing feeds, then only that provider\'s come back, ordered by id', async () => {
        const c = aFeedToken({ id: 'feed-c', tokenHash: 'c'.repeat(64) });
        const a = aFeedToken({ id: 'feed-a', tokenHash: 'a'.repeat(64) });
        const b = aFeedToken({ id: 'feed-b', tokenHash: 'b'.repeat(64) });
        await seed({
          providers: [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })],
          feeds: [c, aFeedToken({ providerId: 'prov-2', id: 'feed-0', tokenHash: '0'.repeat(64) }), a, b],
        });

        assert.deepStrictEqual(await store.listFeeds('prov-1'), [a, b, c]);
      });

      it('when an unrevoked feed\'s hash is looked up, then findFeedRevision returns the feed, its provider and the provider\'s revision', async () => {
        const data = twoProviders();
        await seed(data);

        assert.deepStrictEqual(await store.findFeedRevision('2'.repeat(64)), activeFeed(data.feeds[1]!, data.providers[1]!));
      });

      it('when the hash is unknown, then findFeedRevision returns null', async () => {
        await seed(twoProviders());

        assert.equal(await store.findFeedRevision('f'.repeat(64)), null);
      });

      it('when the feed is revoked, then findFeedRevision returns null', async () => {
        await seed({ providers: [aProvider()], feeds: [aFeedToken({ tokenHash: '1'.repeat(64), revokedAt: T1 })] });

        assert.equal(await store.findFeedRevision('1'.repeat(64)), null);
      });

      it('when an unrevoked feed\'s hash is looked up narrowly, then findFeedRevision returns its ids, provider createdAt and feedRevision; unknown and revoked give null', async () => {
        const data = twoProviders();
        data.providers[1] = { ...data.providers[1]!, feedRevision: 7, createdAt: T1 };
        data.feeds.push(aFeedToken({ id: 'feed-3', providerId: 'prov-2', tokenHash: '3'.repeat(64), revokedAt: T2 }));
        await seed(data);

        assert.deepStrictEqual(await store.findFeedRevision('2'.repeat(64)), { feedId: 'feed-2', providerId: 'prov-2', providerCreatedAt: T1, feedRevision: 7 });
        assert.equal(await store.findFeedRevision('3'.repeat(64)), null);
        assert.equal(await store.findFeedRevision('f'.repeat(64)), null);
        await store.transaction((tx) => tx.bumpFeedRevision('prov-2', T2));
        assert.equal((await store.findFeedRevision('2'.repeat(64)))?.feedRevision, 8);
      });

      it('when many hashes are looked up at once, then findFeedRevisions answers the active ones by hash, and nothing for none', async () => {
        const data = twoProviders();
        data.feeds.push(aFeedToken({ id: 'feed-3', providerId: 'prov-2', tokenHash: '3'.repeat(64), revokedAt: T2 }));
        await seed(data);

        const found = await store.findFeedRevisions(['1'.repeat(64), '2'.repeat(64), '3'.repeat(64), 'f'.repeat(64)]);
        assert.deepStrictEqual([...found.keys()].sort(), ['1'.repeat(64), '2'.repeat(64)]);
        assert.deepStrictEqual(found.get('2'.repeat(64)), await store.findFeedRevision('2'.repeat(64)));
        assert.equal((await store.findFeedRevisions([])).size, 0);
      });

      it('when feeds are revoked, revisions bumped or providers written or deleted, then feedLookupEpoch changes (or is null); other writes leave it', async () => {
        await seed(twoProviders());
        const epochs: (number | null)[] = [await heldEpoch(store)];
        const step = async (fn: (tx: StoreTx) => Promise<unknown>) => {
          await store.transaction(fn);
          epochs.push(store.feedLookupEpoch());
        };
        await step((tx) => tx.putSession(aSession({ id: 'sess-9' })));
        await step((tx) => tx.revokeFeed('prov-1', 'feed-1', T1));
        await step((tx) => tx.bumpFeedRevision('prov-2', T1));
        await step((tx) => tx.putProvider(aProvider({ id: 'prov-3' })));
        await step((tx) => tx.deleteProvider('prov-3'));
        await store.recordFeedFetch('feed-2', T2, 'ua', 1);
        epochs.push(store.feedLookupEpoch());
        const [start, session, revoke, bump, put, del, fetch] = epochs;
        assert.equal(session, start, 'a session write alone does not change what findFeedRevision answers');
        assert.notEqual(revoke, session);
        assert.notEqual(bump, revoke);
        assert.notEqual(put, bump);
        assert.notEqual(del, put);
        assert.equal(fetch, del, 'fetch bookkeeping changes nothing a lookup answers');
      });

      it('when a transaction moves feed revisions, then onFeedsChanged hears its providers once it committed; a rolled-back one and other writes are not heard', async () => {
        await seed(twoProviders());
        const heard: string[][] = [];
        const stop = store.onFeedsChanged((ids) => heard.push([...ids].sort()));
        let heardInside = -1;
        await store.transaction(async (tx) => {
          await tx.bumpFeedRevision('prov-2', T1);
          await tx.putProvider(aProvider({ id: 'prov-3' }));
          await tx.bumpFeedRevision('prov-2', T1);
          heardInside = heard.length;
        });
        assert.equal(heardInside, 0, 'not before the commit');
        assert.deepStrictEqual(heard, [['prov-2', 'prov-3']], 'one call per commit, each provider once');
        await store.transaction((tx) => tx.putSession(aSession({ id: 'sess-9' })));
        await store.transaction((tx) => tx.revokeFeed('prov-1', 'feed-1', T1));
        await store.recordFeedFetch('feed-2', T2, 'ua', 1);
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.bumpFeedRevision('prov-1', T1);
            throw new Error('rolled back');
          }),
          /rolled back/,
        );
        assert.equal(heard.length, 1, 'a session write, a revocation, bookkeeping and a rollback move no revision anyone hears of');
        stop();
        await store.transaction((tx) => tx.bumpFeedRevision('prov-1', T1));
        assert.equal(heard.length, 1, 'unsubscribed');
        // A listener that throws fails neither the commit nor the listeners after it.
        const stopFaulty = store.onFeedsChanged(() => {
          throw new Error('faulty listener');
        });
        const after: string[] = [];
        const stopAfter = store.onFeedsChanged((ids) => after.push(...ids));
        const revision = (await store.getProvider('prov-1'))!.feedRevision;
        await store.transaction((tx) => tx.bumpFeedRevision('prov-1', T1));
        assert.equal((await store.getProvider('prov-1'))!.feedRevision, revision + 1, 'committed');
        assert.deepStrictEqual(after, ['prov-1']);
        stopFaulty();
        stopAfter();
      });

      it('when feeds are revoked or tombstoned or a provider deleted, then feedTokenEpoch changes (or is null); session and bookkeeping writes leave it', async () => {
        await seed(twoProviders());
        await heldEpoch(store);
        const epochs: (number | null)[] = [store.feedTokenEpoch()];
        const step = async (fn: (tx: StoreTx) => Promise<unknown>) => {
          await store.transaction(fn);
          epochs.push(store.feedTokenEpoch());
        };
        await step((tx) => tx.putSession(aSession({ id: 'sess-9' })));
        await step((tx) => tx.revokeFeed('prov-1', 'feed-1', T1));
        await step((tx) => tx.tombstoneFeeds('prov-2', 'Sessions', T1));
        await step((tx) => tx.putProvider(aProvider({ id: 'prov-3' })));
        await step((tx) => tx.deleteProvider('prov-3'));
        await store.recordFeedFetch('feed-2', T2, 'ua', 1);
        epochs.push(store.feedTokenEpoch());
        const [start, session, revoke, tombstone, , del, fetch] = epochs;
        assert.equal(typeof start, 'number');
        assert.equal(session, start, 'a session write names no other feed');
        assert.notEqual(revoke, session);
        assert.notEqual(tombstone, revoke);
        assert.notEqual(del, tombstone);
        assert.equal(fetch, del, 'fetch bookkeeping changes nothing a lookup answers');
      });

      it('when an active feed is revoked, then revokedAt is set and the feed stops resolving', async () => {
        const feed = aFeedToken({ id: 'feed-1', tokenHash: '1'.repeat(64) });
        await seed({ providers: [aProvider()], feeds: [feed] });

        const revoked = await store.transaction((tx) => tx.revokeFeed('prov-1', 'feed-1', T1));

        assert.equal(revoked, true);
        assert.deepStrictEqual(await store.listFeeds('prov-1'), [{ ...feed, revokedAt: T1 }]);
        assert.equal(await store.findFeedRevision('1'.repeat(64)), null);
      });

      it('when the feed belongs to another provider or does not exist, then revokeFeed returns false and changes nothing', async () => {
        const data = twoProviders();
        await seed(data);

        assert.equal(await store.transaction((tx) => tx.revokeFeed('prov-1', 'feed-2', T1)), false);
        assert.equal(await store.transaction((tx) => tx.revokeFeed('prov-1', 'feed-404', T1)), false);
        assert.deepStrictEqual(await store.findFeedRevision('2'.repeat(64)), activeFeed(data.feeds[1]!, data.providers[1]!));
      });

      it('when the feed is already revoked, then revokeFeed returns false and keeps the first revokedAt', async () => {
        const feed = aFeedToken({ id: 'feed-1', revokedAt: T1 });
        await seed({ providers: [aProvider()], feeds: [feed] });

        assert.equal(await store.transaction((tx) => tx.revokeFeed('prov-1', 'feed-1', T2)), false);
        assert.deepStrictEqual(await store.listFeeds('prov-1'), [feed]);
      });

      it('when the feed revision is bumped twice, then each bump returns the new value and nothing else changes', async () => {
        const provider = aProvider({ feedRevision: 1 });
        await seed({ providers: [provider] });

        const first = await store.transaction((tx) => tx.bumpFeedRevision('prov-1', T1));
        const second = await store.transaction((tx) => tx.bumpFeedRevision('prov-1', T2));

        assert.equal(first, 2);
        assert.equal(second, 3);
        assert.deepStrictEqual(await store.getProvider('prov-1'), { ...provider, feedRevision: 3 });
      });

      it('when the provider whose feed revision is bumped does not exist, then the bump rejects', async () => {
        await assert.rejects(store.transaction((tx) => tx.bumpFeedRevision('prov-404', T1)));
      });

      it('when fetches are recorded, then fetchCount grows and the last fetch time and user agent are kept', async () => {
        const provider = aProvider({ feedRevision: 5 });
        const feed = aFeedToken({ id: 'feed-1', fetchCount: 0 });
        await seed({ providers: [provider], feeds: [feed] });

        await store.recordFeedFetch('feed-1', T1, 'Google-Calendar-Importer');
        assert.deepStrictEqual(await store.listFeeds('prov-1'), [
          { ...feed, fetchCount: 1, lastFetchedAt: T1, lastUserAgent: 'Google-Calendar-Importer' },
        ]);

        await store.recordFeedFetch('feed-1', T2, null);
        assert.deepStrictEqual(await store.listFeeds('prov-1'), [{ ...feed, fetchCount: 2, lastFetchedAt: T2, lastUserAgent: null }]);
        assert.deepStrictEqual(await store.getProvider('prov-1'), provider);
      });

      it('when the user agent is longer than 512 characters, then only its first 512 are kept', async () => {
        await seed({ providers: [aProvider()], feeds: [aFeedToken({ id: 'feed-1' })] });

        await store.recordFeedFetch('feed-1', T1, `${'x'.repeat(512)}overflow`);

        const [feed] = await store.listFeeds('prov-1');
        assert.equal(feed?.lastUserAgent, 'x'.repeat(512));
      });

      it('when the feed of a recorded fetch does not exist, then recordFeedFetch resolves and writes nothing', async () => {
        const feed = aFeedToken({ id: 'feed-1' });
        await seed({ providers: [aProvider()], feeds: [feed] });

        await store.recordFeedFetch('feed-404', T1, 'curl/8');

        assert.deepStrictEqual(await store.listFeeds('prov-1'), [feed]);
      });
    });

    describe('busy sources', () => {
      /** A connection source of `connectionId` (which the test puts first). */
      const aConnectionSource = (overrides: Partial<BusySource> = {}): BusySource =>
        aBusySource({ id: 'busy-conn', kind: 'connection', urlSealed: null, urlHost: null, connectionId: 'conn-1', ...overrides });

      /** `count` back-to-back 30-minute intervals from `start`. */
      function halfHours(start: string, count: number): BusyInterval[] {
        const from = Date.parse(start);
        return Array.from({ length: count }, (_, i) => ({
          start: new Date(from + i * 1_800_000).toISOString(),
          end: new Date(from + (i + 1) * 1_800_000).toISOString(),
        }));
      }

      async function seedSources(sources: BusySource[], providers: Provider[] = [aProvider()]): Promise<void> {
        await store.transaction(async (tx) => {
          for (const provider of providers) await tx.putProvider(provider);
          for (const provider of providers) await tx.putConnection(aConnection({ id: `conn-${provider.id}`, providerId: provider.id }));
          if (providers.some((p) => p.id === 'prov-1')) await tx.putConnection(aConnection({ id: 'conn-1' }));
          for (const source of sources) await tx.putBusySource(source);
        });
      }

      const isNotFound = (error: unknown): boolean => error instanceof AppError && error.code === ErrorCode.BUSY_SOURCE_NOT_FOUND;

      it('when sources of both kinds are put, then getBusySource returns each one exactly, nulls included', async () => {
        const read = aBusySource({
          id: 'busy-ics',
          status: 'ok',
          lastFetchedAt: T1,
          etag: '"abc-123"',
          lastModified: 'Tue, 03 Nov 2026 09:30:00 GMT',
          intervalCount: 3,
          nextFetchAt: T2,
          createdAt: T0,
          updatedAt: T1,
        });
        const failed = aBusySource({ id: 'busy-err', status: 'error', lastFetchedAt: T1, lastErrorCode: 'SOURCE_TIMEOUT' });
        const connection = aConnectionSource();
        await seedSources([read, failed, connection]);

        assert.deepStrictEqual(await store.getBusySource('prov-1', 'busy-ics'), read);
        assert.deepStrictEqual(await store.getBusySource('prov-1', 'busy-err'), failed);
        assert.deepStrictEqual(await store.getBusySource('prov-1', 'busy-conn'), connection);
        assert.equal(await store.getBusySource('prov-1', 'busy-404'), null);
        assert.equal(await store.getBusySource('prov-2', 'busy-ics'), null);
      });

      it('when a source is put again, then every field of the second replaces the first', async () => {
        await seedSources([aBusySource()]);
        const next = aBusySource({
          urlSealed: 'sealed:other',
          urlHost: 'ics.example.net',
          status: 'error',
          lastFetchedAt: T2,
          lastErrorCode: 'SOURCE_HTTP_STATUS',
          etag: 'W/"2"',
          lastModified: 'Wed, 04 Nov 2026 18:45:00 GMT',
          intervalCount: 12,
          nextFetchAt: T2,
          updatedAt: T2,
        });

        await store.transaction((tx) => tx.putBusySource(next));

        assert.deepStrictEqual(await store.listBusySources('prov-1'), [next]);
      });

      it('when listing sources, then only that provider\'s come back, ordered by id in code-unit order', async () => {
        const ids = ['busy-b', 'busy-B', 'busy-a', 'busy-10', 'busy-9'];
        await seedSources(
          [...ids.map((id) => aBusySource({ id })), aBusySource({ providerId: 'prov-2', id: 'busy-0' })],
          [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })],
        );

        assert.deepEqual((await store.listBusySources('prov-1')).map((s) => s.id), ['busy-10', 'busy-9', 'busy-B', 'busy-a', 'busy-b']);
        assert.deepEqual((await store.listBusySources('prov-2')).map((s) => s.id), ['busy-0']);
        assert.deepEqual(await store.listBusySources('prov-404'), []);
      });

      it('when a source is deleted, then its intervals go with it, others stay, and a second delete returns false', async () => {
        await seedSources([aBusySource({ id: 'busy-1' }), aBusySource({ id: 'busy-2' })]);
        await store.transaction(async (tx) => {
          await tx.replaceBusyIntervals('prov-1', 'busy-1', halfHours(T1, 2));
          await tx.replaceBusyIntervals('prov-1', 'busy-2', halfHours(T1, 1));
        });

        assert.equal(await store.transaction((tx) => tx.deleteBusySource('prov-1', 'busy-1')), true);

        assert.equal(await store.getBusySource('prov-1', 'busy-1'), null);
        assert.deepStrictEqual(
          await store.listBusyIntervals('prov-1', T0, T2),
          halfHours(T1, 1).map((i) => ({ ...i, sourceId: 'busy-2' })),
        );
        assert.equal(await store.transaction((tx) => tx.deleteBusySource('prov-1', 'busy-1')), false);
        assert.equal(await store.transaction((tx) => tx.deleteBusySource('prov-2', 'busy-2')), false);
        assert.ok(await store.getBusySource('prov-1', 'busy-2'));
      });

      it('when intervals are replaced, then only the new ones remain, intervalCount counts them, and other sources keep theirs', async () => {
        await seedSources([aBusySource({ id: 'busy-1' }), aBusySource({ id: 'busy-2' })]);
        const LATER = '2026-12-01T00:00:00.000Z';
        const first = halfHours('2026-11-05T09:00:00.000Z', 3);
        const second = [{ start: '2026-11-06T10:00:00.000Z', end: '2026-11-06T11:00:00.000Z' }];
        const other = [{ start: '2026-11-05T09:15:00.000Z', end: '2026-11-05T09:45:00.000Z' }];
        await store.transaction(async (tx) => {
          await tx.replaceBusyIntervals('prov-1', 'busy-1', first);
          await tx.replaceBusyIntervals('prov-1', 'busy-2', other);
        });
        assert.equal((await store.listBusyIntervals('prov-1', T0, LATER)).length, 4);

        await store.transaction((tx) => tx.replaceBusyIntervals('prov-1', 'busy-1', second));

        assert.deepStrictEqual(await store.listBusyIntervals('prov-1', T0, LATER), [
          { ...other[0]!, sourceId: 'busy-2' },
          { ...second[0]!, sourceId: 'busy-1' },
        ]);
        assert.equal((await store.getBusySource('prov-1', 'busy-1'))?.intervalCount, 1);
        await store.transaction((tx) => tx.replaceBusyIntervals('prov-1', 'busy-1', []));
        assert.deepStrictEqual((await store.listBusyIntervals('prov-1', T0, LATER)).map((i) => i.sourceId), ['busy-2']);
        assert.equal((await store.getBusySource('prov-1', 'busy-1'))?.intervalCount, 0);
      });

      it('when 20,000 intervals are stored for one source, then all of them are read back in order, and replacing them works', async () => {
        await seedSources([aBusySource()]);
        const many = halfHours('2026-01-01T00:00:00.000Z', 20_000);

        await store.transaction((tx) => tx.replaceBusyIntervals('prov-1', 'busy-1', many));
        const read = await store.listBusyIntervals('prov-1', '2025-01-01T00:00:00.000Z', '2028-01-01T00:00:00.000Z');
        assert.equal(read.length, 20_000);
        assert.deepStrictEqual(read[0], { ...many[0]!, sourceId: 'busy-1' });
        assert.deepStrictEqual(read[19_999], { ...many[19_999]!, sourceId: 'busy-1' });
        assert.ok(read.every((interval, i) => interval.start === many[i]!.start));
        assert.equal((await store.getBusySource('prov-1', 'busy-1'))?.intervalCount, 20_000);

        await store.transaction((tx) => tx.replaceBusyIntervals('prov-1', 'busy-1', many.slice(0, 19_999)));
        assert.equal((await store.listBusyIntervals('prov-1', '2025-01-01T00:00:00.000Z', '2028-01-01T00:00:00.000Z')).length, 19_999);
      });

      it('when intervals are listed for [from, to), then those that only touch it are left out and the rest come by start, source, end', async () => {
        await seedSources([aBusySource({ id: 'busy-a' }), aBusySource({ id: 'busy-b' }), aBusySource({ providerId: 'prov-2', id: 'busy-a' })], [
          aProvider({ id: 'prov-1' }),
          aProvider({ id: 'prov-2' }),
        ]);
        const at = (hhmm: string) => `2026-11-05T${hhmm}:00.000Z`;
        await store.transaction(async (tx) => {
          await tx.replaceBusyIntervals('prov-1', 'busy-a', [
            { start: at('08:00'), end: at('09:00') }, // ends at from: out
            { start: at('08:30'), end: at('09:01') }, // reaches in: in
            { start: at('10:00'), end: at('11:00') }, // inside
            { start: at('10:00'), end: at('10:30') }, // same start, shorter: before the one above
            { start: at('11:59'), end: at('12:30') }, // starts before to: in
            { start: at('12:00'), end: at('13:00') }, // starts at to: out
          ]);
          await tx.replaceBusyIntervals('prov-1', 'busy-b', [
            { start: at('07:00'), end: at('13:00') }, // covers the window
            { start: at('10:00'), end: at('10:15') },
          ]);
          await tx.replaceBusyIntervals('prov-2', 'busy-a', [{ start: at('10:00'), end: at('11:00') }]);
        });

        const found = await store.listBusyIntervals('prov-1', at('09:00'), at('12:00'));

        assert.deepStrictEqual(
          found.map((i) => `${i.start.slice(11, 16)}-${i.end.slice(11, 16)} ${i.sourceId}`),
          ['07:00-13:00 busy-b', '08:30-09:01 busy-a', '10:00-10:30 busy-a', '10:00-11:00 busy-a', '10:00-10:15 busy-b', '11:59-12:30 busy-a'],
        );
        assert.deepStrictEqual(await store.listBusyIntervals('prov-1', at('12:30'), at('12:31')), [
          { start: at('07:00'), end: at('13:00'), sourceId: 'busy-b' },
          { start: at('12:00'), end: at('13:00'), sourceId: 'busy-a' },
        ]);
        assert.deepStrictEqual(await store.listBusyIntervals('prov-3', at('00:00'), at('23:00')), []);
      });

      it('when an interval is empty, inverted or not fixed-width UTC, then the replace rejects and the stored intervals stay', async () => {
        await seedSources([aBusySource()]);
        const kept = halfHours(T1, 2);
        await store.transaction((tx) => tx.replaceBusyIntervals('prov-1', 'busy-1', kept));
        const bad: BusyInterval[] = [
          { start: T1, end: T1 },
          { start: T2, end: T1 },
          { start: '2026-11-03T09:30:00Z', end: T2 },
          { start: T1, end: '2026-11-04T18:45:00.000+01:00' },
        ];

        for (const interval of bad) {
          await assert.rejects(store.transaction((tx) => tx.replaceBusyIntervals('prov-1', 'busy-1', [...halfHours(T0, 1), interval])), JSON.stringify(interval));
        }

        assert.deepStrictEqual(await store.listBusyIntervals('prov-1', T0, T2), kept.map((i) => ({ ...i, sourceId: 'busy-1' })));
        assert.equal((await store.getBusySource('prov-1', 'busy-1'))?.intervalCount, 2);
      });

      it('when the source of a replace does not exist, then it rejects with BUSY_SOURCE_NOT_FOUND', async () => {
        await seedSources([aBusySource({ providerId: 'prov-2', id: 'busy-1' })], [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })]);

        await assert.rejects(store.transaction((tx) => tx.replaceBusyIntervals('prov-1', 'busy-1', halfHours(T1, 1))), isNotFound);
        await assert.rejects(store.transaction((tx) => tx.replaceBusyIntervals('prov-1', 'busy-1', [])), isNotFound);
        assert.deepStrictEqual(await store.listBusyIntervals('prov-2', T0, T2), []);
      });

      it('when a source mixes the two kinds\' columns, then the write rejects and nothing is stored', async () => {
        await seedSources([]);
        const mixed = [
          aBusySource({ id: 'ics-with-connection', connectionId: 'conn-1' }),
          aBusySource({ id: 'ics-without-url', urlSealed: null }),
          aBusySource({ id: 'ics-without-host', urlHost: null }),
          aConnectionSource({ id: 'connection-with-url', urlSealed: 'sealed:x', urlHost: 'example.org' }),
          aConnectionSource({ id: 'connection-with-host', urlHost: 'example.org' }),
          aConnectionSource({ id: 'connection-without-connection', connectionId: null }),
        ];

        for (const source of mixed) await assert.rejects(store.transaction((tx) => tx.putBusySource(source)), source.id);

        assert.deepStrictEqual(await store.listBusySources('prov-1'), []);
      });

      it('when a connection source names a connection that is not its provider\'s, then the write rejects', async () => {
        await seedSources([], [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })]);

        await assert.rejects(store.transaction((tx) => tx.putBusySource(aConnectionSource({ connectionId: 'conn-prov-2' }))));
        await assert.rejects(store.transaction((tx) => tx.putBusySource(aConnectionSource({ connectionId: 'conn-404' }))));

        assert.deepStrictEqual(await store.listBusySources('prov-1'), []);
      });

      it('when a negative intervalCount or a nextFetchAt that is not fixed-width UTC is put, then the write rejects', async () => {
        await seedSources([]);

        await assert.rejects(store.transaction((tx) => tx.putBusySource(aBusySource({ intervalCount: -1 }))));
        await assert.rejects(store.transaction((tx) => tx.putBusySource(aBusySource({ nextFetchAt: '2026-11-02T15:00:00Z' }))), RangeError);

        assert.deepStrictEqual(await store.listBusySources('prov-1'), []);
      });

      it('when the connection of a connection source is put again, then the source stays', async () => {
        await seedSources([aConnectionSource()]);

        await store.transaction((tx) => tx.putConnection(aConnection({ id: 'conn-1', status: 'needs_reauth', updatedAt: T1 })));

        assert.deepStrictEqual(await store.listBusySources('prov-1'), [aConnectionSource()]);
      });

      it('when a provider is deleted, then its busy sources and intervals go with it and another provider\'s stay', async () => {
        await seedSources([aBusySource(), aConnectionSource(), aBusySource({ providerId: 'prov-2' })], [aProvider({ id: 'prov-1' }), aProvider({ id: 'prov-2' })]);
        await store.transaction(async (tx) => {
          await tx.replaceBusyIntervals('prov-1', 'busy-1', halfHours(T1, 2));
          await tx.replaceBusyIntervals('prov-1', 'busy-conn', halfHours(T1, 2));
          await tx.replaceBusyIntervals('prov-2', 'busy-1', halfHours(T1, 3));
        });

        await store.transaction((tx) => tx.deleteProvider('prov-1'));

        assert.deepStrictEqual(await store.listBusySources('prov-1'), []);
        assert.deepStrictEqual(await store.listBusyIntervals('prov-1', T0, T2), []);
        assert.deepStrictEqual(await store.claimDueBusySources(T2, T2, 10), [aBusySource({ providerId: 'prov-2', intervalCount: 3, nextFetchAt: T2 })]);
        assert.equal((await store.listBusyIntervals('prov-2', T0, T2)).length, 3);
      });

      it('when busy sources and intervals are written, then neither the feed revision nor feedLookupEpoch moves', async () => {
        const provider = aProvider({ feedRevision: 4 });
        await seedSources([aConnectionSource()], [provider]);
        const epoch = await heldEpoch(store);

        await store.transaction(async (tx) => {
          await tx.putBusySource(aBusySource());
          await tx.replaceBusyIntervals('prov-1', 'busy-1', halfHours(T1, 2));
          await tx.deleteBusySource('prov-1', 'busy-conn');
        });
        await store.claimDueBusySources(T2, T2, 10);

        assert.equal(store.feedLookupEpoch(), epoch);
        assert.deepStrictEqual(await store.getProvider('prov-1'), provider);
        assert.equal(await store.sessionDeletions('prov-1'), 0);
      });

      describe('claimDueBusySources', () => {
        const minutes = (n: number) => new Date(Date.parse(T0) + n * 60_000).toISOString();

        it('when ICS and connection sources are due, then the claim returns the due ones of both kinds oldest first, moved to until, and leaves the rest', async () => {
          await seedSources(
            [
              aBusySource({ id: 'busy-late', nextFetchAt: minutes(5) }),
              aBusySource({ id: 'busy-b', nextFetchAt: minutes(-10) }),
              aBusySource({ id: 'busy-a', nextFetchAt: minutes(-10) }),
              aBusySource({ providerId: 'prov-0', id: 'busy-z', nextFetchAt: minutes(-10) }),
              aBusySource({ id: 'busy-now', nextFetchAt: minutes(0) }),
              aBusySource({ id: 'busy-oldest', nextFetchAt: minutes(-60), status: 'error', lastErrorCode: 'SOURCE_TIMEOUT' }),
              aConnectionSource({ nextFetchAt: minutes(-120) }),
            ],
            [aProvider({ id: 'prov-0' }), aProvider({ id: 'prov-1' })],
          );
          const until = minutes(3);

          const claimed = await store.claimDueBusySources(minutes(0), until, 10);

          assert.deepEqual(
            claimed.map((s) => `${s.providerId}/${s.id}`),
            ['prov-1/busy-conn', 'prov-1/busy-oldest', 'prov-0/busy-z', 'prov-1/busy-a', 'prov-1/busy-b', 'prov-1/busy-now'],
          );
          assert.ok(claimed.every((s) => s.nextFetchAt === until));
          assert.deepStrictEqual(claimed[0], aConnectionSource({ nextFetchAt: until }));
          assert.deepStrictEqual(claimed[1], aBusySource({ id: 'busy-oldest', nextFetchAt: until, status: 'error', lastErrorCode: 'SOURCE_TIMEOUT' }));
          for (const s of claimed) assert.deepStrictEqual(await store.getBusySource(s.providerId, s.id), s);
          assert.equal((await store.getBusySource('prov-1', 'busy-late'))?.nextFetchAt, minutes(5));
        });

        it('when more are due than the limit, then the oldest are claimed, the rest by the next claim, and then nothing until one is due again', async () => {
          await seedSources([1, 2, 3, 4, 5].map((n) => aBusySource({ id: `busy-${n}`, nextFetchAt: minutes(-n) })));
          const now = minutes(0);
          const until = minutes(10);

          const first = await store.claimDueBusySources(now, until, 2);
          const second = await store.claimDueBusySources(now, until, 2);
          const third = await store.claimDueBusySources(now, until, 2);
          const fourth = await store.claimDueBusySources(now, until, 2);

          assert.deepEqual(first.map((s) => s.id), ['busy-5', 'busy-4']);
          assert.deepEqual(second.map((s) => s.id), ['busy-3', 'busy-2']);
          assert.deepEqual(third.map((s) => s.id), ['busy-1']);
          assert.deepEqual(fourth, []);
          assert.deepEqual(await store.claimDueBusySources(minutes(9), minutes(20), 10), []);
          assert.deepEqual((await store.claimDueBusySources(until, minutes(20), 10)).map((s) => s.id), ['busy-1', 'busy-2', 'busy-3', 'busy-4', 'busy-5']);
          assert.deepEqual(await store.claimDueBusySources(until, minutes(20), 0), []);
        });

        it('when two claims run at once, then no source is returned by both and every due one by one of them', async () => {
          const ids = Array.from({ length: 30 }, (_, i) => `busy-${String(i).padStart(2, '0')}`);
          await seedSources(ids.map((id, i) => aBusySource({ id, nextFetchAt: minutes(-i) })));

          for (let round = 0; round < 10; round++) {
            const now = minutes(round * 100);
            const until = minutes(round * 100 + 50);
            const claims = await Promise.all([store.claimDueBusySources(now, until, 20), store.claimDueBusySources(now, until, 20)]);
            const all = claims.flat().map((s) => s.id);
            assert.equal(new Set(all).size, all.length, `round ${round}: ${all.join(' ')}`);
            assert.deepEqual([...all].sort(), ids, `round ${round}`);
          }
        });
      });
    });

    describe('web sessions and portal links', () => {
      const session = (overrides: Partial<WebSession> = {}): WebSession => ({
        idHash: 'a'.repeat(64),
        kind: 'provider',
        providerId: 'prov-1',
        createdAt: T0,
        expiresAt: T2,
        revokedAt: null,
        ...overrides,
      });
      const link = (overrides: Partial<PortalLink> = {}): PortalLink => ({ tokenHash: 'b'.repeat(64), providerId: 'prov-1', createdAt: T0, expiresAt: T1, usedAt: null, ...overrides });

      it('when provider and admin sessions are put, then getWebSession returns each exactly, and null for an unknown hash', async () => {
        await seed({ providers: [aProvider({ id: 'prov-1' })] });
        const provider = session();
        const admin = session({ idHash: 'c'.repeat(64), kind: 'admin', providerId: null });
        await store.transaction(async (tx) => {
          await tx.putWebSession(provider);
          await tx.putWebSession(admin);
        });
        assert.deepStrictEqual(await store.getWebSession(provider.idHash), provider);
        assert.deepStrictEqual(await store.getWebSession(admin.idHash), admin);
        assert.equal(await store.getWebSession('d'.repeat(64)), null);
      });

      it('when a session is revoked, then it keeps its row with revokedAt set, and a second revoke matches nothing', async () => {
        await seed({ providers: [aProvider({ id: 'prov-1' })] });
        await store.transaction((tx) => tx.putWebSession(session()));
        assert.equal(await store.transaction((tx) => tx.revokeWebSession('a'.repeat(64), T1)), true);
        assert.equal(await store.transaction((tx) => tx.revokeWebSession('a'.repeat(64), T2)), false);
        assert.equal(await store.transaction((tx) => tx.revokeWebSession('e'.repeat(64), T2)), false);
        assert.deepStrictEqual(await store.getWebSession('a'.repeat(64)), session({ revokedAt: T1 }));
      });

      it('when a session mixes the kinds (an admin session with a provider, a provider session without), then the store refuses it', async () => {
        await seed({ providers: [aProvider({ id: 'prov-1' })] });
        await assert.rejects(store.transaction((tx) => tx.putWebSession(session({ kind: 'admin' }))));
        await assert.rejects(store.transaction((tx) => tx.putWebSession(session({ providerId: null }))));
      });

      it('when a portal link is used before it expires, then the first use gets it and every later use gets null', async () => {
        await seed({ providers: [aProvider({ id: 'prov-1' })] });
        await store.transaction((tx) => tx.putPortalLink(link()));
        const first = await store.transaction((tx) => tx.usePortalLink('b'.repeat(64), T0));
        assert.deepStrictEqual(first, link({ usedAt: T0 }));
        assert.equal(await store.transaction((tx) => tx.usePortalLink('b'.repeat(64), T0)), null);
        assert.equal(await store.transaction((tx) => tx.usePortalLink('f'.repeat(64), T0)), null);
      });

      it('when a portal link is used at or after its expiry, then it is null and stays unused', async () => {
        await seed({ providers: [aProvider({ id: 'prov-1' })] });
        await store.transaction(async (tx) => {
          await tx.putPortalLink(link());
          await tx.putPortalLink(link({ tokenHash: 'c'.repeat(64) }));
        });
        assert.equal(await store.transaction((tx) => tx.usePortalLink('b'.repeat(64), T1)), null);
        assert.equal(await store.transaction((tx) => tx.usePortalLink('c'.repeat(64), T2)), null);
      });

      it('when two transactions use one link at once, then exactly one gets it', async () => {
        await seed({ providers: [aProvider({ id: 'prov-1' })] });
        await store.transaction((tx) => tx.putPortalLink(link()));
        const results = await Promise.all([1, 2].map(() => store.transaction((tx) => tx.usePortalLink('b'.repeat(64), T0))));
        assert.equal(results.filter((r) => r !== null).length, 1);
      });

      it('when the provider is deleted, then its sessions and links go with it', async () => {
        await seed({ providers: [aProvider({ id: 'prov-1' })] });
        await store.transaction(async (tx) => {
          await tx.putWebSession(session());
          await tx.putPortalLink(link());
        });
        await store.transaction((tx) => tx.deleteProvider('prov-1'));
        assert.equal(await store.getWebSession('a'.repeat(64)), null);
        await seed({ providers: [aProvider({ id: 'prov-1' })] });
        assert.equal(await store.transaction((tx) => tx.usePortalLink('b'.repeat(64), T0)), null);
      });
    });

    describe('settings and sealed values', () => {
      it('when a setting is put if absent, then the first value stays: a later put returns it, and only a matching compare-and-set replaces it', async () => {
        assert.equal(await store.getSetting('join-link-key'), null);
        assert.equal(await store.transaction((tx) => tx.putSettingIfAbsent('join-link-key', 'first', T0)), 'first');
        assert.equal(await store.transaction((tx) => tx.putSettingIfAbsent('join-link-key', 'second', T1)), 'first');
        assert.equal(await store.getSetting('join-link-key'), 'first');

        assert.equal(await store.transaction((tx) => tx.compareAndSetSetting('join-link-key', 'second', 'third', T1)), false);
        assert.equal(await store.getSetting('join-link-key'), 'first');
        assert.equal(await store.transaction((tx) => tx.compareAndSetSetting('join-link-key', 'first', 'third', T1)), true);
        assert.equal(await store.transaction((tx) => tx.getSetting('join-link-key')), 'third');
        assert.equal(await store.transaction((tx) => tx.compareAndSetSetting('other', 'first', 'x', T1)), false);
        assert.equal(await store.getSetting('other'), null);
      });

      it('when two writers put the same setting if absent at once, then both get the one value stored', async () => {
        const [a, b] = await Promise.all([
          store.transaction((tx) => tx.putSettingIfAbsent('join-link-key', 'from-a', T0)),
          store.transaction((tx) => tx.putSettingIfAbsent('join-link-key', 'from-b', T0)),
        ]);
        assert.equal(a, b);
        assert.equal(await store.getSetting('join-link-key'), a);
      });

      async function seedSealed(): Promise<void> {
        await store.transaction(async (tx) => {
          await tx.putProvider(aProvider({ id: 'prov-1' }));
          await tx.putProvider(aProvider({ id: 'prov-2' }));
          await tx.putConnection(aConnection({ id: 'conn-b', providerId: 'prov-1', sealedTokens: 'tokens-b' }));
          await tx.putConnection(aConnection({ id: 'conn-a', providerId: 'prov-2', sealedTokens: 'tokens-a', pendingAuth: { nonce: 'n', sealedVerifier: 'verifier-a', expiresAt: T2 } }));
          await tx.putConnection(aConnection({ id: 'conn-c', providerId: 'prov-1', status: 'disconnected', sealedTokens: null }));
          await tx.putConnection(aConnection({ id: 'conn-d', providerId: 'prov-1', sealedTokens: 'tokens-d' }));
          await tx.putBusySource(aBusySource({ providerId: 'prov-2', id: 'busy-1', urlSealed: 'url-2-1' }));
          await tx.putBusySource(aBusySource({ providerId: 'prov-1', id: 'busy-2', urlSealed: 'url-1-2' }));
          await tx.putBusySource(aBusySource({ providerId: 'prov-1', id: 'busy-1', urlSealed: 'url-1-1' }));
          await tx.putBusySource(aBusySource({ providerId: 'prov-1', id: 'busy-3', kind: 'connection', urlSealed: null, urlHost: null, connectionId: 'conn-b' }));
        });
      }

      /** Every value of the kind, read in pages of `limit`. */
      async function readAll(kind: SealedValueKind, limit: number): Promise<SealedValue[][]> {
        const pages: SealedValue[][] = [];
        let after: SealedValue | null = null;
        for (;;) {
          const page = await store.listSealedValues(kind, after, limit);
          if (page.length === 0) return pages;
          pages.push(page);
          after = page[page.length - 1]!;
        }
      }

      it('when sealed values are listed in pages, then every non-null value comes once, in row-key order', async () => {
        await seedSealed();
        assert.deepStrictEqual(await readAll('connection-tokens', 2), [
          [
            { kind: 'connection-tokens', connectionId: 'conn-a', sealed: 'tokens-a' },
            { kind: 'connection-tokens', connectionId: 'conn-b', sealed: 'tokens-b' },
          ],
          [{ kind: 'connection-tokens', connectionId: 'conn-d', sealed: 'tokens-d' }],
        ]);
        assert.deepStrictEqual(await readAll('pkce-verifier', 200), [[{ kind: 'pkce-verifier', connectionId: 'conn-a', sealed: 'verifier-a' }]]);
        assert.deepStrictEqual(await readAll('busy-source-url', 1), [
          [{ kind: 'busy-source-url', providerId: 'prov-1', sourceId: 'busy-1', sealed: 'url-1-1' }],
          [{ kind: 'busy-source-url', providerId: 'prov-1', sourceId: 'busy-2', sealed: 'url-1-2' }],
          [{ kind: 'busy-source-url', providerId: 'prov-2', sourceId: 'busy-1', sealed: 'url-2-1' }],
        ]);
        await assert.rejects(store.listSealedValues('busy-source-url', { kind: 'connection-tokens', connectionId: 'conn-a', sealed: 'x' }, 10), RangeError);
      });

      it('when sealed values are compared-and-set, then only rows still holding the value read change, and nothing else of them', async () => {
        await seedSealed();
        const before = await store.getConnection('conn-a');
        const applied = await store.transaction((tx) =>
          tx.compareAndSetSealedValues([
            { value: { kind: 'connection-tokens', connectionId: 'conn-a', sealed: 'tokens-a' }, next: 'tokens-a2' },
            { value: { kind: 'connection-tokens', connectionId: 'conn-b', sealed: 'stale' }, next: 'tokens-b2' },
            { value: { kind: 'pkce-verifier', connectionId: 'conn-a', sealed: 'verifier-a' }, next: 'verifier-a2' },
            { value: { kind: 'connection-tokens', connectionId: 'conn-gone', sealed: 'x' }, next: 'y' },
            { value: { kind: 'busy-source-url', providerId: 'prov-1', sourceId: 'busy-1', sealed: 'url-1-1' }, next: 'url-1-1b' },
            { value: { kind: 'busy-source-url', providerId: 'prov-2', sourceId: 'busy-1', sealed: 'url-1-1' }, next: 'wrong-row' },
          ]),
        );
        assert.deepStrictEqual(applied, [true, false, true, false, true, false]);
        assert.ok(before?.pendingAuth);
        assert.deepStrictEqual(await store.getConnection('conn-a'), { ...before, sealedTokens: 'tokens-a2', pendingAuth: { ...before.pendingAuth, sealedVerifier: 'verifier-a2' } });
        assert.equal((await store.getConnection('conn-b'))?.sealedTokens, 'tokens-b');
        assert.deepStrictEqual(await store.getBusySource('prov-1', 'busy-1'), aBusySource({ providerId: 'prov-1', id: 'busy-1', urlSealed: 'url-1-1b' }));
        assert.equal((await store.getBusySource('prov-2', 'busy-1'))?.urlSealed, 'url-2-1');
      });
    });

    describe('transaction', () => {
      it('when fn resolves, then transaction resolves with its value', async () => {
        const value = await store.transaction(async (tx) => {
          await tx.putProvider(aProvider());
          return { answer: 42 };
        });

        assert.deepStrictEqual(value, { answer: 42 });
      });

      it('when fn reads what it wrote, then it sees its own writes before commit', async () => {
        const seen = await store.transaction(async (tx) => {
          await tx.putProvider(aProvider());
          await tx.putSession(aSession());
          return { provider: await tx.getProvider('prov-1'), sessions: await tx.listSessions('prov-1') };
        });

        assert.deepStrictEqual(seen, { provider: aProvider(), sessions: [aSession()] });
      });

      it('when fn throws, then the same error rejects and none of its writes remain', async () => {
        const existing = aProvider({ id: 'prov-1', feedRevision: 1 });
        const keptSession = aSession({ id: 'sess-kept' });
        await seed({ providers: [existing], sessions: [keptSession] });
        const boom = new Error('boom');

        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.putProvider(aProvider({ id: 'prov-new' }));
            await tx.putLocation(anOfficeLocation({ providerId: 'prov-1' }));
            await tx.putSession(aSession({ id: 'sess-new' }));
            await tx.deleteSession('prov-1', 'sess-kept');
            await tx.putFeed(aFeedToken({ providerId: 'prov-1' }));
            await tx.bumpFeedRevision('prov-1', T1);
            throw boom;
          }),
          (error: unknown) => error === boom,
        );

        assert.equal(await store.getProvider('prov-new'), null);
        assert.deepStrictEqual(await store.getProvider('prov-1'), existing);
        assert.deepStrictEqual(await store.listLocations('prov-1'), []);
        assert.deepStrictEqual(await store.listSessions('prov-1'), [keptSession]);
        assert.deepStrictEqual(await store.listFeeds('prov-1'), []);
      });

      it('when two transactions lock a provider, read, yield and write it concurrently, then both increments land', async () => {
        await seed({ providers: [aProvider({ feedRevision: 1 })] });
        const increment = (): Promise<void> =>
          store.transaction(async (tx) => {
            // The port's contract: a read-check-write is race-free for what the transaction locked.
            await tx.lockProvider('prov-1');
            const provider = await tx.getProvider('prov-1');
            assert.ok(provider);
            await nextTick();
            await tx.putProvider({ ...provider, feedRevision: provider.feedRevision + 1 });
          });

        await Promise.all([increment(), increment()]);

        assert.equal((await store.getProvider('prov-1'))?.feedRevision, 3);
      });

      it('when the store is read while a transaction is open, then the read never sees its uncommitted writes', async () => {
        let enteredFn!: () => void;
        const entered = new Promise<void>((resolve) => (enteredFn = resolve));
        let releaseFn!: () => void;
        const released = new Promise<void>((resolve) => (releaseFn = resolve));
        const boom = new Error('rolled back');

        const pending = store.transaction(async (tx) => {
          await tx.putProvider(aProvider());
          await tx.putFeed(aFeedToken({ tokenHash: 'a'.repeat(64) }));
          enteredFn();
          await released;
          throw boom;
        });
        await entered;
        const read = store.getProvider('prov-1');
        const found = store.findFeedRevision('a'.repeat(64));
        releaseFn();

        await assert.rejects(pending, (error: unknown) => error === boom);
        assert.equal(await read, null);
        assert.equal(await found, null);
      });

      it('when the tx object is used after its transaction ended, then the call rejects and writes nothing', async () => {
        let leaked: StoreTx | undefined;
        await store.transaction(async (tx) => {
          leaked = tx;
        });
        assert.ok(leaked);

        await assert.rejects(leaked.putProvider(aProvider()));

        assert.equal(await store.getProvider('prov-1'), null);
      });
    });
  });
}

/**
 * The store's feedLookupEpoch once it has one: at once on SQLite; on PostgreSQL once the feed
 * fence listens and holds its lease (the first call starts it), which takes a round trip or two.
 */
async function heldEpoch(store: Store): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const epoch = store.feedLookupEpoch();
    if (epoch !== null) return epoch;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return assert.fail('feedLookupEpoch stayed null for 5 s');
}
