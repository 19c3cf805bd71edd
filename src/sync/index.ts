// Public surface of the push-sync engine.
export { DEFAULT_RATE_LIMITS, SyncWorker, type SyncWorkerOptions, type TargetOutcome } from './sync-worker.js';
export { RateLimiter, type RateLimit } from './rate-limiter.js';
export { ResyncRunner, type ResyncRunnerOptions } from './resync-runner.js';
export { connectorSession, openTokens, sealTokens } from './connection-tokens.js';
export { desiredEventFor, isPushable } from './desired-event.js';
export { retryDelayMs, MAX_ATTEMPTS } from './retry-policy.js';
