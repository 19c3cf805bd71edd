import type { OAuthTokens, RevokeOutcome } from '../../src/domain/index.js';
import { SyncError } from '../../src/domain/index.js';
import { networkError, parseRetryAfter, syncErrorForStatus } from './graph-errors.js';
import { odataString } from './graph-event-mapper.js';
import { systemClock, type MicrosoftHttpDeps, type ResolvedMicrosoftConfig } from './microsoft-oauth.js';

// Microsoft has no RFC 7009 revocation endpoint. What ends our app's access for one user, and only
// for our app, is deleting the user's delegated permission grant (an oAuth2PermissionGrant with
// consentType 'Principal') of our service principal: refresh tokens then get no new access tokens
// (https://learn.microsoft.com/graph/api/oauth2permissiongrant-delete). Never revokeSignInSessions:
// it signs the person out of every app they use. The delegated call needs
// DelegatedPermissionGrant.ReadWrite.All (admin consent; see the README), and Graph does not offer
// it for personal Microsoft accounts.

/** Scopes that name the person rather than reach an API: a tenant-wide grant of only these keeps no access of ours. */
const OPENID_SCOPES = new Set(['offline_access', 'openid', 'email', 'profile']);
/** A user has one grant per resource; more pages than this means something is wrong, not a big tenant. */
const MAX_GRANT_PAGES = 10;

interface PermissionGrant {
  id: string;
  consentType: string;
  scope: string;
}

type Stop = { kind: 'outcome'; outcome: RevokeOutcome };
type Answer = { kind: 'ok'; body: unknown } | Stop;

function objectId(body: unknown): string | null {
  const id = typeof body === 'object' && body !== null ? (body as { id?: unknown }).id : undefined;
  return typeof id === 'string' && id !== '' ? id : null;
}

function graphErrorCode(body: unknown): string {
  const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : '';
}

function invalidResponse(what: string): SyncError {
  return new SyncError({ kind: 'retryable', code: 'GRAPH_RESPONSE_INVALID', message: `Microsoft Graph answered ${what} in an unexpected shape.` });
}

/**
 * Deletes the person's consent grants of our app, as OAuthProvider.revoke: 'revoked', or
 * 'already_invalid' (the grant, the refresh token or our service principal is gone), 'not_permitted'
 * (403: the app lacks DelegatedPermissionGrant.ReadWrite.All), 'tenant_wide' (an admin's consent for
 * every user keeps our access, whatever this person's own grant). Idempotent: a retry after a lost
 * answer finds the grant gone. SyncError retryable on 429, 5xx and the network.
 */
export async function revokeMicrosoftGrant(
  config: ResolvedMicrosoftConfig,
  deps: MicrosoftHttpDeps,
  refresh: (refreshToken: string) => Promise<OAuthTokens>,
  tokens: OAuthTokens,
): Promise<RevokeOutcome> {
  const fetchImpl = deps.fetch ?? globalThis.fetch;
  const clock = deps.clock ?? systemClock;
  const graph = config.graphUrl;
  const graphOrigin = new URL(graph).origin;

  let accessToken = tokens.accessToken;
  if (tokens.refreshToken !== null) {
    try {
      ({ accessToken } = await refresh(tokens.refreshToken));
    } catch (error) {
      // invalid_grant: revoked (by the person, an admin, or an earlier attempt whose answer was lost), expired.
      if (error instanceof SyncError && error.kind === 'auth' && error.code === 'INVALID_GRANT') return 'already_invalid';
      throw error;
    }
  }

  /**
   * One Graph request. No response text and no token ever reaches an error: only the status, Graph's
   * error code and Retry-After. A 401 with a token just refreshed (or, with no refresh token, the only
   * one we have) means no copy of these tokens can act any more: 'already_invalid'.
   */
  async function call(method: 'GET' | 'DELETE', url: string, on404?: RevokeOutcome | 'ok'): Promise<Answer> {
    let response: Response;
    try {
      response = await fetchImpl(url, { ...deps.fetchOptions, method, headers: { Authorization: `Bearer ${accessToken}`, Accept: 'application/json' } });
    } catch (error) {
      throw networkError(error);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw networkError(error);
    }
    let body: unknown = null;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        if (response.ok) throw invalidResponse(`${method} ${new URL(url).pathname}`);
      }
    }
    if (response.ok) return { kind: 'ok', body };
    if (response.status === 401) return { kind: 'outcome', outcome: 'already_invalid' };
    // Authorization_RequestDenied: no DelegatedPermissionGrant.ReadWrite.All for this app in this tenant.
    if (response.status === 403) return { kind: 'outcome', outcome: 'not_permitted' };
    if (response.status === 404 && on404 !== undefined) return on404 === 'ok' ? { kind: 'ok', body: null } : { kind: 'outcome', outcome: on404 };
    const retryAfterMs = parseRetryAfter(response.headers.get('Retry-After'), clock.now().getTime());
    throw syncErrorForStatus(response.status, { retryAfterMs, vendorCode: graphErrorCode(body), source: 'Microsoft Graph' });
  }

  /** Every grant matching the filter, following @odata.nextLink on Graph's own origin only (it carries our token). */
  async function listGrants(filter: string): Promise<{ kind: 'ok'; grants: PermissionGrant[] } | Stop> {
    const grants: PermissionGrant[] = [];
    let url: string | null = `${graph}/v1.0/oauth2PermissionGrants?$filter=${encodeURIComponent(filter)}`;
    for (let page = 0; url !== null; page += 1) {
      if (page === MAX_GRANT_PAGES) throw invalidResponse('the permission grant list (too many pages)');
      const answer = await call('GET', url);
      if (answer.kind === 'outcome') return answer;
      const { value, '@odata.nextLink': next } = (typeof answer.body === 'object' && answer.body !== null ? answer.body : {}) as { value?: unknown; '@odata.nextLink'?: unknown };
      if (!Array.isArray(value)) throw invalidResponse('the permission grant list');
      for (const item of value as unknown[]) {
        const { id, consentType, scope } = (typeof item === 'object' && item !== null ? item : {}) as { id?: unknown; consentType?: unknown; scope?: unknown };
        if (typeof id !== 'string' || id === '' || typeof consentType !== 'string') throw invalidResponse('a permission grant');
        grants.push({ id, consentType, scope: typeof scope === 'string' ? scope : '' });
      }
      if (next === undefined || next === null) url = null;
      else if (typeof next === 'string' && URL.canParse(next) && new URL(next).origin === graphOrigin) url = next;
      else throw new SyncError({ kind: 'permanent', code: 'GRAPH_NEXT_LINK_REFUSED', message: 'Microsoft Graph paged to another host; the request was not followed.' });
    }
    return { kind: 'ok', grants };
  }

  const me = await call('GET', `${graph}/v1.0/me?$select=id`);
  if (me.kind === 'outcome') return me.outcome;
  const userId = objectId(me.body);
  if (userId === null) throw invalidResponse('/me');

  // 404 Request_ResourceNotFound: our app has no service principal in the person's tenant any more
  // (an admin deleted the enterprise app), and every grant went with it.
  const sp = await call('GET', `${graph}/v1.0/servicePrincipals(appId=${encodeURIComponent(odataString(config.clientId))})?$select=id`, 'already_invalid');
  if (sp.kind === 'outcome') return sp.outcome;
  const spId = objectId(sp.body);
  if (spId === null) throw invalidResponse('the service principal');

  // Both reads before any delete: a tenant-wide grant has principalId null, so the person's filter
  // never returns it.
  const own = await listGrants(`clientId eq ${odataString(spId)} and principalId eq ${odataString(userId)}`);
  if (own.kind === 'outcome') return own.outcome;
  const tenant = await listGrants(`clientId eq ${odataString(spId)} and consentType eq 'AllPrincipals'`);
  if (tenant.kind === 'outcome') return tenant.outcome;

  const apiScopes = config.scopes.filter((s) => !OPENID_SCOPES.has(s.toLowerCase()));
  // An admin's consent for every user that covers a scope we use keeps this person's access after
  // their own grant is gone (e.g. "Grant admin consent" for all the app's permissions); only an admin
  // can withdraw it, so the refresh token would still work and 'revoked' would not be true.
  const keptByTenant = tenant.grants.some((g) => g.consentType === 'AllPrincipals' && g.scope.split(' ').some((s) => apiScopes.includes(s)));
  const personal = own.grants.filter((g) => g.consentType === 'Principal');

  let deleted = 0;
  for (const grant of personal) {
    // 404: deleted already (an earlier attempt, or Graph's replication catching up).
    const answer = await call('DELETE', `${graph}/v1.0/oauth2PermissionGrants/${encodeURIComponent(grant.id)}`, 'ok');
    if (answer.kind === 'outcome') {
      // A 401 after a delete: the deleted grant took this access token with it.
      if (answer.outcome === 'already_invalid' && deleted > 0) break;
      return answer.outcome;
    }
    deleted += 1;
  }
  if (keptByTenant) return 'tenant_wide';
  return deleted > 0 ? 'revoked' : 'already_invalid';
}
