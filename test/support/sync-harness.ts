import { testJoinLinks } from './builders.js';
import assert from 'node:assert/strict';
import supertest from 'supertest';
import { createGoogleConnector, createGoogleOAuth, type GoogleConfig } from '../../connectors/google/index.js';
import { createMicrosoftOAuth, createOutlookConnector, type MicrosoftConfig } from '../../connectors/outlook/index.js';
import type { CalendarConnector, ConnectionKind, OAuthProvider, Store } from '../../src/domain/index.js';
import { ResyncRunner, SyncWorker, type TargetOutcome } from '../../src/sync/index.js';
import type { FakeCalendarServer, FakeStoredEvent } from '../fakes/fake-calendar.js';
import { startFakeGoogle, type FakeGoogle } from '../fakes/fake-google.js';
import { startFakeGraph } from '../fakes/fake-graph.js';
import type { FakeGraphOptions, FakeGraphServer } from '../fakes/fake-graph.js';
import { PUBLIC_BASE_URL, createTestApp, type TestApp, type TestAppOptions } from './test-app.js';

// An app wired to fake vendor servers through the real client libraries, with a sync worker and
// a resync runner driven step by step on the test's fake clock.

export interface VendorRig {
  kind: ConnectionKind;
  fake: FakeCalendarServer;
  oauth: OAuthProvider;
  connector: CalendarConnector;
  callbackPath: string;
  /** Where the consent screen lives (the authorize URL starts with it). */
  authUrl: string;
}

export type VendorFactory = () => Promise<VendorRig>;

/** The Google adapters' config pointed at a fake, every endpoint included (none reaches Google). */
export function googleConfigOf(fake: FakeGoogle, redirectUri: string): GoogleConfig {
  return { clientId: fake.clientId, clientSecret: fake.clientSecret, authUrl: fake.authUrl, tokenUrl: fake.tokenUrl, revokeUrl: fake.revokeUrl, apiRootUrl: fake.apiUrl, redirectUri };
}

/** The Microsoft adapters' config pointed at a fake Graph and its login endpoints. */
export function microsoftConfigOf(fake: FakeGraphServer, redirectUri: string): MicrosoftConfig {
  return { clientId: fake.clientId, clientSecret: fake.clientSecret, tenant: 'common', loginUrl: fake.loginUrl, graphUrl: fake.graphUrl, redirectUri };
}

export const googleVendor: VendorFactory = async () => {
  const fake = await startFakeGoogle();
  const config = googleConfigOf(fake, `${PUBLIC_BASE_URL}/oauth/google/callback`);
  return { kind: 'google', fake, oauth: createGoogleOAuth(config), connector: createGoogleConnector(config), callbackPath: '/oauth/google/callback', authUrl: fake.authUrl };
};

/** The Outlook rig over a fake Graph started with these options (e.g. tenantWideConsent, canManagePermissionGrants). */
export const outlookVendorWith = (options: FakeGraphOptions): VendorFactory => async () => {
  const fake = await startFakeGraph(options);
  const config = microsoftConfigOf(fake, `${PUBLIC_BASE_URL}/oauth/microsoft/callback`);
  // The fake serves https with a test certificate; its fetch trusts that certificate only.
  const deps = { fetch: fake.fetch };
  return {
    kind: 'outlook',
    fake,
    oauth: createMicrosoftOAuth(config, deps),
    connector: createOutlookConnector(config, deps),
    callbackPath: '/oauth/microsoft/callback',
    authUrl: `${fake.loginUrl}/common/oauth2/v2.0/authorize`,
  };
};

export const outlookVendor: VendorFactory = outlookVendorWith({});

/** Every vendor the sync suites run against, by display name. */
export const vendorFactories: [string, VendorFactory][] = [
  ['Google Calendar', googleVendor],
  ['Outlook (Microsoft Graph)', outlookVendor],
];

export interface SyncHarness {
  t: TestApp;
  vendors: VendorRig[];
  worker: SyncWorker;
  resync: ResyncRunner;
  /** Connects provider p1 to the vendor through the OAuth flow; returns the connection id. */
  connect(vendor: VendorRig, providerId?: string): Promise<string>;
  /** Runs the worker until nothing is due, moving the fake clock to each next due time. */
  settle(maxRounds?: number): Promise<TargetOutcome[]>;
  /** Runs queued resync jobs to completion. */
  runJobs(): Promise<void>;
  /** Our live (not cancelled) events in the vendor's primary calendar. */
  live(vendor: VendorRig): FakeStoredEvent[];
  close(): Promise<void>;
}

export async function createSyncHarness(factories: VendorFactory[], options: TestAppOptions & { store?: Store } = {}): Promise<SyncHarness> {
  const vendors = await Promise.all(factories.map((f) => f()));
  let worker: SyncWorker | null = null;
  const t = await createTestApp({
    now: '2026-11-02T12:00:00.000Z',
    // Writes wake the worker as in production; tests that step it by hand are unaffected.
    onNotifySync: () => worker?.notify(),
    ...options,
    oauth: new Map(vendors.map((v) => [v.kind, v.oauth])),
    connectors: new Map(vendors.map((v) => [v.kind, v.connector])),
  });
  const syncOptions = {
    store: t.store,
    connectors: new Map(vendors.map((v) => [v.kind, v.connector])),
    secrets: t.secrets,
    clock: t.clock,
    logger: t.logger,
    pastDays: 60,
    random: () => 0.5,
  };
  worker = new SyncWorker({ joinLinks: testJoinLinks, ...syncOptions, oauth: new Map(vendors.map((v) => [v.kind, v.oauth])), owner: 'worker-a' });
  const resync = new ResyncRunner({ joinLinks: testJoinLinks, ...syncOptions, owner: 'resync-a' });

  return {
    t,
    vendors,
    worker,
    resync,
    async connect(vendor, providerId = 'p1') {
      const created = await t.platform.post(`/api/v1/providers/${providerId}/connections`, { kind: vendor.kind });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const url = new URL(created.body.authorizeUrl);
      const challenge = url.searchParams.get('code_challenge');
      const redirect = url.searchParams.get('redirect_uri');
      const state = url.searchParams.get('state');
      assert.ok(challenge && redirect && state, 'authorizeUrl carries PKCE challenge, redirect_uri and state');
      const code = vendor.fake.issueAuthorizationCode(challenge, redirect);
      const callback = await supertest(t.app).get(vendor.callbackPath).query({ code, state });
      assert.equal(callback.status, 200, callback.text);
      return created.body.id as string;
    },
    async settle(maxRounds = 500) {
      const outcomes: TargetOutcome[] = [];
      for (let round = 0; round < maxRounds; round++) {
        outcomes.push(...(await worker.drain()));
        const due = await worker.nextDueAt();
        if (due === null) return outcomes;
        if (Date.parse(due) > t.clock.now().getTime()) t.clock.set(due);
      }
      assert.fail('the sync worker did not settle');
    },
    async runJobs() {
      while (await resync.runOnce()) {
        /* one job per call */
      }
    },
    live(vendor) {
      return vendor.fake.events('primary').filter((e) => !e.cancelled && e.tag !== null);
    },
    async close() {
      await t.close();
      await Promise.all(vendors.map((v) => v.fake.close()));
    },
  };
}
