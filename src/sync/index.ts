// Public surface of the push-sync engine.
export { SyncWorker, type SyncWorkerOptions, type TargetOutcome } from './sync-worker.js';
export { ResyncRunner, type ResyncRunnerOptions } from './resync-runner.js';
export { connectorSession, openTokens, sealTokens } from './connection-tokens.js';
export { desiredEventFor, isPushable } from './desired-event.js';
export { retryDelayMs, MAX_ATTEMPTS } from './retry-policy.js';
