import type { Clock, OAuthProvider, OAuthTokens } from '../../src/domain/index.js';
import { SyncError } from '../../src/domain/index.js';
import { networkError, tokenEndpointError } from './graph-errors.js';
import { revokeMicrosoftGrant } from './microsoft-revocation.js';

// Microsoft identity platform v2.0, authorization code flow with PKCE, as plain HTTP: the token
// endpoint is two form POSTs (code, refresh), which MSAL would wrap in a token cache we do not want
// (our tokens live encrypted in our own store and come back with every ConnectorSession).

export interface MicrosoftConfig {
  clientId: string;
  clientSecret: string;
  /** "common" (work/school and personal accounts), "organizations", or a tenant id. */
  tenant?: string;
  /** Default https://login.microsoftonline.com */
  loginUrl?: string;
  /** Default https://graph.microsoft.com */
  graphUrl?: string;
  redirectUri: string;
  /** Default: offline_access openid email Calendars.ReadWrite User.Read */
  scopes?: string[];
}

/** Everything HTTP goes through these, so tests (and a proxy) can bring their own TLS trust. */
export interface MicrosoftHttpDeps {
  /** fetch implementation; default the global fetch. */
  fetch?: typeof fetch;
  /** Extra fetch options merged into every request, e.g. `{ dispatcher }` of an undici Agent. */
  fetchOptions?: Record<string, unknown>;
  clock?: Clock;
}

/**
 * Not DelegatedPermissionGrant.ReadWrite.All, which revocation uses: it needs an admin's consent, so
 * asking for it here would stop every provider at a consent screen demanding an admin. An admin grants
 * it to the app once (README); without it revoke() answers 'not_permitted'.
 */
export const DEFAULT_MICROSOFT_SCOPES = ['offline_access', 'openid', 'email', 'Calendars.ReadWrite', 'User.Read'];
export const DEFAULT_LOGIN_URL = 'https://login.microsoftonline.com';
export const DEFAULT_GRAPH_URL = 'https://graph.microsoft.com';

export interface ResolvedMicrosoftConfig {
  clientId: string;
  clientSecret: string;
  tenant: string;
  loginUrl: string;
  graphUrl: string;
  redirectUri: string;
  scopes: string[];
}

export function resolveMicrosoftConfig(config: MicrosoftConfig): ResolvedMicrosoftConfig {
  const trim = (url: string): string => url.replace(/\/+$/, '');
  return {
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    tenant: config.tenant ?? 'common',
    loginUrl: trim(config.loginUrl ?? DEFAULT_LOGIN_URL),
    graphUrl: trim(config.graphUrl ?? DEFAULT_GRAPH_URL),
    redirectUri: config.redirectUri,
    scopes: config.scopes ?? DEFAULT_MICROSOFT_SCOPES,
  };
}

/** The clock of the Microsoft adapters when none is given. */
export const systemClock: Clock = { now: () => new Date() };

interface TokenResponse {
  access_token?: unknown;
  refresh_token?: unknown;
  expires_in?: unknown;
  scope?: unknown;
  id_token?: unknown;
}

/** The two token endpoint calls; shared by the OAuth provider and the connector's token refresh. */
export interface MicrosoftTokenClient {
  redeemCode(code: string, codeVerifier: string): Promise<{ tokens: OAuthTokens; idToken: string | null }>;
  /** A refresh; Microsoft may rotate the refresh token, and the old one stays valid for a while. */
  refresh(refreshToken: string): Promise<OAuthTokens>;
}

export function createMicrosoftTokenClient(config: MicrosoftConfig, deps: MicrosoftHttpDeps = {}): MicrosoftTokenClient {
  const resolved = resolveMicrosoftConfig(config);
  const fetchImpl = deps.fetch ?? globalThis.fetch;
  const clock = deps.clock ?? systemClock;
  const tokenUrl = `${resolved.loginUrl}/${encodeURIComponent(resolved.tenant)}/oauth2/v2.0/token`;

  async function post(form: Record<string, string>): Promise<{ tokens: OAuthTokens; idToken: string | null }> {
    const body = new URLSearchParams({ client_id: resolved.clientId, client_secret: resolved.clientSecret, ...form });
    let response: Response;
    try {
      response = await fetchImpl(tokenUrl, {
        ...deps.fetchOptions,
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body: body.toString(),
      });
    } catch (error) {
      throw networkError(error);
    }
    let json: unknown;
    try {
      json = await response.json();
    } catch {
      // No cause: a JSON parse error quotes the body, and a token endpoint's body holds tokens.
      if (response.ok) throw new SyncError({ kind: 'retryable', code: 'TOKEN_RESPONSE_INVALID', message: 'The token endpoint answered with a body that is not JSON.' });
      json = null;
    }
    const nowMs = clock.now().getTime();
    if (!response.ok) throw tokenEndpointError(response.status, json, response.headers.get('Retry-After'), nowMs);
    const parsed = (typeof json === 'object' && json !== null ? json : {}) as TokenResponse;
    if (typeof parsed.access_token !== 'string' || parsed.access_token === '') {
      throw new SyncError({ kind: 'retryable', code: 'TOKEN_RESPONSE_INVALID', message: 'The token endpoint answered without an access token.' });
    }
    const expiresIn = Number(parsed.expires_in);
    return {
      tokens: {
        accessToken: parsed.access_token,
        refreshToken: typeof parsed.refresh_token === 'string' && parsed.refresh_token !== '' ? parsed.refresh_token : form.refresh_token ?? null,
        expiresAt: Number.isFinite(expiresIn) && expiresIn > 0 ? nowMs + expiresIn * 1000 : null,
        scope: typeof parsed.scope === 'string' ? parsed.scope : null,
      },
      idToken: typeof parsed.id_token === 'string' ? parsed.id_token : null,
    };
  }

  return {
    redeemCode: (code, codeVerifier) =>
      post({ grant_type: 'authorization_code', code, code_verifier: codeVerifier, redirect_uri: resolved.redirectUri, scope: resolved.scopes.join(' ') }),
    refresh: async (refreshToken) => (await post({ grant_type: 'refresh_token', refresh_token: refreshToken, scope: resolved.scopes.join(' ') })).tokens,
  };
}

/**
 * The signed-in account's address from an id_token, for display only ("connected as ..."): the
 * payload is decoded WITHOUT verifying the signature, which is acceptable because it came straight
 * from the token endpoint over TLS and nothing is authorised on its basis.
 */
export function accountEmailFromIdToken(idToken: string | null): string | null {
  if (idToken === null) return null;
  const payload = idToken.split('.')[1];
  if (payload === undefined) return null;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    if (typeof claims !== 'object' || claims === null) return null;
    const { email, preferred_username: preferredUsername } = claims as { email?: unknown; preferred_username?: unknown };
    if (typeof email === 'string' && email !== '') return email;
    if (typeof preferredUsername === 'string' && preferredUsername !== '') return preferredUsername;
    return null;
  } catch {
    return null;
  }
}

export function createMicrosoftOAuth(config: MicrosoftConfig, deps: MicrosoftHttpDeps = {}): OAuthProvider {
  const resolved = resolveMicrosoftConfig(config);
  const tokens = createMicrosoftTokenClient(config, deps);
  return {
    kind: 'outlook',
    authorizeUrl({ state, codeChallenge }) {
      const url = new URL(`${resolved.loginUrl}/${encodeURIComponent(resolved.tenant)}/oauth2/v2.0/authorize`);
      url.searchParams.set('client_id', resolved.clientId);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('redirect_uri', resolved.redirectUri);
      url.searchParams.set('response_mode', 'query');
      url.searchParams.set('scope', resolved.scopes.join(' '));
      url.searchParams.set('state', state);
      url.searchParams.set('code_challenge', codeChallenge);
      url.searchParams.set('code_challenge_method', 'S256');
      url.searchParams.set('prompt', 'select_account');
      return url.toString();
    },
    async exchangeCode({ code, codeVerifier }) {
      const { tokens: issued, idToken } = await tokens.redeemCode(code, codeVerifier);
      return { tokens: issued, accountEmail: accountEmailFromIdToken(idToken) };
    },
    revoke(issued) {
      return revokeMicrosoftGrant(resolved, deps, tokens.refresh, issued);
    },
  };
}
