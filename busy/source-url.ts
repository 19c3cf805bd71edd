// Turns what a provider pasted as their calendar's address into the URL we will fetch, or says
// why not. Pure: no DNS; which addresses a host may resolve to is safe-fetch.ts's concern.
// A reason names the host at most: the path and query of a secret ICS address are its password.
import { MAX_SOURCE_URL_LENGTH } from '../src/domain/index.js';

export { MAX_SOURCE_URL_LENGTH };

export interface InvalidSourceUrl {
  code: 'INVALID_SOURCE_URL';
  reason: string;
}

/** `host:port` with the scheme's default port filled in, the form parseAllowHosts returns. */
export function hostPortKey(url: URL): string {
  const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port;
  return `${url.hostname}:${port}`;
}

/**
 * Accepts https://, and webcal:// or webcals:// (Apple's "subscribe" aliases, fetched over https);
 * plain http:// only for an allow-listed host:port. Drops the fragment, which is never sent.
 */
export function normalizeSourceUrl(input: string, allowHosts: ReadonlySet<string>): URL | InvalidSourceUrl {
  const trimmed = input.trim();
  if (trimmed.length > MAX_SOURCE_URL_LENGTH) return invalid(`the URL is longer than ${MAX_SOURCE_URL_LENGTH} characters`);
  // WHATWG parses webcal: as an opaque scheme (no host normalisation), so swap the scheme first.
  const url = URL.parse(trimmed.replace(/^webcals?:/i, 'https:'));
  if (url === null) return invalid('not a valid URL');
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return invalid(`the scheme ${url.protocol} is not supported; use https:// or webcal://`);
  }
  // Credentials in a URL leak into logs and error reports; a feed needing them is out of scope.
  if (url.username !== '' || url.password !== '') return invalid('user names and passwords in the URL are not accepted');
  if (url.hostname === '') return invalid('the URL has no host');
  if (url.protocol === 'http:' && !allowHosts.has(hostPortKey(url))) {
    return invalid(`plain http is not accepted for ${url.host}; use https://`);
  }
  url.hash = '';
  if (url.href.length > MAX_SOURCE_URL_LENGTH) return invalid(`the URL is longer than ${MAX_SOURCE_URL_LENGTH} characters`);
  return url;
}

function invalid(reason: string): InvalidSourceUrl {
  return { code: 'INVALID_SOURCE_URL', reason };
}
