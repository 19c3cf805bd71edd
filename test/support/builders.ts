// Test data builders: each test states only what matters to it.
import type {
  BusySource,
  Connection,
  FeedToken,
  OfficeLocation,
  Provider,
  ResyncJob,
  Session,
  SyncTarget,
  VirtualLocation,
} from '../../src/domain/index.js';
import { createJoinLinks } from '../../src/domain/index.js';

export const T0 = '2026-11-02T15:00:00.000Z';

/** The join links of tests that build services or render events without an app (a fixed key). */
export const testJoinLinks = createJoinLinks({ key: Buffer.alloc(32, 7), publicBaseUrl: 'https://sync.example.test' });

export function aProvider(overrides: Partial<Provider> = {}): Provider {
  return {
    id: 'prov-1',
    name: 'Dr. Ada Byron',
    email: 'ada@example.org',
    timezone: 'America/New_York',
    privacy: { mode: 'none', baaAttested: false },
    // Most suites assert the raw room link; stable join links are asked for by their tests.
    joinLink: 'direct',
    reminders: null,
    offboardedAt: null,
    feedRevision: 1,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

export function aVirtualLocation(overrides: Partial<VirtualLocation> = {}): VirtualLocation {
  return {
    kind: 'virtual',
    providerId: 'prov-1',
    id: 'loc-video',
    name: 'Video',
    url: 'https://zoom.us/j/1234567890',
    instructions: 'Join a few minutes early; you will wait in the waiting room.',
    isDefault: true,
    waitingRoom: true,
    platform: 'zoom',
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

export function anOfficeLocation(overrides: Partial<OfficeLocation> = {}): OfficeLocation {
  return {
    kind: 'office',
    providerId: 'prov-1',
    id: 'loc-office',
    name: 'Main office',
    address: '12 Example Street, Springfield, IL 62701',
    isDefault: false,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

export function aSession(overrides: Partial<Session> = {}): Session {
  const id = overrides.id ?? 'sess-1';
  const providerId = overrides.providerId ?? 'prov-1';
  return {
    providerId,
    id,
    uid: `${providerId}.${id}@sessionsync.test`,
    start: '2026-11-10T15:00:00.000Z',
    end: '2026-11-10T15:50:00.000Z',
    locationId: 'loc-video',
    telehealthUrl: null,
    client: { id: 'client-9', firstName: 'Jane', lastName: 'Doe' },
    status: 'scheduled',
    seriesId: null,
    sequence: 0,
    eventFingerprint: 'fp-0',
    lastModified: T0,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

export function aFeedToken(overrides: Partial<FeedToken> = {}): FeedToken {
  return {
    id: 'feed-1',
    providerId: 'prov-1',
    label: 'Google Calendar',
    tokenHash: 'a'.repeat(64),
    createdAt: T0,
    revokedAt: null,
    lastFetchedAt: null,
    lastUserAgent: null,
    fetchCount: 0,
    ...overrides,
  };
}

/** An authorised Google connection of prov-1 (the sealed tokens are an opaque placeholder). */
export function aConnection(overrides: Partial<Connection> = {}): Connection {
  return {
    id: 'conn-1',
    providerId: 'prov-1',
    kind: 'google',
    calendarId: 'primary',
    status: 'active',
    accountEmail: 'ada@example.org',
    sealedTokens: 'sealed:tokens',
    pendingAuth: null,
    lastSyncedAt: null,
    lastErrorCode: null,
    cleanup: null,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

/**
 * A sync target as markSessionsDirty first creates it (pending, never attempted); stores assign
 * the id, so tests compare with `{ ...aSyncTarget(), id: actual.id }` or pass the id they read.
 */
export function aSyncTarget(overrides: Partial<SyncTarget> = {}): SyncTarget {
  return {
    id: 'target-1',
    connectionId: 'conn-1',
    providerId: 'prov-1',
    sessionId: 'sess-1',
    generation: 1,
    syncedGeneration: 0,
    externalId: null,
    syncedRevision: null,
    attempts: 0,
    nextAttemptAt: T0,
    leaseOwner: null,
    leaseUntil: null,
    lastErrorCode: null,
    deadAt: null,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

/** A queued, not yet claimed resync of every provider. */
export function aResyncJob(overrides: Partial<ResyncJob> = {}): ResyncJob {
  return {
    id: 'job-1',
    kind: 'resync',
    status: 'queued',
    request: { providerIds: null, connectionIds: null, dryRun: false },
    progress: { total: 0, done: 0, created: 0, updated: 0, deleted: 0, unchanged: 0, failed: 0 },
    plan: null,
    error: null,
    actor: 'admin',
    leaseOwner: null,
    leaseUntil: null,
    createdAt: T0,
    startedAt: null,
    finishedAt: null,
    ...overrides,
  };
}

/**
 * A never-read ICS busy source of prov-1, due at T0 (the sealed address is an opaque placeholder).
 * For a connection source: `{ kind: 'connection', urlSealed: null, urlHost: null, connectionId }`.
 */
export function aBusySource(overrides: Partial<BusySource> = {}): BusySource {
  return {
    providerId: 'prov-1',
    id: 'busy-1',
    kind: 'ics',
    urlSealed: 'sealed:https://calendar.example.org/private-secret/basic.ics',
    urlHost: 'calendar.example.org',
    connectionId: null,
    status: 'pending',
    lastFetchedAt: null,
    lastErrorCode: null,
    etag: null,
    lastModified: null,
    intervalCount: 0,
    nextFetchAt: T0,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}
