// Browser sessions of the provider portal and the admin console, and the single-use links that
// open a provider's. Only SHA-256 hashes of their secret tokens are stored.

export type WebSessionKind = 'provider' | 'admin';

export interface WebSession {
  /** SHA-256 (hex) of the cookie's secret token. */
  idHash: string;
  kind: WebSessionKind;
  /** The one provider a 'provider' session may see; null for 'admin'. */
  providerId: string | null;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

export interface PortalLink {
  /** SHA-256 (hex) of the link's secret token. */
  tokenHash: string;
  providerId: string;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
}
