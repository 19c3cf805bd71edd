import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { getCACertificates } from 'node:tls';
import { Agent, fetch } from 'undici';
import { isBlockedLiteral, isPublicAddress } from './address-policy.js';
import { hostPortKey, normalizeSourceUrl } from './source-url.js';

// Downloads a provider's external ICS calendar. The URL is user input, so every hop is checked
// where it matters: on the addresses the socket will actually connect to, after DNS (a name
// checked before connecting can resolve differently a moment later). Remote trouble comes back
// as a result, never as a throw, and messages name the host only (the path is the secret).

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to every address it has, like dns.lookup with `all: true`. */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface FetchIcsOptions {
  /** `host:port` keys (parseAllowHosts) exempt from the address policy and allowed over http. */
  allowHosts: ReadonlySet<string>;
  maxBytes?: number;
  /** Budget for the whole fetch: every redirect hop and the body. */
  timeoutMs?: number;
  maxRedirects?: number;
  etag?: string | null;
  lastModified?: string | null;
  /** A PEM certificate to trust besides the default ones (test servers). */
  ca?: string;
  lookup?: HostResolver;
}

export type FetchIcsErrorCode =
  | 'SOURCE_BLOCKED_ADDRESS'
  | 'SOURCE_TIMEOUT'
  | 'SOURCE_TOO_LARGE'
  | 'SOURCE_TOO_MANY_REDIRECTS'
  | 'SOURCE_HTTP_STATUS'
  | 'SOURCE_NOT_CALENDAR'
  | 'SOURCE_UNREACHABLE'
  | 'INVALID_SOURCE_URL';

export type FetchIcsResult =
  | { status: 'ok'; text: string; etag: string | null; lastModified: string | null; finalUrl: URL }
  | { status: 'not_modified' }
  | { status: 'error'; code: FetchIcsErrorCode; message: string; /** For SOURCE_HTTP_STATUS: the status answered. */ httpStatus?: number };

export const DEFAULT_MAX_BYTES = 5 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_REDIRECTS = 3;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const UNDICI_TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

interface Settings {
  allowHosts: ReadonlySet<string>;
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  headers: Record<string, string>;
  ca: string[] | undefined;
  lookup: HostResolver;
  signal: AbortSignal;
}

type Hop = { kind: 'done'; result: FetchIcsResult } | { kind: 'redirect'; location: string };

export async function fetchIcsSource(url: URL, options: FetchIcsOptions): Promise<FetchIcsResult> {
  const settings = toSettings(options);
  let current = normalizeSourceUrl(url.href, settings.allowHosts);
  for (let redirects = 0; ; redirects += 1) {
    if (!(current instanceof URL)) return failure('INVALID_SOURCE_URL', current.reason);
    const hop = await fetchHop(current, settings);
    if (hop.kind === 'done') return hop.result;
    if (redirects >= settings.maxRedirects) {
      return failure('SOURCE_TOO_MANY_REDIRECTS', `${current.host} redirected more than ${settings.maxRedirects} times`);
    }
    const from = current.host;
    const target = URL.parse(hop.location, current.href);
    // Re-normalised so a redirect cannot downgrade to http or switch to a scheme we refuse.
    current = target === null ? { code: 'INVALID_SOURCE_URL', reason: 'not a valid URL' } : normalizeSourceUrl(target.href, settings.allowHosts);
    if (!(current instanceof URL)) return failure('INVALID_SOURCE_URL', `${from} redirected to an unacceptable URL: ${current.reason}`);
  }
}

function toSettings(options: FetchIcsOptions): Settings {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const headers: Record<string, string> = { accept: 'text/calendar, */*;q=0.1', 'user-agent': 'sessionsync-busy/1' };
  if (options.etag) headers['if-none-match'] = options.etag;
  if (options.lastModified) headers['if-modified-since'] = options.lastModified;
  return {
    allowHosts: options.allowHosts,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    timeoutMs,
    maxRedirects: options.maxRedirects ?? DEFAULT_MAX_REDIRECTS,
    headers,
    // tls `ca` replaces the trusted set, so keep the defaults next to the extra one.
    ca: options.ca === undefined ? undefined : [...getCACertificates('default'), options.ca],
    lookup: options.lookup ?? ((hostname) => dnsLookup(hostname, { all: true })),
    signal: AbortSignal.timeout(timeoutMs),
  };
}

async function fetchHop(url: URL, settings: Settings): Promise<Hop> {
  const exempt = settings.allowHosts.has(hostPortKey(url));
  if (isBlockedLiteral(url, settings.allowHosts)) return done(blocked(url.host));

  // One agent per hop: the lookup hook only sees a host name, and whether it is exempt depends
  // on the port too. HTTP/1.1 only, the protocol whose size and timeout handling is tested here.
  const agent = new Agent({
    allowH2: false,
    headersTimeout: settings.timeoutMs,
    bodyTimeout: settings.timeoutMs,
    connect: { timeout: settings.timeoutMs, lookup: guardedLookup(settings.lookup, !exempt), ...(settings.ca && { ca: settings.ca }) },
  });
  try {
    const response = await fetch(url, { dispatcher: agent, redirect: 'manual', headers: settings.headers, signal: settings.signal });
    const { status } = response;
    if (REDIRECT_STATUSES.has(status)) {
      const location = response.headers.get('location');
      if (location === null) return done(failure('SOURCE_HTTP_STATUS', `${url.host} answered HTTP ${status} without a Location`, status));
      return { kind: 'redirect', location };
    }
    if (status === 304) return done({ status: 'not_modified' });
    if (status < 200 || status > 299) return done(failure('SOURCE_HTTP_STATUS', `${url.host} answered HTTP ${status}`, status));

    const tooLarge = failure('SOURCE_TOO_LARGE', `${url.host} sent more than ${settings.maxBytes} bytes`);
    if (Number(response.headers.get('content-length') ?? 0) > settings.maxBytes) return done(tooLarge);
    const bytes = await readCapped(response.body, settings.maxBytes);
    if (bytes === null) return done(tooLarge);
    // TextDecoder drops a leading BOM by default; malformed UTF-8 becomes U+FFFD rather than failing.
    const text = new TextDecoder('utf-8').decode(bytes);
    // Property names are case-insensitive (RFC 5545 3.1); \s also covers a stray second BOM.
    if (!/^\s*BEGIN:VCALENDAR/i.test(text)) return done(failure('SOURCE_NOT_CALENDAR', `${url.host} did not send an iCalendar file`));
    const etag = response.headers.get('etag');
    const lastModified = response.headers.get('last-modified');
    return done({ status: 'ok', text, etag, lastModified, finalUrl: url });
  } catch (error) {
    return done(describeFailure(error, url.host, settings));
  } finally {
    // Closes the socket of a body left unread (redirects, refusals); a failure to close is not the caller's.
    await agent.destroy().catch(() => undefined);
  }
}

/** The body, or null as soon as it grows past maxBytes: Content-Length can lie or be absent. */
async function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array | null> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done: finished, value } = await reader.read();
    if (finished) return Buffer.concat(chunks, total);
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
}

class BlockedAddressError extends Error {}

/** A net.connect lookup hook: resolves with `resolve` and refuses the host if any address is not public. */
function guardedLookup(resolve: HostResolver, enforce: boolean): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    resolve(hostname).then(
      (addresses) => {
        // All of them, not just the one picked: a name answering [public, private] would let a
        // retry or happy-eyeballs fallback reach the private one.
        if (enforce && addresses.some(({ address }) => !isPublicAddress(address))) {
          callback(new BlockedAddressError(`${hostname} resolves to a non-public address`), []);
          return;
        }
        const usable = family === 0 ? addresses : addresses.filter((candidate) => candidate.family === family);
        const first = usable[0];
        if (first === undefined) callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
        else if (options.all) callback(null, usable);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, []),
    );
  };
}

function describeFailure(error: unknown, host: string, settings: Settings): FetchIcsResult {
  const chain = causeChain(error);
  if (chain.some((link) => link instanceof BlockedAddressError)) return blocked(host);
  const code = chain.map((link) => (link as { code?: unknown }).code).find((value) => typeof value === 'string');
  if (settings.signal.aborted || (typeof code === 'string' && UNDICI_TIMEOUT_CODES.has(code))) {
    return failure('SOURCE_TIMEOUT', `${host} did not answer within ${settings.timeoutMs} ms`);
  }
  // Only the error code is shown: undici and TLS messages may quote the request URL.
  return failure('SOURCE_UNREACHABLE', `could not reach ${host}${typeof code === 'string' ? ` (${code})` : ''}`);
}

function causeChain(error: unknown): object[] {
  const chain: object[] = [];
  for (let link = error; typeof link === 'object' && link !== null && chain.length < 10; link = (link as { cause?: unknown }).cause) {
    chain.push(link);
  }
  return chain;
}

function blocked(host: string): FetchIcsResult {
  return failure('SOURCE_BLOCKED_ADDRESS', `${host} is not on the public internet; refused`);
}

function failure(code: FetchIcsErrorCode, message: string, httpStatus?: number): FetchIcsResult {
  return httpStatus === undefined ? { status: 'error', code, message } : { status: 'error', code, message, httpStatus };
}

function done(result: FetchIcsResult): Hop {
  return { kind: 'done', result };
}
