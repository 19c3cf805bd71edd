import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { createSchema, describePostgres, dropSchema, schemaDatabaseUrl } from '../support/postgres.js';
import { ServerGroup, type ServerProcess } from '../support/processes.js';

// The portal and the console on two API processes of the real server on one PostgreSQL schema:
// web sessions and portal links live in the database, so a link issued by one process opens a
// session on the other, that session works on both, a link is spent once for all of them, and a
// sign-out on one holds on the other at once.

const BASE = 'https://sessionsync.example.test';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

describePostgres('portal and console across two API processes (PostgreSQL)', (url) => {
  const group = new ServerGroup();
  const platformToken = randomBytes(32).toString('base64url');
  const adminToken = randomBytes(32).toString('base64url');
  let schema: string | undefined;
  let a: ServerProcess;
  let b: ServerProcess;

  function send(server: ServerProcess, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: server.port, method, path, headers: { ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const post = (server: ServerProcess, path: string, cookie: string, fields: Record<string, string>) =>
    send(server, 'POST', path, { cookie, origin: BASE, 'content-type': 'application/x-www-form-urlencoded' }, form(fields));
  /** The name=value of a Set-Cookie header. */
  function cookieOf(reply: Reply, name: string): string {
    const found = (reply.headers['set-cookie'] ?? []).map((c) => c.split(';')[0] ?? '').find((c) => c.startsWith(`${name}=`));
    assert.ok(found, `${name} was set: ${JSON.stringify(reply.headers['set-cookie'])}`);
    return found;
  }
  const csrfIn = (page: string) => /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? assert.fail('a CSRF field on the page');

  before(async function () {
    this.timeout(60_000);
    schema = await createSchema(url);
    const env: Record<string, string> = {
      NODE_ENV: 'production',
      ROLE: 'api',
      DATABASE_URL: schemaDatabaseUrl(url, schema),
      ADMIN_TOKEN: adminToken,
      PLATFORM_API_TOKEN: platformToken,
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      PUBLIC_BASE_URL: BASE,
      LOG_LEVEL: 'info',
    };
    [a, b] = await Promise.all([group.start({ name: 'web-a', env }), group.start({ name: 'web-b', env })]);
    const json = { authorization: `Bearer ${platformToken}`, 'content-type': 'application/json' };
    assert.equal((await send(a, 'PUT', '/api/v1/providers/p1', json, JSON.stringify({ name: 'Dr. Ada Byron', timezone: 'America/New_York' }))).status, 201);
    assert.equal((await send(a, 'PUT', '/api/v1/providers/p1/locations/video', json, JSON.stringify({ kind: 'virtual', url: 'https://doxy.me/ada', waitingRoom: true, isDefault: true }))).status, 201);
  });

  after(async function () {
    this.timeout(30_000);
    await group.cleanup();
    if (schema !== undefined) await dropSchema(url, schema);
  });

  it('when a link issued by one process is opened on the other, then the session works on both, the link is spent for both, and a sign-out on one holds on the other', async () => {
    const issued = await send(a, 'POST', '/api/v1/providers/p1/portal-links', { authorization: `Bearer ${platformToken}` });
    assert.equal(issued.status, 201, issued.text);
    const link = new URL(String((JSON.parse(issued.text) as { url: string }).url));
    assert.equal(link.origin, BASE);

    const entered = await send(b, 'GET', `${link.pathname}${link.search}`);
    assert.equal(entered.status, 303, entered.text);
    const cookie = cookieOf(entered, 'ss_session');
    assert.equal((await send(a, 'GET', `${link.pathname}${link.search}`)).status, 410, 'spent on the other process too');

    const page = await send(a, 'GET', '/portal/locations', { cookie });
    assert.equal(page.status, 200);
    const saved = await post(a, '/portal/locations', cookie, { _csrf: csrfIn(page.text), url: 'https://doxy.me/ada-new', instructions: 'Join early.', waitingRoom: 'on' });
    assert.ok(saved.status < 400, `saved on A: ${saved.status}`);
    const location = await send(b, 'GET', '/api/v1/providers/p1/locations', { authorization: `Bearer ${platformToken}` });
    assert.ok(location.text.includes('https://doxy.me/ada-new'), 'B reads what the portal wrote through A');

    const onB = await send(b, 'GET', '/portal', { cookie });
    assert.equal(onB.status, 200);
    assert.ok((await post(b, '/portal/sign-out', cookie, { _csrf: csrfIn(onB.text) })).status < 400);
    const after = await send(a, 'GET', '/portal', { cookie });
    assert.notEqual(after.status, 200, 'signed out on B, refused on A at once');
  });

  it('when an admin signs in on one process, then the console opens on the other', async () => {
    const form1 = await send(a, 'GET', '/admin/sign-in');
    const signIn = cookieOf(form1, 'ss_signin');
    const signed = await post(a, '/admin/sign-in', signIn, { _csrf: csrfIn(form1.text), token: adminToken });
    assert.equal(signed.status, 303, signed.text.slice(0, 300));
    const cookie = cookieOf(signed, 'ss_session');
    const health = await send(b, 'GET', '/admin', { cookie });
    assert.equal(health.status, 200);
    assert.ok(!health.text.includes(adminToken));
  });
});
