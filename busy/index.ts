export { isPublicAddress, parseAllowHosts } from './address-policy.js';
export { MAX_SOURCE_URL_LENGTH, hostPortKey, normalizeSourceUrl, type InvalidSourceUrl } from './source-url.js';
export {
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_REDIRECTS,
  DEFAULT_TIMEOUT_MS,
  fetchIcsSource,
  type FetchIcsErrorCode,
  type FetchIcsOptions,
  type FetchIcsResult,
  type HostResolver,
  type ResolvedAddress,
} from './safe-fetch.js';
export { busyFromIcs, IcsParseError, type BusyFromIcsOptions, type BusyFromIcsResult } from './ics-busy.js';
export { createIcsReader, type IcsRead, type IcsReader, type IcsReaderOptions } from './ics-reader.js';
