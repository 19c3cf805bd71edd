// PostgreSQL for the tests: TEST_DATABASE_URL names a throw-away database (.ci/run makes one per
// run); every store gets a schema of its own, dropped when the store closes, so suites and tests
// never see each other's rows.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import type { Store } from '../../src/domain/index.js';
import { createPostgresStore, type PostgresStoreOptions } from '../../src/store/index.js';

export const TEST_DATABASE_URL = process.env['TEST_DATABASE_URL'];

let announced = false;

/** describe() when PostgreSQL is configured; otherwise one printed line and a skipped suite. */
export function describePostgres(title: string, body: (url: string) => void): void {
  const url = TEST_DATABASE_URL;
  if (url === undefined || url === '') {
    if (!announced) {
      console.log('  PostgreSQL tests skipped: TEST_DATABASE_URL is not set (.ci/run sets it).');
      announced = true;
    }
    describe.skip(title, () => undefined);
    return;
  }
  describe(title, () => body(url));
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh schema name, created in the database. */
export async function createSchema(url: string): Promise<string> {
  const schema = `test_${randomBytes(8).toString('hex')}`;
  await withClient(url, (c) => c.query(`CREATE SCHEMA ${schema}`));
  return schema;
}

/**
 * The DATABASE_URL a server process gets to work in `schema`: the server reads only DATABASE_URL,
 * so libpq's `options` parameter selects the schema.
 */
export function schemaDatabaseUrl(url: string, schema: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  await withClient(url, (c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
}

/** A migrated PostgreSQL store in a schema of its own (or the one given), which its close() drops. */
export async function createTestPostgresStore(url: string, options: Partial<PostgresStoreOptions> = {}): Promise<Store> {
  // A store given a schema shares it with another (two "processes" on one database); the store
  // that made the schema drops it.
  const owned = options.schema === undefined;
  const schema = options.schema ?? (await createSchema(url));
  // application_name = the schema lets a test cut exactly its own connections.
  const store = await createPostgresStore({ url, schema, poolSize: 4, applicationName: schema, ...options });
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= store.close().then(() => (owned ? dropSchema(url, schema) : undefined)));
  // The store keeps private fields, so its methods are bound to it rather than copied.
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'close') return close;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** `count` stores on one schema, as `count` processes on one database; the first drops it. */
export async function createSharedPostgresStores(url: string, count: number): Promise<Store[]> {
  const schema = await createSchema(url);
  const stores: Store[] = [];
  for (let i = 0; i < count; i++) {
    const store = await createTestPostgresStore(url, { schema });
    stores.push(store);
  }
  let closing: Promise<void> | undefined;
  const [first, ...rest] = stores;
  if (first === undefined) return stores;
  // Closing the first closes all and drops the schema after the last pool has ended.
  const closeAll = () => (closing ??= Promise.all(rest.map((s) => s.close())).then(() => first.close().then(() => dropSchema(url, schema))));
  return [new Proxy(first, { get: (target, prop) => (prop === 'close' ? closeAll : (Reflect.get(target, prop, target) as unknown)) }), ...rest];
}

/** Terminates every backend of stores made on `schema` (their application_name), as a restart would. */
export async function terminateBackends(url: string, schema: string): Promise<number> {
  return withClient(url, async (c) => {
    const result = await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()', [schema]);
    return result.rowCount ?? 0;
  });
}

export interface TcpProxy {
  /** postgres:// URL of `url`'s database, reached through the proxy. */
  url: string;
  /** The database "goes down": every connection is cut and new ones are refused. */
  cut(): Promise<void>;
  /** The database is back on the same address. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** A TCP proxy in front of the PostgreSQL server of `url`, to take it away and bring it back. */
export async function startTcpProxy(url: string): Promise<TcpProxy> {
  const target = new URL(url);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(port);
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  return { url: proxied.toString(), cut: stop, restore: () => listen(port), close: stop };
}
