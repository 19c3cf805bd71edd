import assert from 'node:assert/strict';
import {
  TELEHEALTH_PLATFORMS,
  checkTelehealthLink,
  linkKey,
  platformForHost,
  telehealthPlatformById,
  waitingRoomWarnings,
} from '../../src/domain/telehealth-policy.js';

function platform(id: string) {
  const found = telehealthPlatformById(id);
  assert.ok(found, `no platform ${id}`);
  return found;
}

describe('TELEHEALTH_PLATFORMS', () => {
  it('when the table is read, then ids are unique and every host is a lower-case domain claimed by one platform only', () => {
    const ids = TELEHEALTH_PLATFORMS.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    const hosts = TELEHEALTH_PLATFORMS.flatMap((p) => p.hosts.map((h) => ({ id: p.id, h })));
    for (const { id, h } of hosts) {
      assert.match(h, /^[a-z0-9-]+(\.[a-z0-9-]+)+$/, `${id}: ${h}`);
      const owners = TELEHEALTH_PLATFORMS.filter((p) => p.hosts.some((other) => h === other || h.endsWith(`.${other}`) || other.endsWith(`.${h}`)));
      assert.deepEqual(owners.map((p) => p.id), [id], h);
    }
  });

  const waitingRoomDefaults: [string, boolean][] = [
    ['doxy', true],
    ['vsee', true],
    ['simplepractice', true],
    ['jane', true],
    ['thera-link', true],
    ['zoom', false],
    ['google-meet', false],
    ['microsoft-teams', false],
    ['webex', false],
  ];
  for (const [id, expected] of waitingRoomDefaults) {
    it(`when ${id} is looked up, then its default waiting room is ${expected}`, () => {
      assert.equal(platform(id).defaultWaitingRoom, expected);
    });
  }

  it('when an unknown id or null is looked up, then no platform is returned', () => {
    assert.equal(telehealthPlatformById('facetime'), null);
    assert.equal(telehealthPlatformById(null), null);
  });

  it('when a host only ends with a platform domain without a dot boundary, then it does not match', () => {
    assert.equal(platformForHost('evilzoom.us'), null);
    assert.equal(platformForHost('zoom.us.evil.com'), null);
    assert.equal(platformForHost('notdoxy.me'), null);
  });
});

describe('checkTelehealthLink', () => {
  const accepted: [string, string, string | null][] = [
    // [input, expected normalised url, expected platform id]
    ['https://zoom.us/j/1234567890?pwd=abc', 'https://zoom.us/j/1234567890?pwd=abc', 'zoom'],
    ['https://us02web.zoom.us/j/85512345678', 'https://us02web.zoom.us/j/85512345678', 'zoom'],
    ['https://zoom.com/j/1', 'https://zoom.com/j/1', 'zoom'],
    ['https://agency.zoomgov.com/j/1601234567', 'https://agency.zoomgov.com/j/1601234567', 'zoom'],
    ['https://doxy.me/drbyron', 'https://doxy.me/drbyron', 'doxy'],
    ['https://meet.google.com/abc-defg-hij', 'https://meet.google.com/abc-defg-hij', 'google-meet'],
    [
      'https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=%7b%7d',
      'https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=%7b%7d',
      'microsoft-teams',
    ],
    ['https://teams.live.com/meet/9312345678', 'https://teams.live.com/meet/9312345678', 'microsoft-teams'],
    ['https://clinic.vsee.me/u/drbyron', 'https://clinic.vsee.me/u/drbyron', 'vsee'],
    ['https://acme.webex.com/meet/ada', 'https://acme.webex.com/meet/ada', 'webex'],
    ['https://video.simplepractice.com/appt-0123abcd', 'https://video.simplepractice.com/appt-0123abcd', 'simplepractice'],
    ['https://byronclinic.janeapp.com/video', 'https://byronclinic.janeapp.com/video', 'jane'],
    ['https://www.thera-link.com/room/ada', 'https://www.thera-link.com/room/ada', 'thera-link'],
    ['https://ZOOM.US/j/1', 'https://zoom.us/j/1', 'zoom'],
    ['https://zoom.us:443/j/1', 'https://zoom.us/j/1', 'zoom'],
    ['https://zoom.us./j/1', 'https://zoom.us./j/1', 'zoom'],
    ['https://doxy.me', 'https://doxy.me/', 'doxy'],
    ['  https://doxy.me/drbyron \n', 'https://doxy.me/drbyron', 'doxy'],
    ['https://video.example-health.com/room/1', 'https://video.example-health.com/room/1', null],
  ];
  for (const [input, url, platformId] of accepted) {
    it(`when the link is ${JSON.stringify(input)}, then it is accepted as ${url} on ${platformId ?? 'an unknown platform'}`, () => {
      const result = checkTelehealthLink(input);
      assert.ok(result.ok, result.ok ? '' : result.reason);
      assert.equal(result.url, url);
      assert.equal(result.platform?.id ?? null, platformId);
    });
  }

  const refused: [string, string, RegExp][] = [
    // [scenario, input, reason fragment]
    ['a facetime: link', 'facetime://+15551234567', /FaceTime .*not an accepted telehealth platform/],
    ['a facetime-audio: link', 'facetime-audio:+15551234567', /FaceTime/],
    ['a FaceTime web link', 'https://facetime.apple.com/join#v=1&p=AbCdEf123&k=XyZ', /FaceTime .*not HIPAA-protected/],
    ['an http link', 'http://zoom.us/j/1', /http:\/\/ links are not encrypted/],
    ['a javascript: link', 'javascript:alert(1)', /Only https:\/\/ links .*"javascript:"/],
    ['a data: link', 'data:text/html,<script>alert(1)</script>', /Only https:\/\/ links .*"data:"/],
    ['a tel: link', 'tel:+15551234567', /Phone call links are not an accepted/],
    ['an sms: link', 'sms:', /Text message links are not an accepted/],
    ['a mailto: link', 'mailto:ada@example.org', /Only https:\/\//],
    ['an ftp link', 'ftp://example.org/room', /Only https:\/\//],
    ['credentials in the link', 'https://user:pass@zoom.us/j/1', /user name or password/],
    ['a user name only', 'https://zoom.us@evil.example/j/1', /user name or password/],
    ['a tab inside', 'https://zoom.us/j/1\t2', /control or invisible character/],
    ['a newline inside', 'https://zoom.us/j/1\n2', /control or invisible character/],
    ['a NUL inside', 'https://zoom.us/j/1\u00002', /control or invisible character/],
    ['a DEL inside', 'https://zoom.us/j/1\u007f', /control or invisible character/],
    ['a C1 control inside', 'https://zoom.us/j/1\u0085', /control or invisible character/],
    ['a space inside', 'https://zoom.us/j/1 2', /space/],
    ['a zero-width space inside', 'https://zo\u200bom.us/j/1', /invisible character/],
    ['a right-to-left override inside', 'https://doxy.me/\u202Egnp.exe', /invisible character/],
    ['2,049 characters', `https://zoom.us/j/${'1'.repeat(2049 - 'https://zoom.us/j/'.length)}`, /longer than 2048 characters/],
    ['an IPv4 host', 'https://127.0.0.1/x', /IP address/],
    ['a hexadecimal IPv4 host', 'https://0x7f.1/x', /IP address/],
    ['an IPv6 host', 'https://[::1]/', /IP address/],
    ['localhost', 'https://localhost/', /localhost/],
    ['a subdomain of localhost', 'https://zoom.localhost/j/1', /localhost/],
    ['a single-label host', 'https://intranet/room', /not a public host name/],
    ['an empty string', '', /empty/],
    ['only whitespace', '   ', /empty/],
    ['no scheme', 'zoom.us/j/1', /not a valid absolute URL/],
    ['an https scheme without host', 'https://', /not a valid absolute URL/],
  ];
  for (const [scenario, input, reason] of refused) {
    it(`when the link has ${scenario}, then it is refused with a reason`, () => {
      const result = checkTelehealthLink(input);
      assert.equal(result.ok, false);
      assert.ok(!result.ok);
      assert.match(result.reason, reason);
    });
  }

  it('when the link is exactly 2,048 characters, then it is accepted', () => {
    const input = `https://zoom.us/j/${'1'.repeat(2048 - 'https://zoom.us/j/'.length)}`;
    assert.equal(input.length, 2048);
    assert.equal(checkTelehealthLink(input).ok, true);
  });

  it('when percent-encoding makes the normalised link longer than 2,048 characters, then it is refused', () => {
    const input = `https://zoom.us/j/${'é'.repeat(1000)}`;
    assert.ok(input.length <= 2048);
    const result = checkTelehealthLink(input);
    assert.ok(!result.ok);
    assert.match(result.reason, /longer than 2048 characters once normalised/);
  });

  it('when the host is unknown, then the link is accepted with a warning about the platform and its BAA', () => {
    const result = checkTelehealthLink('https://Rooms.Example-Health.com/ada');
    assert.ok(result.ok);
    assert.equal(result.platform, null);
    assert.equal(result.warnings.length, 1);
    assert.match(result.warnings[0]!, /rooms\.example-health\.com is not a recognised HIPAA-capable telehealth platform/);
    assert.match(result.warnings[0]!, /BAA/);
  });

  it('when the host is a recognised platform, then there is no warning', () => {
    const result = checkTelehealthLink('https://doxy.me/drbyron');
    assert.ok(result.ok);
    assert.deepEqual(result.warnings, []);
  });

  it('when the link is a Teams (free) link, then it is accepted with a warning that the BAA does not cover it', () => {
    const result = checkTelehealthLink('https://teams.live.com/meet/9312345678');
    assert.ok(result.ok);
    assert.equal(result.warnings.length, 1);
    assert.match(result.warnings[0]!, /Teams \(free\)/);
  });

  it('when the host is an internationalised look-alike of a platform, then it is normalised to punycode and not recognised', () => {
    const result = checkTelehealthLink('https://z\u043e\u043em.us/j/1');
    assert.ok(result.ok);
    assert.match(result.url, /^https:\/\/xn--/);
    assert.equal(result.platform, null);
    assert.equal(result.warnings.length, 1);
  });
});

describe('waitingRoomWarnings', () => {
  const cases: [string, string | null, boolean | null, RegExp | null][] = [
    // [scenario, platform id, waitingRoom, expected warning or null for none]
    ['Zoom and the waiting room confirmed on', 'zoom', true, null],
    ['Zoom and the waiting room not said', 'zoom', null, /Zoom does not always have a waiting room by default: switch on a waiting room/],
    ['Zoom and the waiting room off', 'zoom', false, /waiting room is off .*clients never overlap/],
    ['Doxy.me and the waiting room not said', 'doxy', null, null],
    ['Doxy.me and the waiting room confirmed on', 'doxy', true, null],
    ['Doxy.me and the waiting room turned off', 'doxy', false, /waiting room is off/],
    ['an unknown platform and the waiting room not said', null, null, /not recognised .*switch on a waiting room .*clients never overlap/],
    ['an unknown platform and the waiting room confirmed on', null, true, null],
    ['an unknown platform and the waiting room off', null, false, /waiting room is off/],
  ];
  for (const [scenario, platformId, waitingRoom, expected] of cases) {
    it(`when ${scenario}, then ${expected === null ? 'there is no warning' : 'there is one warning'}`, () => {
      const warnings = waitingRoomWarnings(platformId === null ? null : platform(platformId), waitingRoom);
      if (expected === null) {
        assert.deepEqual(warnings, []);
      } else {
        assert.equal(warnings.length, 1);
        assert.match(warnings[0]!, expected);
      }
    });
  }
});

describe('linkKey', () => {
  const cases: [string, string, string][] = [
    // [scenario, url, expected key]
    ['a Zoom link with a password', 'https://zoom.us/j/1234567890?pwd=abc#success', 'zoom.us/j/1234567890'],
    ['a Zoom regional subdomain', 'https://us02web.zoom.us/j/1234567890?pwd=xyz', 'zoom.us/j/1234567890'],
    ['a Zoom vanity subdomain', 'https://acme.zoom.us/j/1234567890', 'zoom.us/j/1234567890'],
    ['a zoom.com link', 'https://zoom.com/j/1234567890', 'zoom.us/j/1234567890'],
    ['a Zoom web-client link', 'https://app.zoom.us/wc/join/1234567890', 'zoom.us/j/1234567890'],
    ['a Zoom web-client link in the other form', 'https://us06web.zoom.us/wc/1234567890/join?fromPWA=1', 'zoom.us/j/1234567890'],
    ['a Zoom personal link', 'https://zoom.us/my/DrByron', 'zoom.us/my/drbyron'],
    ['a ZoomGov link', 'https://agency.zoomgov.com/j/1601234567', 'zoomgov.com/j/1601234567'],
    ['a www. host and trailing slash', 'https://www.Doxy.me/DrByron/', 'doxy.me/drbyron'],
    ['a host with a trailing dot', 'https://doxy.me./drbyron', 'doxy.me/drbyron'],
    ['a bare host', 'https://doxy.me/', 'doxy.me'],
    ['a Meet link with authuser', 'https://meet.google.com/abc-defg-hij?authuser=1', 'meet.google.com/abc-defg-hij'],
    ['a Teams link with upper-case escapes', 'https://teams.microsoft.com/l/meetup-join/19%3Ameeting_ABC%40thread.v2/0?context=x', 'teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0'],
    ['a non-default port', 'https://rooms.example-health.com:8443/ada', 'rooms.example-health.com:8443/ada'],
  ];
  for (const [scenario, url, expected] of cases) {
    it(`when the link is ${scenario}, then the key is ${expected}`, () => {
      assert.equal(linkKey(url), expected);
    });
  }

  it('when two Doxy rooms differ, then their keys differ', () => {
    assert.notEqual(linkKey('https://doxy.me/drbyron'), linkKey('https://doxy.me/drlovelace'));
  });

  it('when two Zoom meetings differ, then their keys differ', () => {
    assert.notEqual(linkKey('https://zoom.us/j/111'), linkKey('https://zoom.us/j/222'));
  });

  it('when ZoomGov and Zoom share a meeting number, then their keys differ (separate clouds)', () => {
    assert.notEqual(linkKey('https://zoomgov.com/j/1601234567'), linkKey('https://zoom.us/j/1601234567'));
  });

  it('when the text is not a URL, then the key is the trimmed lower-case text', () => {
    assert.equal(linkKey('  Not A URL '), 'not a url');
  });
});
