// Reading an ICS busy source end to end: the guarded fetch (safe-fetch.ts), then the busy time in
// it (ics-busy.ts). What the busy service is given (src/services/busy-service.ts: IcsSources).
import { isBlockedLiteral } from './address-policy.js';
import { fetchIcsSource, type HostResolver } from './safe-fetch.js';
import { busyFromIcs, IcsParseError } from './ics-busy.js';
import { normalizeSourceUrl } from './source-url.js';
import type { IcsReader } from '../src/domain/index.js';

export interface IcsReaderOptions {
  /** `host:port` keys allowed although private, and over plain http (BUSY_ALLOW_HOSTS). */
  allowHosts: ReadonlySet<string>;
  maxBytes: number;
  timeoutMs?: number;
  /** Our events' UID domain: our own events in a provider's calendar are never busy time again. */
  uidDomain: string;
  /** Tests: a CA to trust, and a DNS resolver. */
  ca?: string;
  lookup?: HostResolver;
}

export type { IcsRead, IcsReader } from '../src/domain/index.js';

export function createIcsReader(options: IcsReaderOptions): IcsReader {
  return {
    normalize(url) {
      const checked = normalizeSourceUrl(url, options.allowHosts);
      if (!(checked instanceof URL)) return { reason: checked.reason };
      // An address written as an IP is judged now; a name, on what it resolves to at each read.
      if (isBlockedLiteral(checked, options.allowHosts)) {
        return { reason: 'the address is not a public one (loopback, private, link-local and other special ranges are refused)' };
      }
      return checked;
    },
    async read(url, request) {
      const fetched = await fetchIcsSource(url, {
        allowHosts: options.allowHosts,
        maxBytes: options.maxBytes,
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
        etag: request.etag,
        lastModified: request.lastModified,
      });
      if (fetched.status === 'not_modified') return fetched;
      if (fetched.status === 'error') {
        // The status is worth keeping (404: the address is gone; 401/403: it was reset); the
        // message is not (it names the host, and remote text is never stored).
        return { status: 'error', code: fetched.httpStatus === undefined ? fetched.code : `SOURCE_HTTP_${fetched.httpStatus}` };
      }
      try {
        const { intervals, truncated } = await busyFromIcs(fetched.text, {
          from: request.from,
          to: request.to,
          providerZone: request.providerZone,
          ownUidSuffix: `@${options.uidDomain}`,
          ...(request.ownUids === undefined ? {} : { ownUids: await request.ownUids() }),
        });
        return { status: 'ok', intervals, truncated, etag: fetched.etag, lastModified: fetched.lastModified };
      } catch (err) {
        if (err instanceof IcsParseError) return { status: 'error', code: 'SOURCE_NOT_CALENDAR' };
        throw err;
      }
    },
  };
}
