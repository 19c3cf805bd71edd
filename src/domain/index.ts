// Public surface of the domain: pure types, rules and ports. No I/O lives here.
export type * from './types.js';
export type * from './ports.js';
export * from './errors.js';
export * from './text.js';
export * from './telehealth-policy.js';
export * from './instants.js';
export * from './series.js';
export * from './time-zones.js';
export * from './overlap.js';
export * from './sync-types.js';
export type * from './sync-ports.js';
export * from './busy.js';
export type * from './busy-source.js';
export type * from './web-session.js';
export * from './join-link.js';
export * from './reminders.js';
export * from './secret-token.js';
export * from './provider-access.js';
