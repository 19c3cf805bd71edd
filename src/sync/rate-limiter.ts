// Per-connection request pacing (token bucket). Instead of sleeping, the worker asks how long
// until a token is free and reschedules the target for then: pacing is just scheduling, so it
// works the same under the real clock and a test's fake one, and never holds a lease idle.

export interface RateLimit {
  perSecond: number;
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limit: RateLimit) {}

  /** Takes a token for `key` at `nowMs`; 0 when taken, else the milliseconds until one is free. */
  take(key: string, nowMs: number): number {
    const { perSecond, burst } = this.limit;
    const bucket = this.buckets.get(key) ?? { tokens: burst, at: nowMs };
    const tokens = Math.min(burst, bucket.tokens + ((nowMs - bucket.at) / 1000) * perSecond);
    if (tokens >= 1) {
      this.buckets.set(key, { tokens: tokens - 1, at: nowMs });
      return 0;
    }
    this.buckets.set(key, { tokens, at: nowMs });
    return Math.ceil(((1 - tokens) / perSecond) * 1000);
  }
}
