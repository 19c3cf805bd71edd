import assert from 'node:assert/strict';
import { createGoogleConnector, createGoogleOAuth, GOOGLE_DEFAULT_SCOPES } from '../../connectors/google/index.js';
import { createMicrosoftOAuth, createOutlookConnector, DEFAULT_MICROSOFT_SCOPES } from '../../connectors/outlook/index.js';
import type { MicrosoftConfig, MicrosoftHttpDeps } from '../../connectors/outlook/index.js';
import { SyncError, type CalendarConnector, type OAuthProvider, type OAuthTokens } from '../../src/domain/index.js';
import type { FakeCalendarServer } from '../fakes/fake-calendar.js';
import { startFakeGoogle, type FakeGoogle } from '../fakes/fake-google.js';
import { startFakeGraph } from '../fakes/fake-graph.js';
import type { FakeGraphOptions, FakeGraphServer, RecordedRequest } from '../fakes/fake-graph.js';
import { googleConfigOf, microsoftConfigOf } from '../support/sync-harness.js';
import { expectSyncError } from './calendar-connector.contract.js';

// OAuthProvider.revoke against the fake Google and fake Graph through the real clients: the grant
// ends at the vendor, a retry after any failure (a lost answer included) converges, and failures
// are SyncErrors the caller can schedule.

const FROM = '2026-11-01T00:00:00.000Z';

interface RevocationRig {
  fake: FakeCalendarServer;
  oauth: OAuthProvider;
  connector: CalendarConnector;
  tokens: OAuthTokens;
}

async function googleRig(): Promise<RevocationRig> {
  const fake = await startFakeGoogle();
  const config = googleConfigOf(fake, 'https://sessionsync.test/oauth/google/callback');
  const issued = fake.issueTokens();
  return {
    fake,
    oauth: createGoogleOAuth(config),
    connector: createGoogleConnector(config),
    tokens: { accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresAt: issued.expiresAt, scope: GOOGLE_DEFAULT_SCOPES.join(' ') },
  };
}

function microsoftConfig(fake: FakeGraphServer): MicrosoftConfig {
  return microsoftConfigOf(fake, 'https://sessionsync.test/oauth/microsoft/callback');
}

interface MicrosoftRig extends RevocationRig {
  fake: FakeGraphServer;
}

async function microsoftRig(options: FakeGraphOptions = {}, deps?: (fake: FakeGraphServer) => MicrosoftHttpDeps): Promise<MicrosoftRig> {
  const fake = await startFakeGraph(options);
  const issued = fake.issueTokens();
  return {
    fake,
    oauth: createMicrosoftOAuth(microsoftConfig(fake), deps?.(fake) ?? { fetch: fake.fetch }),
    connector: createOutlookConnector(microsoftConfig(fake), { fetch: fake.fetch }),
    tokens: { accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresAt: issued.expiresAt, scope: DEFAULT_MICROSOFT_SCOPES.join(' ') },
  };
}

/** Acts with the tokens through the vendor's real client, refreshing through it when the access token is refused. */
function useTokens(rig: RevocationRig, tokens: OAuthTokens = rig.tokens): Promise<unknown> {
  return rig.connector.listTagged({ connectionId: 'conn-1', calendarId: 'primary', tokens, onTokens: async () => {} }, { from: FROM });
}

const vendors: [string, () => Promise<RevocationRig>][] = [
  ['Google (fake /revoke, google-auth-library)', googleRig],
  ['Microsoft (fake Graph consent grants, plain fetch)', () => microsoftRig()],
];

for (const [name, makeRig] of vendors) {
  describe(`OAuthProvider.revoke: ${name}`, () => {
    let rig: RevocationRig;

    beforeEach(async () => {
      rig = await makeRig();
    });

    afterEach(async () => {
      await rig.fake.close();
    });

    it('when the grant is live, then it is revoked and the tokens can act no more, not even through a refresh', async () => {
      assert.equal(await rig.oauth.revoke(rig.tokens), 'revoked');

      assert.equal(rig.fake.isGrantRevoked(rig.tokens.refreshToken ?? ''), true);
      const error = await expectSyncError(useTokens(rig), 'auth');
      assert.equal(error.code, 'INVALID_GRANT');
    });

    it('when it is revoked a second time, then the answer is already_invalid', async () => {
      await rig.oauth.revoke(rig.tokens);

      assert.equal(await rig.oauth.revoke(rig.tokens), 'already_invalid');
    });

    it('when the person removed the app themselves, then the answer is already_invalid', async () => {
      rig.fake.revokeGrants();

      assert.equal(await rig.oauth.revoke(rig.tokens), 'already_invalid');
    });

    it('when the revocation answers 503 with Retry-After, then the SyncError is retryable with the wait, carries no token, and a retry revokes', async () => {
      rig.fake.inject({ operation: 'revoke', status: 503, retryAfterSeconds: 2 });

      const error = await expectSyncError(rig.oauth.revoke(rig.tokens), 'retryable');

      assert.equal(error.retryAfterMs, 2000);
      for (const secret of [rig.tokens.accessToken, rig.tokens.refreshToken ?? '']) assert.ok(!`${error.message} ${error.code} ${String(error.cause)}`.includes(secret));
      assert.equal(rig.fake.isGrantRevoked(rig.tokens.refreshToken ?? ''), false);
      assert.equal(await rig.oauth.revoke(rig.tokens), 'revoked');
      assert.equal(rig.fake.requestCount('revoke'), 2);
    });

    it('when the revocation answers 429, then the SyncError is retryable RATE_LIMITED', async () => {
      rig.fake.inject({ operation: 'revoke', status: 429, retryAfterSeconds: 30 });

      const error = await expectSyncError(rig.oauth.revoke(rig.tokens), 'retryable');

      assert.equal(error.code, 'RATE_LIMITED');
      assert.equal(error.retryAfterMs, 30_000);
    });

    it('when the connection is reset before the revocation is applied, then the SyncError is retryable and the grant is still live', async () => {
      rig.fake.inject({ operation: 'revoke', network: 'reset' });

      await expectSyncError(rig.oauth.revoke(rig.tokens), 'retryable');

      assert.equal(rig.fake.isGrantRevoked(rig.tokens.refreshToken ?? ''), false);
      assert.equal(await rig.oauth.revoke(rig.tokens), 'revoked');
    });

    it('when the revocation is applied but its answer is lost, then the call fails retryable and the retry answers already_invalid', async () => {
      rig.fake.inject({ operation: 'revoke', network: 'drop-response' });

      await expectSyncError(rig.oauth.revoke(rig.tokens), 'retryable');

      assert.equal(rig.fake.isGrantRevoked(rig.tokens.refreshToken ?? ''), true);
      assert.equal(await rig.oauth.revoke(rig.tokens), 'already_invalid');
    });
  });
}

describe('Google revoke (RFC 7009 endpoint)', () => {
  let rig: RevocationRig & { fake: FakeGoogle };
  beforeEach(async () => {
    rig = (await googleRig()) as RevocationRig & { fake: FakeGoogle };
  });
  afterEach(() => rig.fake.close());

  it('when it revokes, then the token travels in the form body, never in the URL', async () => {
    assert.equal(await rig.oauth.revoke(rig.tokens), 'revoked');
    const [request] = rig.fake.requests.filter((r) => r.operation === 'revoke');
    assert.ok(request !== undefined);
    assert.equal(request.query.get('token'), null, 'no token in the query string');
    assert.deepStrictEqual(request.body, { token: rig.tokens.refreshToken });
  });

  it('when Google answers 400 invalid_request (not invalid_token), then it is no revocation: a permanent SyncError', async () => {
    rig.fake.inject({ operation: 'revoke', status: 400, reason: 'invalid_request' });
    await assert.rejects(rig.oauth.revoke(rig.tokens), (err: unknown) => err instanceof SyncError && err.kind === 'permanent');
    assert.equal(rig.fake.isGrantRevoked(rig.tokens.refreshToken!), false);
  });
});

describe('Microsoft revoke (Graph consent grants)', () => {
  let rig: MicrosoftRig;

  afterEach(async () => {
    await rig.fake.close();
  });

  const graphRequests = (fake: FakeGraphServer): RecordedRequest[] => fake.requests.filter((r) => r.operation !== 'token');

  it('when it revokes, then it refreshes, reads the user, our service principal and the grants, and deletes only the person\'s own grant', async () => {
    rig = await microsoftRig();
    const userId = rig.fake.userId();
    const spId = rig.fake.servicePrincipalId;
    const [grant] = rig.fake.permissionGrants();

    assert.equal(await rig.oauth.revoke(rig.tokens), 'revoked');

    const token = rig.fake.requests[0];
    assert.equal(token?.operation, 'token');
    assert.equal((token?.body as Record<string, string>).grant_type, 'refresh_token');
    assert.deepEqual(
      graphRequests(rig.fake).map((r) => [r.method, r.path, r.query]),
      [
        ['GET', '/v1.0/me', { $select: 'id' }],
        ['GET', `/v1.0/servicePrincipals(appId='${rig.fake.clientId}')`, { $select: 'id' }],
        ['GET', '/v1.0/oauth2PermissionGrants', { $filter: `clientId eq '${spId}' and principalId eq '${userId}'` }],
        ['GET', '/v1.0/oauth2PermissionGrants', { $filter: `clientId eq '${spId}' and consentType eq 'AllPrincipals'` }],
        ['DELETE', `/v1.0/oauth2PermissionGrants/${grant?.id ?? ''}`, {}],
      ],
    );
    for (const request of graphRequests(rig.fake)) {
      assert.notEqual(request.headers.authorization, `Bearer ${rig.tokens.accessToken}`, 'Graph is called with the freshly refreshed token');
    }
    assert.deepEqual(rig.fake.permissionGrants(), []);
  });

  it('when there is no refresh token, then the access token is used as it is', async () => {
    rig = await microsoftRig();

    assert.equal(await rig.oauth.revoke({ ...rig.tokens, refreshToken: null }), 'revoked');

    assert.equal(rig.fake.requestCount('token'), 0);
    assert.equal(rig.fake.isGrantRevoked(rig.tokens.refreshToken ?? ''), true);
  });

  it('when there is no refresh token and Graph refuses the access token (401), then the answer is already_invalid', async () => {
    rig = await microsoftRig();
    rig.fake.expireAccessTokens();

    assert.equal(await rig.oauth.revoke({ ...rig.tokens, refreshToken: null }), 'already_invalid');

    assert.equal(rig.fake.requestCount('revoke'), 0);
  });

  it('when the app lacks DelegatedPermissionGrant.ReadWrite.All (403 Authorization_RequestDenied), then the answer is not_permitted and the grant still works', async () => {
    rig = await microsoftRig({ canManagePermissionGrants: false });

    assert.equal(await rig.oauth.revoke(rig.tokens), 'not_permitted');

    const denied = rig.fake.requests.find((r) => r.path === '/v1.0/oauth2PermissionGrants');
    assert.ok(denied, 'the grants were asked for');
    assert.equal(rig.fake.requestCount('revoke'), 0);
    assert.equal(rig.fake.isGrantRevoked(rig.tokens.refreshToken ?? ''), false);
    await useTokens(rig);
  });

  it('when the access is an admin\'s consent for the whole tenant, then the answer is tenant_wide and nothing is deleted', async () => {
    rig = await microsoftRig({ tenantWideConsent: true });

    assert.equal(await rig.oauth.revoke(rig.tokens), 'tenant_wide');

    assert.equal(rig.fake.requestCount('revoke'), 0);
    assert.deepEqual(rig.fake.permissionGrants().map((g) => g.consentType), ['AllPrincipals']);
  });

  it('when the person consented and an admin later consented for everyone, then the person\'s grant is deleted and the answer is still tenant_wide (the access goes on)', async () => {
    rig = await microsoftRig();
    rig.fake.grantTenantWideConsent();

    assert.equal(await rig.oauth.revoke(rig.tokens), 'tenant_wide');

    assert.equal(rig.fake.requestCount('revoke'), 1);
    assert.deepEqual(rig.fake.permissionGrants().map((g) => g.consentType), ['AllPrincipals']);
    assert.equal(rig.fake.isGrantRevoked(rig.tokens.refreshToken ?? ''), false);
  });

  it('when the admin consented for everyone to the revocation permission only, then the person\'s grant is revoked', async () => {
    rig = await microsoftRig();
    rig.fake.grantTenantWideConsent('DelegatedPermissionGrant.ReadWrite.All');

    assert.equal(await rig.oauth.revoke(rig.tokens), 'revoked');

    assert.equal(rig.fake.isGrantRevoked(rig.tokens.refreshToken ?? ''), true);
  });

  it('when the grant list is paged, then every @odata.nextLink is followed', async () => {
    rig = await microsoftRig({ grantPageSize: 1 });
    for (let i = 0; i < 3; i += 1) rig.fake.grantTenantWideConsent('DelegatedPermissionGrant.ReadWrite.All');

    assert.equal(await rig.oauth.revoke(rig.tokens), 'revoked');

    const lists = rig.fake.requests.filter((r) => r.path === '/v1.0/oauth2PermissionGrants');
    assert.equal(lists.length, 1 + 3, 'one page of the person\'s grants, three of the tenant-wide ones');
    assert.ok(lists.slice(2).every((r) => typeof r.query.$skiptoken === 'string'));
  });

  it('when a page links to another host, then it is not followed (it would carry our token) and the SyncError is permanent', async () => {
    const elsewhere: string[] = [];
    rig = await microsoftRig({}, (fake) => ({
      fetch: async (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        if (!url.startsWith(fake.graphUrl)) {
          elsewhere.push(url);
          throw new TypeError('fetch failed');
        }
        const response = await fake.fetch(input, init);
        if (!url.includes('/v1.0/oauth2PermissionGrants?')) return response;
        const body = (await response.json()) as Record<string, unknown>;
        return Response.json({ ...body, '@odata.nextLink': 'https://graph.attacker.invalid/v1.0/oauth2PermissionGrants?$skiptoken=x' });
      },
    }));

    const error = await expectSyncError(rig.oauth.revoke(rig.tokens), 'permanent');

    assert.equal(error.code, 'GRAPH_NEXT_LINK_REFUSED');
    assert.deepEqual(elsewhere, []);
    assert.equal(rig.fake.requestCount('revoke'), 0);
  });

  it('when another person of the tenant uses the app, then only this person\'s grant goes', async () => {
    rig = await microsoftRig();
    const other = rig.fake.issueTokens({ user: 'colleague@example.test' });

    assert.equal(await rig.oauth.revoke(rig.tokens), 'revoked');

    assert.equal(rig.fake.isGrantRevoked(other.refreshToken), false);
    assert.deepEqual(rig.fake.permissionGrants().map((g) => g.principalId), [rig.fake.userId('colleague@example.test')]);
  });

  it('when the token endpoint answers 503, then the SyncError is retryable and Graph is not asked', async () => {
    rig = await microsoftRig();
    rig.fake.inject({ operation: 'token', status: 503, retryAfterSeconds: 4 });

    const error = await expectSyncError(rig.oauth.revoke(rig.tokens), 'retryable');

    assert.equal(error.retryAfterMs, 4000);
    assert.deepEqual(graphRequests(rig.fake), []);
  });

  it('when the reconnected person is revoked, then the new grant goes too (a revoked grant does not come back)', async () => {
    rig = await microsoftRig();
    assert.equal(await rig.oauth.revoke(rig.tokens), 'revoked');
    const again = rig.fake.issueTokens();

    assert.equal(await rig.oauth.revoke({ ...rig.tokens, accessToken: again.accessToken, refreshToken: again.refreshToken }), 'revoked');

    assert.equal(rig.fake.isGrantRevoked(rig.tokens.refreshToken ?? ''), true);
    assert.equal(rig.fake.isGrantRevoked(again.refreshToken), true);
  });
});
