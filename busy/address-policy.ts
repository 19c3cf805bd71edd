import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { hostPortKey } from './source-url.js';

// Which addresses a provider-supplied calendar URL may make us connect to. A busy source is a URL
// typed in by a user, so without this the server would fetch from its own network for them (SSRF:
// cloud metadata at 169.254.169.254, admin ports on 127.0.0.1, the database on 10.x).

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;

const v6Cidr = (cidr: string): [IPv6, number] => ipaddr.IPv6.parseCIDR(cidr);

// Prefixes whose last 32 bits are an IPv4 address that the packet ends up at (mapped, the
// deprecated "compatible" form, RFC 6145 translated, RFC 6052 NAT64): judge that address instead.
const V4_IN_LOW_BITS = ['::ffff:0:0/96', '::/96', '::ffff:0:0:0/96', '64:ff9b::/96'].map(v6Cidr);
// RFC 3056 6to4 carries the relay's IPv4 address in bits 16..47.
const SIX_TO_FOUR = v6Cidr('2002::/16');
// Only 2000::/3 is allocated as global unicast; the rest of IPv6 is reserved or special-purpose.
const GLOBAL_UNICAST = v6Cidr('2000::/3');

/**
 * True when `ip` (an address as DNS returns it) is on the public internet. Anything unparsable,
 * non-canonical IPv4 (octal, hex, short forms) or special-purpose is refused: the policy fails closed.
 */
export function isPublicAddress(ip: string): boolean {
  if (ipaddr.IPv4.isValidFourPartDecimal(ip)) return isPublicV4(ipaddr.IPv4.parse(ip));
  if (ipaddr.IPv6.isValid(ip)) return isPublicV6(ipaddr.IPv6.parse(ip));
  return false;
}

// ipaddr.js classifies every special-purpose block of RFC 6890 (loopback, private, link-local,
// CGNAT, multicast, broadcast, documentation, benchmarking, 240/4...) and calls the rest 'unicast'.
function isPublicV4(address: IPv4): boolean {
  return address.range() === 'unicast';
}

function isPublicV6(address: IPv6): boolean {
  const embedded = embeddedV4(address);
  if (embedded !== undefined) return isPublicV4(embedded);
  // Teredo, the local-use NAT64 prefix 64:ff9b:1::/48, ULA, link-local and the rest get their own
  // range names, so only plain global unicast is left.
  return address.range() === 'unicast' && address.match(GLOBAL_UNICAST);
}

function embeddedV4(address: IPv6): IPv4 | undefined {
  const [, w1 = 0, w2 = 0, , , , w6 = 0, w7 = 0] = address.parts;
  if (V4_IN_LOW_BITS.some((cidr) => address.match(cidr))) return v4FromWords(w6, w7);
  if (address.match(SIX_TO_FOUR)) return v4FromWords(w1, w2);
  return undefined;
}

function v4FromWords(high: number, low: number): IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

const ALLOW_HOST_ENTRY = /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?):([0-9]{1,5})$/;

/**
 * Parses an operator's list of `host:port` pairs that are exempt from the address policy (a
 * calendar server on the practice's own network, local test servers). Entries are separated by
 * commas; IPv6 goes in brackets (`[::1]:8443`). Keys come out as `hostPortKey` in source-url.ts
 * builds them. Throws an Error naming the first malformed entry, so a bad config fails at start.
 */
export function parseAllowHosts(spec: string): ReadonlySet<string> {
  const hosts = new Set<string>();
  for (const raw of spec.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (entry !== '') hosts.add(parseAllowHost(entry, raw.trim()));
  }
  return hosts;
}

function parseAllowHost(entry: string, raw: string): string {
  const fail = (why: string): never => {
    throw new Error(`Invalid allow-host entry "${raw}": ${why}`);
  };
  const match = ALLOW_HOST_ENTRY.exec(entry);
  const host = match?.[1];
  const port = Number(match?.[2]);
  if (host === undefined) return fail('expected host:port, with an IPv6 address in brackets like [::1]:8443');
  if (!Number.isInteger(port) || port < 1 || port > 65535) return fail('the port must be between 1 and 65535');
  if (host.startsWith('[') && !ipaddr.IPv6.isValid(host.slice(1, -1))) return fail('not a valid IPv6 address');
  // Spell the host as the WHATWG URL parser does (compressed IPv6, dotted IPv4), so the entry
  // matches URL.hostname however the URL itself wrote it.
  const canonical = URL.parse(`http://${host}/`)?.hostname;
  if (canonical === undefined || canonical === '') return fail('not a valid host name');
  return `${canonical}:${port}`;
}

/**
 * Whether a URL names a non-public IP address itself (not a host name), unless its host:port is
 * allowed: Node's net.connect skips DNS (and so the lookup check) for IP literals, so they are
 * judged from the URL.
 */
export function isBlockedLiteral(url: URL, allowHosts: ReadonlySet<string>): boolean {
  const literal = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return isIP(literal) !== 0 && !isPublicAddress(literal) && !allowHosts.has(hostPortKey(url));
}
