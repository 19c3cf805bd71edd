import assert from 'node:assert/strict';
import { once } from 'node:events';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { fetchIcsSource, normalizeSourceUrl, type FetchIcsOptions, type FetchIcsResult, type HostResolver } from '../../busy/index.js';
import { testCertificate } from '../fakes/test-certificate.js';

// Real servers on ports the OS picks. The secret stands where a calendar's private token sits,
// and must never reach an error message.
const SECRET = 's3cr3t-feed-token';
const CALENDAR = 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nEND:VCALENDAR\r\n';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

interface TestServer {
  port: number;
  /** `127.0.0.1:<port>`, the allow-list key. */
  key: string;
  requests: IncomingHttpHeaders[];
  paths: string[];
  connections: number;
}

const servers: net.Server[] = [];

async function listen(server: http.Server | https.Server, handler: Handler): Promise<TestServer> {
  const state: TestServer = { port: 0, key: '', requests: [], paths: [], connections: 0 };
  server.on('connection', () => (state.connections += 1));
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    state.requests.push(request.headers);
    state.paths.push(request.url ?? '');
    handler(request, response);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.port = (server.address() as AddressInfo).port;
  state.key = `127.0.0.1:${state.port}`;
  return state;
}

const httpServer = (handler: Handler): Promise<TestServer> => listen(http.createServer(), handler);
const httpsServer = async (handler: Handler): Promise<TestServer> => {
  const { cert, key } = await testCertificate();
  return listen(https.createServer({ cert, key }), handler);
};
const calendarHandler: Handler = (_request, response) => {
  response.writeHead(200, { 'content-type': 'text/calendar' }).end(CALENDAR);
};

const secretUrl = (base: string): URL => new URL(`${base}/cal/${SECRET}/basic.ics?token=${SECRET}`);
const fixedLookup = (...addresses: string[]): HostResolver =>
  async () => addresses.map((address) => ({ address, family: net.isIP(address) }));

async function fetchUrl(url: URL | string, options: Partial<FetchIcsOptions> = {}): Promise<FetchIcsResult> {
  const normalized = typeof url === 'string' ? normalizeSourceUrl(url, options.allowHosts ?? new Set()) : url;
  assert.ok(normalized instanceof URL, 'the test URL itself is acceptable');
  return fetchIcsSource(normalized, { allowHosts: new Set(), ...options });
}

function assertError(result: FetchIcsResult, code: string): string {
  assert.equal(result.status, 'error', `expected ${code}, got ${JSON.stringify(result).slice(0, 200)}`);
  assert.ok(result.status === 'error');
  assert.equal(result.code, code, result.message);
  assert.ok(!result.message.includes(SECRET), `the message leaks the path: ${result.message}`);
  return result.message;
}

function assertOk(result: FetchIcsResult): Extract<FetchIcsResult, { status: 'ok' }> {
  assert.ok(result.status === 'ok', `expected ok, got ${JSON.stringify(result).slice(0, 200)}`);
  return result;
}

/** A port nothing listens on: the OS hands one out, and we give it back. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    if (server instanceof http.Server) server.closeAllConnections();
    server.close();
  }
});

describe('fetchIcsSource', () => {
  it('when the host is a loopback address not in allowHosts, then it is refused and the server sees no connection', async () => {
    const server = await httpsServer(calendarHandler);
    const message = assertError(await fetchUrl(secretUrl(`https://127.0.0.1:${server.port}`)), 'SOURCE_BLOCKED_ADDRESS');
    assert.match(message, /127\.0\.0\.1/);
    assert.equal(server.connections, 0);
  });

  it('when the host is an IPv6 loopback literal, then it is refused', async () => {
    assertError(await fetchUrl(secretUrl('https://[::1]:1')), 'SOURCE_BLOCKED_ADDRESS');
    assertError(await fetchUrl(secretUrl('https://[::ffff:127.0.0.1]:1')), 'SOURCE_BLOCKED_ADDRESS');
  });

  it('when an allowed http host answers 200, then the calendar comes back with its validators and the polite headers were sent', async () => {
    const server = await httpServer((_request, response) => {
      response.writeHead(200, { etag: '"v1"', 'last-modified': 'Tue, 01 Apr 2025 10:00:00 GMT' }).end(CALENDAR);
    });
    const url = secretUrl(`http://127.0.0.1:${server.port}`);
    const result = assertOk(await fetchUrl(url, { allowHosts: new Set([server.key]) }));
    assert.equal(result.text, CALENDAR);
    assert.equal(result.etag, '"v1"');
    assert.equal(result.lastModified, 'Tue, 01 Apr 2025 10:00:00 GMT');
    assert.equal(result.finalUrl.href, url.href);
    assert.equal(server.requests[0]?.accept, 'text/calendar, */*;q=0.1');
    assert.equal(server.requests[0]?.['user-agent'], 'sessionsync-busy/1');
    assert.equal(server.requests[0]?.['if-none-match'], undefined);
  });

  it('when an allowed https host with a test certificate answers, then the extra CA is trusted and SNI uses the name', async () => {
    const server = await httpsServer(calendarHandler);
    const { cert } = await testCertificate();
    const result = await fetchUrl(secretUrl(`https://localhost:${server.port}`), {
      allowHosts: new Set([`localhost:${server.port}`]),
      lookup: fixedLookup('127.0.0.1'),
      ca: cert,
    });
    assert.equal(assertOk(result).text, CALENDAR);
  });

  it('when the https certificate is not trusted, then it is unreachable without leaking the path', async () => {
    const server = await httpsServer(calendarHandler);
    const message = assertError(await fetchUrl(secretUrl(`https://127.0.0.1:${server.port}`), { allowHosts: new Set([server.key]) }), 'SOURCE_UNREACHABLE');
    assert.match(message, /127\.0\.0\.1/);
  });

  it('when given a webcal:// address of an allowed https host, then it is fetched over https', async () => {
    const server = await httpsServer(calendarHandler);
    const { cert } = await testCertificate();
    const result = await fetchUrl(`webcal://127.0.0.1:${server.port}/cal/${SECRET}/basic.ics`, { allowHosts: new Set([server.key]), ca: cert });
    const ok = assertOk(result);
    assert.equal(ok.finalUrl.protocol, 'https:');
    assert.equal(server.paths[0], `/cal/${SECRET}/basic.ics`);
  });

  for (const [what, addresses] of [
    ['a private address', ['10.0.0.1']],
    ['a public and a loopback address', ['93.184.216.34', '127.0.0.1']],
    ['an IPv4-mapped loopback address', ['::ffff:127.0.0.1']],
  ] as const) {
    it(`when a host name resolves to ${what}, then it is refused before connecting`, async () => {
      const server = await httpsServer(calendarHandler);
      const result = await fetchUrl(secretUrl(`https://calendar.example:${server.port}`), { lookup: fixedLookup(...addresses) });
      assert.match(assertError(result, 'SOURCE_BLOCKED_ADDRESS'), /calendar\.example/);
      assert.equal(server.connections, 0);
    });
  }

  it('when the system resolver maps the name to loopback (localhost), then it is refused before connecting', async () => {
    const server = await httpsServer(calendarHandler);
    assertError(await fetchUrl(secretUrl(`https://localhost:${server.port}`)), 'SOURCE_BLOCKED_ADDRESS');
    assert.equal(server.connections, 0);
  });

  it('when DNS fails, then it is unreachable', async () => {
    const lookup: HostResolver = async (hostname) => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    };
    assert.match(assertError(await fetchUrl(secretUrl('https://nowhere.example'), { lookup }), 'SOURCE_UNREACHABLE'), /ENOTFOUND/);
  });

  it('when the connection is refused, then it is unreachable', async () => {
    const port = await closedPort();
    const result = await fetchUrl(secretUrl(`http://127.0.0.1:${port}`), { allowHosts: new Set([`127.0.0.1:${port}`]) });
    assert.match(assertError(result, 'SOURCE_UNREACHABLE'), /ECONNREFUSED/);
  });

  it('when an allowed server redirects to a loopback port that is not allowed, then the redirect is refused', async () => {
    const target = await httpsServer(calendarHandler);
    const origin = await httpServer((_request, response) => {
      response.writeHead(302, { location: `https://127.0.0.1:${target.port}/cal/${SECRET}` }).end();
    });
    const result = await fetchUrl(secretUrl(`http://127.0.0.1:${origin.port}`), { allowHosts: new Set([origin.key]) });
    assertError(result, 'SOURCE_BLOCKED_ADDRESS');
    assert.equal(target.connections, 0);
  });

  it('when a redirect downgrades to http on a host that is not allowed, then it is refused as an invalid URL', async () => {
    const target = await httpServer(calendarHandler);
    const { cert } = await testCertificate();
    const origin = await httpsServer((_request, response) => {
      response.writeHead(301, { location: `http://127.0.0.1:${target.port}/cal/${SECRET}` }).end();
    });
    const result = await fetchUrl(secretUrl(`https://127.0.0.1:${origin.port}`), { allowHosts: new Set([origin.key]), ca: cert });
    assert.match(assertError(result, 'INVALID_SOURCE_URL'), /plain http/);
    assert.equal(target.connections, 0);
  });

  it('when redirects stay within the cap, then the final URL is the last hop', async () => {
    const server = await httpServer((request, response) => {
      const hop = Number(/\/hop\/(\d+)/.exec(request.url ?? '')?.[1] ?? 0);
      if (hop < 3) response.writeHead(307, { location: `/hop/${hop + 1}?token=${SECRET}` }).end();
      else calendarHandler(request, response);
    });
    const result = assertOk(await fetchUrl(`http://127.0.0.1:${server.port}/hop/0`, { allowHosts: new Set([server.key]), maxRedirects: 3 }));
    assert.equal(result.finalUrl.pathname, '/hop/3');
    assert.equal(server.requests.length, 4);
  });

  it('when a redirect chain exceeds the cap, then it stops with too many redirects', async () => {
    const server = await httpServer((request, response) => {
      response.writeHead(302, { location: `${request.url ?? '/'}x` }).end();
    });
    const result = await fetchUrl(secretUrl(`http://127.0.0.1:${server.port}`), { allowHosts: new Set([server.key]), maxRedirects: 3 });
    assertError(result, 'SOURCE_TOO_MANY_REDIRECTS');
    assert.equal(server.requests.length, 4, 'the first request and three redirects, no more');
  });

  it('when the validators still match, then 304 comes back as not_modified and both validators were sent', async () => {
    const server = await httpServer((request, response) => {
      if (request.headers['if-none-match'] === '"v1"') response.writeHead(304).end();
      else calendarHandler(request, response);
    });
    const result = await fetchUrl(secretUrl(`http://127.0.0.1:${server.port}`), {
      allowHosts: new Set([server.key]),
      etag: '"v1"',
      lastModified: 'Tue, 01 Apr 2025 10:00:00 GMT',
    });
    assert.deepEqual(result, { status: 'not_modified' });
    assert.equal(server.requests[0]?.['if-none-match'], '"v1"');
    assert.equal(server.requests[0]?.['if-modified-since'], 'Tue, 01 Apr 2025 10:00:00 GMT');
  });

  it('when Content-Length announces more than maxBytes, then it is refused without reading the body', async () => {
    const server = await httpServer((_request, response) => {
      response.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
      response.write('BEGIN:VCALENDAR\r\n');
    });
    const result = await fetchUrl(secretUrl(`http://127.0.0.1:${server.port}`), { allowHosts: new Set([server.key]), maxBytes: 1024 });
    assertError(result, 'SOURCE_TOO_LARGE');
  });

  it('when a body without Content-Length streams past maxBytes, then the download is cut off early', async () => {
    const planned = 64 * 1024 * 1024;
    let written = 0;
    let closed!: Promise<unknown>;
    const server = await httpServer((_request, response) => {
      closed = once(response, 'close');
      response.writeHead(200, { 'content-type': 'text/calendar' });
      const chunk = Buffer.alloc(16 * 1024, 'X');
      // Writes only as fast as the client reads, so `written` tracks what the client took in.
      const pump = (): void => {
        while (written < planned && !response.destroyed) {
          written += chunk.length;
          if (!response.write(chunk)) return void response.once('drain', pump);
        }
        response.end();
      };
      pump();
    });
    const result = await fetchUrl(secretUrl(`http://127.0.0.1:${server.port}`), { allowHosts: new Set([server.key]), maxBytes: 64 * 1024 });
    assertError(result, 'SOURCE_TOO_LARGE');
    await closed;
    assert.equal(server.requests[0]?.['content-length'], undefined);
    assert.ok(written < planned / 4, `the server got to write ${written} of ${planned} bytes`);
  });

  it('when the server accepts and never answers, then it times out', async () => {
    const silent = net.createServer(() => undefined);
    servers.push(silent);
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    const result = await fetchUrl(secretUrl(`http://127.0.0.1:${port}`), { allowHosts: new Set([`127.0.0.1:${port}`]), timeoutMs: 200 });
    assertError(result, 'SOURCE_TIMEOUT');
    silent.close();
  });

  for (const status of [401, 403, 404, 410, 500, 503]) {
    it(`when the server answers ${status}, then the status is in the error`, async () => {
      const server = await httpServer((_request, response) => {
        response.writeHead(status).end(`nope ${SECRET}`);
      });
      const result = await fetchUrl(secretUrl(`http://127.0.0.1:${server.port}`), { allowHosts: new Set([server.key]) });
      assert.match(assertError(result, 'SOURCE_HTTP_STATUS'), new RegExp(`\\b${status}\\b`));
    });
  }

  it('when the body is not an iCalendar file, then it is refused', async () => {
    const server = await httpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>');
    });
    assertError(await fetchUrl(secretUrl(`http://127.0.0.1:${server.port}`), { allowHosts: new Set([server.key]) }), 'SOURCE_NOT_CALENDAR');
  });

  it('when the calendar starts with a BOM and blank lines, then it is accepted and the BOM is dropped', async () => {
    const server = await httpServer((_request, response) => {
      response.writeHead(200).end(Buffer.from(`\uFEFF\r\n  ${CALENDAR}`, 'utf8'));
    });
    const result = assertOk(await fetchUrl(secretUrl(`http://127.0.0.1:${server.port}`), { allowHosts: new Set([server.key]) }));
    assert.equal(result.text, `\r\n  ${CALENDAR}`);
  });

  it('when handed a URL that normalisation refuses, then it is an invalid source URL', async () => {
    const result = await fetchIcsSource(new URL(`ftp://calendar.example/${SECRET}`), { allowHosts: new Set() });
    assertError(result, 'INVALID_SOURCE_URL');
  });
});

describe('normalizeSourceUrl', () => {
  const allowHosts = new Set(['127.0.0.1:8080', 'intranet.test:80']);
  const accepted: [string, string][] = [
    ['https://calendar.example/a.ics?x=1', 'https://calendar.example/a.ics?x=1'],
    ['webcal://Calendar.Example/a.ics?x=1', 'https://calendar.example/a.ics?x=1'],
    ['WEBCALS://calendar.example:8443/a.ics', 'https://calendar.example:8443/a.ics'],
    ['  https://calendar.example/a.ics#frag  ', 'https://calendar.example/a.ics'],
    ['http://127.0.0.1:8080/a.ics', 'http://127.0.0.1:8080/a.ics'],
    ['http://intranet.test/a.ics', 'http://intranet.test/a.ics'],
  ];
  for (const [input, expected] of accepted) {
    it(`when given ${input.trim()}, then it becomes ${expected}`, () => {
      const url = normalizeSourceUrl(input, allowHosts);
      assert.ok(url instanceof URL, JSON.stringify(url));
      assert.equal(url.href, expected);
    });
  }

  const refused: [string, string][] = [
    [`http://calendar.example/${SECRET}`, 'plain http to a host that is not allowed'],
    [`http://127.0.0.1:8081/${SECRET}`, 'plain http to another port of an allowed host'],
    [`https://user:pass@calendar.example/${SECRET}`, 'credentials'],
    [`webcal://user@calendar.example/${SECRET}`, 'a user name'],
    [`ftp://calendar.example/${SECRET}`, 'another scheme'],
    [`file:///etc/${SECRET}`, 'a file URL'],
    ['javascript:alert(1)', 'a javascript URL'],
    [`https://calendar.example/${'a'.repeat(2048)}`, 'more than 2048 characters'],
    ['not a url', 'no URL at all'],
    ['https://', 'no host'],
  ];
  for (const [input, what] of refused) {
    it(`when given ${what}, then it is refused without echoing the path`, () => {
      const result = normalizeSourceUrl(input, allowHosts);
      assert.ok(!(result instanceof URL));
      assert.equal(result.code, 'INVALID_SOURCE_URL');
      assert.ok(!result.reason.includes(SECRET), result.reason);
    });
  }
});
