// The rig of the scale tests that run real server processes on one PostgreSQL schema against a
// fake Google and a fake Graph (test/scale): the mocha hooks that start and tear down the fakes,
// the schema, a pool of the test's own and a temporary folder; the environment every child process
// shares; plain HTTP calls; the OAuth connect of a provider through the callback; and read-only
// probes of the database (leases, tokens).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import type { FakeCalendarServer } from '../fakes/fake-calendar.js';
import { startFakeGoogle, type FakeGoogle } from '../fakes/fake-google.js';
import { startFakeGraph, type FakeGraphServer } from '../fakes/fake-graph.js';
import { createSchema, dropSchema, schemaDatabaseUrl } from './postgres.js';
import { pollUntil, ServerGroup, type ServerProcess } from './processes.js';

export type Kind = 'google' | 'outlook';

/** The worker's default lease (src/sync/sync-worker.ts): a killed worker's accounts wait this long. */
export const LEASE_MS = 15_000;

export interface Reply {
  status: number;
  body: unknown;
  text: string;
  headers: Headers;
}

export const token = () => randomBytes(32).toString('base64url');

/** One HTTP request; the answer's JSON (null when there is none). */
export async function send(base: string, method: string, route: string, bearer: string | null, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (bearer !== null) headers['authorization'] = `Bearer ${bearer}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${route}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

export function expectStatus(reply: Reply, expected: readonly number[], what: string): void {
  assert.ok(expected.includes(reply.status), `${what}: HTTP ${reply.status} ${reply.text.slice(0, 600)}`);
}

/** Registers an afterEach hook that prints, when a test failed, what each server of `group` logged at warn or above and its stderr. */
export function logServersOnFailure(group: ServerGroup, options: { recordChars: number }): void {
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    // What the servers said, for the failure report: their warnings and errors, newest last (after
    // a moment for the lines still in the pipes; diagnostics only, nothing is asserted on them).
    await delay(300);
    for (const server of group.all()) {
      const records = server.warnings().slice(-5);
      if (records.length > 0) console.log(`      ${server.name} (pid ${server.pid}) logged:\n${records.map((r) => `        ${JSON.stringify(r).slice(0, options.recordChars)}`).join('\n')}`);
      if (server.stderr() !== '') console.log(`      ${server.name} stderr: ${server.stderr().slice(-2000)}`);
    }
  });
}

/** Per server, how many log records at warn or above, and their distinct messages: for the figures a test prints. */
export function warningsByServer(group: ServerGroup): string {
  return group
    .all()
    .map((p) => `${p.name} ${p.warnings().length}${p.warnings().length > 0 ? ` (${[...new Set(p.warnings().map((w) => w.msg))].join('; ')})` : ''}`)
    .join(', ');
}

export interface ScaleRig {
  /** The test database (the server processes get a schema of their own in it). */
  readonly url: string;
  readonly google: FakeGoogle;
  readonly graph: FakeGraphServer;
  readonly schema: string;
  /** The test's own connections (two), for the probes. */
  readonly pool: pg.Pool;
  readonly tempDir: string;
  readonly group: ServerGroup;
  fakeOf(kind: Kind): FakeCalendarServer;
}

/**
 * Registers the before, afterEach and after hooks of a scale test (call it in the describe body)
 * and returns the accessor of what the before hook made, for use inside the tests.
 */
export function useScaleRig(url: string, options: { tempPrefix: string }): () => ScaleRig {
  let google: FakeGoogle | undefined;
  let graph: FakeGraphServer | undefined;
  let schema: string | undefined;
  let pool: pg.Pool | undefined;
  let tempDir: string | undefined;
  const group = new ServerGroup();

  before(async function () {
    this.timeout(30_000);
    google = await startFakeGoogle();
    graph = await startFakeGraph();
    schema = await createSchema(url);
    pool = new pg.Pool({ connectionString: url, max: 2 });
    tempDir = mkdtempSync(path.join(tmpdir(), options.tempPrefix));
  });

  logServersOnFailure(group, { recordChars: 3000 });

  after(async function () {
    this.timeout(30_000);
    // Graph calls a test held are let go first, so that no child waits on one while it stops
    // (a no-op when nothing is held).
    graph?.stopHolding();
    // Children first: the schema cannot be dropped while their connections hold locks in it.
    await group.cleanup();
    await Promise.all([google?.close(), graph?.close()]);
    await pool?.end();
    if (schema !== undefined) await dropSchema(url, schema);
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
  });

  return () => {
    assert.ok(google && graph && schema && pool && tempDir, 'the before hook ran');
    const [g, m] = [google, graph];
    return { url, google: g, graph: m, schema, pool, tempDir, group, fakeOf: (kind) => (kind === 'google' ? g : m) };
  };
}

export interface ScaleServers {
  readonly adminToken: string;
  readonly platformToken: string;
  readonly publicBaseUrl: string;
  /** Starts a server process with the shared environment and ROLE=role. */
  startRole(name: string, role: 'api' | 'worker'): Promise<ServerProcess>;
}

/**
 * The configuration shared by every process of a test: the rig's schema, fresh tokens and key,
 * both fakes' OAuth and API endpoints (and `extraEnv`).
 */
export function scaleServers(rig: ScaleRig, extraEnv: Record<string, string> = {}): ScaleServers {
  const { google, graph } = rig;
  const caFile = path.join(rig.tempDir, 'fake-graph-ca.pem');
  writeFileSync(caFile, graph.caCert);
  const adminToken = token();
  const platformToken = token();
  const publicBaseUrl = 'https://sessionsync.example.test';
  const sharedEnv: Record<string, string> = {
    NODE_ENV: 'production',
    DATABASE_URL: schemaDatabaseUrl(rig.url, rig.schema),
    ADMIN_TOKEN: adminToken,
    PLATFORM_API_TOKEN: platformToken,
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    PUBLIC_BASE_URL: publicBaseUrl,
    LOG_LEVEL: 'info',
    GOOGLE_CLIENT_ID: google.clientId,
    GOOGLE_CLIENT_SECRET: google.clientSecret,
    GOOGLE_AUTH_URL: google.authUrl,
    GOOGLE_TOKEN_URL: google.tokenUrl,
    GOOGLE_API_ROOT_URL: google.apiUrl,
    MICROSOFT_CLIENT_ID: graph.clientId,
    MICROSOFT_CLIENT_SECRET: graph.clientSecret,
    MICROSOFT_TENANT: 'common',
    MICROSOFT_LOGIN_URL: graph.loginUrl,
    MICROSOFT_GRAPH_URL: graph.graphUrl,
    // The fake Graph speaks https with a certificate made by this test process.
    NODE_EXTRA_CA_CERTS: caFile,
    ...extraEnv,
  };
  return { adminToken, platformToken, publicBaseUrl, startRole: (name, role) => rig.group.start({ name, env: { ...sharedEnv, ROLE: role } }) };
}

export interface ProviderToConnect {
  /** The provider's name is "Dr. Provider <index>". */
  index: number;
  id: string;
  kind: Kind;
  calendarId: string;
  /** The URL of its default (virtual) location. */
  link: string;
}

export interface ConnectVia {
  /** A platform API call. */
  platform: (method: string, route: string, body?: unknown) => Promise<Reply>;
  /** The vendor's consent: an authorization code for the PKCE challenge and redirect_uri. */
  issueCode: (challenge: string, redirect: string) => string;
  /** GET of the OAuth callback route (no bearer), and what to call it in a failure. */
  callback: (route: string) => Promise<Reply>;
  callbackWhat: string;
  /** When given, the redirect_uri must start with it. */
  redirectPrefix?: string;
}

/** Creates a provider with a default virtual location and connects its calendar through the OAuth callback; returns the connection id. */
export async function connectProvider(provider: ProviderToConnect, via: ConnectVia): Promise<string> {
  const { id } = provider;
  expectStatus(await via.platform('PUT', `/api/v1/providers/${id}`, { name: `Dr. Provider ${provider.index}`, timezone: 'America/New_York', joinLink: 'direct' }), [201], `provider ${id}`);
  expectStatus(
    await via.platform('PUT', `/api/v1/providers/${id}/locations/video`, { kind: 'virtual', name: 'Video', url: provider.link, waitingRoom: true, isDefault: true }),
    [201],
    `location of ${id}`,
  );
  const created = await via.platform('POST', `/api/v1/providers/${id}/connections`, { kind: provider.kind, calendarId: provider.calendarId });
  expectStatus(created, [201], `connection of ${id}`);
  const body = created.body as { id: string; authorizeUrl: string };
  const authorize = new URL(body.authorizeUrl);
  const challenge = authorize.searchParams.get('code_challenge');
  const redirect = authorize.searchParams.get('redirect_uri');
  const state = authorize.searchParams.get('state');
  assert.ok(challenge && redirect && state, `authorizeUrl of ${id} carries PKCE challenge, redirect_uri and state`);
  if (via.redirectPrefix !== undefined) assert.ok(redirect.startsWith(via.redirectPrefix), `redirect_uri ${redirect}`);
  const code = via.issueCode(challenge, redirect);
  const callback = await via.callback(`${new URL(redirect).pathname}?${new URLSearchParams({ code, state })}`);
  expectStatus(callback, [200], via.callbackWhat);
  return body.id;
}

/** The listing of a provider's connections answers 200, and its (first) connection is [id, status, kind, calendarId] as expected. */
export function expectListedConnection(listed: Reply, providerId: string, expected: readonly unknown[]): void {
  expectStatus(listed, [200], `connections of ${providerId}`);
  const [connection] = (listed.body as { connections: { id: string; status: string; kind: string; calendarId: string }[] }).connections;
  assert.deepEqual(connection && [connection.id, connection.status, connection.kind, connection.calendarId], expected);
}

/** Read-only probes of the rig's schema, through the test's own pool. */
export function databaseProbes(rig: ScaleRig) {
  const { pool: db, schema: s } = rig;
  return {
    /** Every lease owner on accounts and targets (live or run out). */
    async leaseOwners(): Promise<string[]> {
      const { rows } = await db.query<{ lease_owner: string }>(
        `SELECT lease_owner FROM ${s}.connections WHERE lease_owner IS NOT NULL
         UNION SELECT lease_owner FROM ${s}.sync_targets WHERE lease_owner IS NOT NULL`,
      );
      return rows.map((r) => r.lease_owner).sort();
    },
    /** Targets `owner` has claimed and is working on now, and accounts it holds that still have work. */
    async busyLeases(owner: string): Promise<{ targets: number; accounts: number }> {
      const now = new Date().toISOString();
      const { rows } = await db.query<{ targets: string; accounts: string }>(
        `SELECT
           (SELECT count(*) FROM ${s}.sync_targets WHERE lease_owner = $1 AND lease_until > $2) AS targets,
           (SELECT count(*) FROM ${s}.connections c WHERE c.lease_owner = $1 AND c.lease_until > $2 AND EXISTS (
              SELECT 1 FROM ${s}.sync_targets t WHERE t.connection_id = c.id AND t.generation > t.synced_generation AND t.dead_at IS NULL)) AS accounts`,
        [owner, now],
      );
      return { targets: Number(rows[0]?.targets ?? 0), accounts: Number(rows[0]?.accounts ?? 0) };
    },
    /** Accounts (connections) under a live lease, by owner. */
    async accountsHeld(): Promise<Map<string, number>> {
      const { rows } = await db.query<{ lease_owner: string; n: string }>(
        `SELECT lease_owner, count(*) AS n FROM ${s}.connections WHERE lease_owner IS NOT NULL AND lease_until > $1 GROUP BY lease_owner`,
        [new Date().toISOString()],
      );
      return new Map(rows.map((r) => [r.lease_owner, Number(r.n)]));
    },
    /** Live leases on accounts and targets, by owner. */
    async leasesByOwner(): Promise<Map<string, { targets: number; accounts: number }>> {
      const { rows } = await db.query<{ lease_owner: string; targets: string; accounts: string }>(
        `SELECT lease_owner, sum(t) AS targets, sum(a) AS accounts FROM (
           SELECT lease_owner, 1 AS t, 0 AS a FROM ${s}.sync_targets WHERE lease_owner IS NOT NULL AND lease_until > $1
           UNION ALL SELECT lease_owner, 0, 1 FROM ${s}.connections WHERE lease_owner IS NOT NULL AND lease_until > $1) l
         GROUP BY lease_owner`,
        [new Date().toISOString()],
      );
      return new Map(rows.map((r) => [r.lease_owner, { targets: Number(r.targets), accounts: Number(r.accounts) }]));
    },
    /** Connections that still hold tokens (a finished cleanup forgets them; a deleted provider's rows go). */
    async connectionsWithTokens(): Promise<string[]> {
      const { rows } = await db.query<{ id: string }>(`SELECT id FROM ${s}.connections WHERE sealed_tokens IS NOT NULL ORDER BY id`);
      return rows.map((r) => r.id);
    },
  };
}

/**
 * Polls `owners` (every intervalMs, up to 30 s) until a lease owner appears, and asserts that there
 * is one: lease owners are random per process and visible only in the database, so while worker-1
 * is the only worker, the one owner that appears is its own.
 */
export async function soleLeaseOwner(owners: () => Promise<string[]>, intervalMs: number): Promise<string> {
  const first = await pollUntil(
    async () => {
      const found = await owners();
      return found.length > 0 ? found : undefined;
    },
    { timeoutMs: 30_000, intervalMs, what: 'worker-1 to lease work' },
  );
  assert.equal(first.length, 1, `one worker, one lease owner: ${first.join(', ')}`);
  return first[0]!;
}
