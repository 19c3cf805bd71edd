import { AppError, ErrorCode, notFound } from './errors.js';
import type { Provider } from './types.js';

// Who may still be written for: the one rule every service (and the feed service) applies before
// it writes a provider's data.

export function providerNotFound(providerId: string): AppError {
  return notFound(ErrorCode.PROVIDER_NOT_FOUND, `Provider ${providerId} does not exist.`);
}

/**
 * The provider, when its data may still change: 404 when there is none, 409 once it has left
 * (offboarded: its calendars are being emptied, and nothing may be written to them again).
 */
export function writableProvider(provider: Provider | null, providerId: string): Provider {
  if (provider === null) throw providerNotFound(providerId);
  if (provider.offboardedAt !== null) {
    throw new AppError({ code: ErrorCode.PROVIDER_OFFBOARDED, status: 409, message: `Provider ${providerId} has left the practice (offboarded ${provider.offboardedAt}); nothing more can be written for them.` });
  }
  return provider;
}
