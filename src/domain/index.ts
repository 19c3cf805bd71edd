// Public surface of the domain: pure types, rules and ports. No I/O lives here.
export type * from './types.js';
export type * from './ports.js';
export * from './errors.js';
