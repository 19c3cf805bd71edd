// Public surface of the domain: pure types, rules and ports. No I/O lives here.
export type * from './types.js';
export type * from './ports.js';
export * from './errors.js';
export * from './telehealth-policy.js';
export * from './series.js';
export * from './overlap.js';
export * from './sync-types.js';
export type * from './sync-ports.js';
