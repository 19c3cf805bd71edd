// Jittered exponential backoff that honours a vendor's Retry-After (DESIGN.md, "Push sync").

export const RETRY_BASE_MS = 2_000;
export const RETRY_MAX_MS = 30 * 60_000;
/** A retryable failure this many times in a row is dead-lettered (about a day of trying). */
export const MAX_ATTEMPTS = 15;

/**
 * Delay before attempt `attempt + 1` (attempt counts failures so far, from 1): "equal jitter",
 * half fixed and half random so that a burst of failures spreads out, never below Retry-After.
 */
export function retryDelayMs(attempt: number, retryAfterMs: number | null, random: () => number = Math.random): number {
  const exponential = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, attempt - 1));
  const jittered = exponential / 2 + random() * (exponential / 2);
  return Math.max(Math.round(jittered), retryAfterMs ?? 0);
}
