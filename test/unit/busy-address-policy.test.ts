import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isPublicAddress, parseAllowHosts } from '../../busy/index.js';

const octet = fc.integer({ min: 0, max: 255 });
const hex = (high: number, low: number): string => ((high << 8) | low).toString(16);

describe('isPublicAddress', () => {
  const refused: [string, string][] = [
    ['127.0.0.1', 'IPv4 loopback'],
    ['127.255.255.254', 'the whole of 127/8'],
    ['0.0.0.0', 'IPv4 unspecified'],
    ['0.1.2.3', 'this-network 0/8'],
    ['10.0.0.1', 'private 10/8'],
    ['172.16.0.1', 'private 172.16/12, low end'],
    ['172.31.255.255', 'private 172.16/12, high end'],
    ['192.168.1.1', 'private 192.168/16'],
    ['169.254.169.254', 'cloud metadata, link-local'],
    ['169.254.0.1', 'link-local 169.254/16'],
    ['100.64.0.1', 'CGNAT 100.64/10, low end'],
    ['100.127.255.255', 'CGNAT 100.64/10, high end'],
    ['224.0.0.1', 'IPv4 multicast'],
    ['239.255.255.250', 'IPv4 multicast (SSDP)'],
    ['255.255.255.255', 'limited broadcast'],
    ['240.0.0.1', 'reserved 240/4'],
    ['192.0.0.8', 'IETF protocol assignments 192.0.0/24'],
    ['192.0.2.1', 'documentation TEST-NET-1'],
    ['198.51.100.7', 'documentation TEST-NET-2'],
    ['203.0.113.9', 'documentation TEST-NET-3'],
    ['198.18.0.1', 'benchmarking 198.18/15'],
    ['::1', 'IPv6 loopback'],
    ['::', 'IPv6 unspecified'],
    ['fe80::1', 'IPv6 link-local'],
    ['febf::1', 'IPv6 link-local, high end of fe80::/10'],
    ['fe80::1%eth0', 'IPv6 link-local with a zone'],
    ['fc00::1', 'ULA fc00::/7'],
    ['fd00:ec2::254', 'ULA (the AWS IPv6 metadata address)'],
    ['ff02::1', 'IPv6 multicast'],
    ['2001:db8::1', 'IPv6 documentation'],
    ['fec0::1', 'deprecated site-local'],
    ['100::1', 'discard-only 100::/64'],
    ['2001::1', 'Teredo'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback (dotted)'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback (hex)'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['::127.0.0.1', 'IPv4-compatible loopback'],
    ['::10.1.2.3', 'IPv4-compatible private'],
    ['::ffff:0:10.0.0.1', 'IPv4-translated (RFC 6145) private'],
    ['64:ff9b::10.0.0.1', 'NAT64 with embedded private'],
    ['64:ff9b::7f00:1', 'NAT64 with embedded loopback'],
    ['64:ff9b:1::8.8.8.8', 'local-use NAT64 64:ff9b:1::/48'],
    ['2002:0a00:0001::1', '6to4 embedding 10.0.0.1'],
    ['2002:7f00:1::', '6to4 embedding 127.0.0.1'],
    ['2002:a9fe:a9fe::1', '6to4 embedding the metadata address'],
    ['4000::1', 'outside 2000::/3 global unicast'],
    ['0177.0.0.1', 'octal spelling of loopback'],
    ['0x7f.0.0.1', 'hex spelling of loopback'],
    ['127.1', 'short spelling of loopback'],
    ['2130706433', 'integer spelling of loopback'],
    ['[::1]', 'bracketed, not an address as DNS returns it'],
    ['localhost', 'a name, not an address'],
    ['', 'empty'],
  ];
  for (const [ip, what] of refused) {
    it(`when given ${what} (${ip || 'empty'}), then it is refused`, () => {
      assert.equal(isPublicAddress(ip), false);
    });
  }

  const accepted: [string, string][] = [
    ['8.8.8.8', 'a public IPv4'],
    ['1.1.1.1', 'another public IPv4'],
    ['172.32.0.1', 'just above 172.16/12'],
    ['100.128.0.1', 'just above CGNAT'],
    ['169.255.0.1', 'just above link-local'],
    ['11.0.0.1', 'just above 10/8'],
    ['2606:4700:4700::1111', 'a public IPv6'],
    ['2a00:1450:4001:81c::200e', 'another public IPv6'],
    ['::ffff:8.8.8.8', 'IPv4-mapped public'],
    ['64:ff9b::8.8.8.8', 'NAT64 with embedded public'],
    ['2002:0808:0808::1', '6to4 embedding 8.8.8.8'],
  ];
  for (const [ip, what] of accepted) {
    it(`when given ${what} (${ip}), then it is accepted`, () => {
      assert.equal(isPublicAddress(ip), true);
    });
  }

  it('when any address in 8.8.0.0/16 is generated, then it is public, also IPv4-mapped', () => {
    fc.assert(
      fc.property(octet, octet, (c, d) => {
        assert.equal(isPublicAddress(`8.8.${c}.${d}`), true);
        assert.equal(isPublicAddress(`::ffff:8.8.${c}.${d}`), true);
      }),
    );
  });

  it('when any address in 10/8 is generated, then it is refused in every IPv6 disguise', () => {
    fc.assert(
      fc.property(octet, octet, octet, (b, c, d) => {
        assert.equal(isPublicAddress(`10.${b}.${c}.${d}`), false);
        assert.equal(isPublicAddress(`::ffff:10.${b}.${c}.${d}`), false);
        assert.equal(isPublicAddress(`64:ff9b::10.${b}.${c}.${d}`), false);
        assert.equal(isPublicAddress(`2002:${hex(10, b)}:${hex(c, d)}::1`), false);
      }),
    );
  });
});

describe('parseAllowHosts', () => {
  it('when given host:port pairs, then it returns lower-cased host:port keys', () => {
    assert.deepEqual([...parseAllowHosts(' Calendar.Example.COM:8443, 127.0.0.1:80 ,[::1]:8443')], [
      'calendar.example.com:8443',
      '127.0.0.1:80',
      '[::1]:8443',
    ]);
  });

  it('when IPv6 is spelled long-hand, then the key uses the URL parser spelling', () => {
    assert.deepEqual([...parseAllowHosts('[0:0:0:0:0:0:0:1]:443,[FE80::0001]:80')], ['[::1]:443', '[fe80::1]:80']);
  });

  it('when the list is empty or has a trailing comma, then empty entries are skipped', () => {
    assert.equal(parseAllowHosts('').size, 0);
    assert.equal(parseAllowHosts('a.test:1,').size, 1);
  });

  const malformed = ['calendar.example.com', '::1:8443', '[::1]', 'host:0', 'host:65536', 'host:http', 'http://host:80', 'user@host:80', 'host:80/path', '[zz::1]:80', '-host:80', 'ho st:80'];
  for (const entry of malformed) {
    it(`when an entry is malformed (${entry}), then the error names it`, () => {
      assert.throws(() => parseAllowHosts(`ok.test:443,${entry}`), (error: Error) => error.message.includes(`"${entry}"`));
    });
  }
});
