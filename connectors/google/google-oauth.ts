import { CodeChallengeMethod, OAuth2Client } from 'google-auth-library';
import type { Credentials } from 'google-auth-library';
import { SyncError } from '../../src/domain/index.js';
import type { OAuthProvider, OAuthTokens } from '../../src/domain/index.js';
import { classifyGoogleError, httpFailureOf, oauthError } from './google-errors.js';

// Google OAuth 2.0 (authorization code + PKCE) and the one place an OAuth2Client is built.

export interface GoogleConfig {
  clientId: string;
  clientSecret: string;
  /** Consent screen, e.g. https://accounts.google.com/o/oauth2/v2/auth. */
  authUrl: string;
  /** Token endpoint, e.g. https://oauth2.googleapis.com/token. */
  tokenUrl: string;
  /** Revocation endpoint (RFC 7009), default https://oauth2.googleapis.com/revoke. */
  revokeUrl?: string;
  /** API root the Calendar client resolves `calendar/v3/...` against, e.g. https://www.googleapis.com/. */
  apiRootUrl: string;
  redirectUri: string;
  scopes?: string[];
}

export const GOOGLE_DEFAULT_SCOPES: readonly string[] = ['https://www.googleapis.com/auth/calendar.events', 'openid', 'email'];

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const GOOGLE_DEFAULT_REVOKE_URL = 'https://oauth2.googleapis.com/revoke';

/**
 * An OAuth2Client whose token requests go to config.tokenUrl (the `endpoints` option: the
 * client ignores any global root URL) and which never retries by itself. gaxios retries when a
 * request carries `retry: true` or a `retryConfig`; OAuth2Client adds both to every token request
 * (POST included), and googleapis-common sets `retry: true` on every API call. The transporter's
 * defaults are deep-merged under each request's options, so `retryConfig.retry = 0` here wins
 * over both: every attempt is one HTTP request, and the sync engine owns retries and backoff.
 */
export function createOAuth2Client(config: GoogleConfig, timeoutMs: number = DEFAULT_REQUEST_TIMEOUT_MS): OAuth2Client {
  return new OAuth2Client({
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    redirectUri: config.redirectUri,
    endpoints: { oauth2TokenUrl: config.tokenUrl, oauth2AuthBaseUrl: config.authUrl },
    transporterOptions: { retry: false, retryConfig: { retry: 0, noResponseRetries: 0 }, timeout: timeoutMs },
  });
}

/** Library credentials -> our tokens; the refresh token is kept when a refresh response omits it. */
export function toOAuthTokens(credentials: Credentials, previous: OAuthTokens | null): OAuthTokens {
  if (!credentials.access_token) {
    throw new SyncError({ kind: 'permanent', code: 'GOOGLE_NO_ACCESS_TOKEN', message: 'Google token response carried no access token' });
  }
  return {
    accessToken: credentials.access_token,
    refreshToken: credentials.refresh_token ?? previous?.refreshToken ?? null,
    expiresAt: credentials.expiry_date ?? null,
    scope: credentials.scope ?? previous?.scope ?? null,
  };
}

/**
 * The `email` claim of an ID token, for display only. The payload is decoded WITHOUT verifying
 * the signature: the token came straight from the token endpoint over TLS in the code exchange,
 * and nothing is authorised on the strength of this value (it labels the connection).
 */
export function unverifiedEmailFromIdToken(idToken: string | null | undefined): string | null {
  const payload = idToken?.split('.')[1];
  if (!payload) return null;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    if (typeof claims === 'object' && claims !== null && 'email' in claims && typeof claims.email === 'string') return claims.email;
  } catch {
    // Not a JWT we can read: no account label, the connection still works.
  }
  return null;
}

export function createGoogleOAuth(config: GoogleConfig): OAuthProvider {
  const scopes = config.scopes ?? [...GOOGLE_DEFAULT_SCOPES];
  return {
    kind: 'google',

    authorizeUrl({ state, codeChallenge }) {
      return createOAuth2Client(config).generateAuthUrl({
        scope: scopes,
        state,
        code_challenge: codeChallenge,
        code_challenge_method: CodeChallengeMethod.S256,
        // A refresh token, and a fresh one on every consent (Google omits it on re-consent otherwise).
        access_type: 'offline',
        prompt: 'consent',
        include_granted_scopes: true,
      });
    },

    async exchangeCode({ code, codeVerifier }) {
      const client = createOAuth2Client(config);
      let credentials: Credentials;
      try {
        ({ tokens: credentials } = await client.getToken({ code, codeVerifier, redirect_uri: config.redirectUri }));
      } catch (error) {
        throw classifyGoogleError(error, 'code exchange');
      }
      return { tokens: toOAuthTokens(credentials, null), accountEmail: unverifiedEmailFromIdToken(credentials.id_token) };
    },

    async revoke(tokens) {
      // Revoking the refresh token ends the whole grant, its access tokens with it (Google's
      // "Revoking a token"); an access token alone is revoked when no refresh token was issued.
      // The token goes in the form body, as Google documents it: the library's revokeToken puts
      // it in the URL's query, where request logs and proxies keep it.
      try {
        await createOAuth2Client(config).transporter.request({
          url: config.revokeUrl ?? GOOGLE_DEFAULT_REVOKE_URL,
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          data: new URLSearchParams({ token: tokens.refreshToken ?? tokens.accessToken }).toString(),
        });
        return 'revoked';
      } catch (error) {
        // 400 invalid_token: expired or revoked already (by the user, or a revocation whose answer
        // was lost). Any other 400 (invalid_request: a wrong GOOGLE_REVOKE_URL) is no revocation.
        const failure = httpFailureOf(error);
        if (failure?.status === 400 && oauthError(failure.data) === 'invalid_token') return 'already_invalid';
        throw classifyGoogleError(error, 'token revocation');
      }
    },
  };
}
