// Public surface of the push-sync engine.
export { DEFAULT_RATE_LIMITS, SyncWorker, type SyncWorkerOptions, type TargetOutcome } from './sync-worker.js';
export { ResyncRunner, type ResyncRunnerOptions } from './resync-runner.js';
export { connectorSession, markNeedsReauth, openTokens, sealTokens, tokensSealContext } from './connection-tokens.js';
export { BusyRefresher } from './busy-refresher.js';
