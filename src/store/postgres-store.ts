// The Store on PostgreSQL (pg), for many API and worker processes on one database.
// Transactions run READ COMMITTED, and the services lock what they read-check-write (a provider,
// a connection) with transaction-scoped advisory locks first: that keeps the overlap guard and
// the single-use OAuth state race-free across processes. SERIALIZABLE did so without locks, but
// its page-granular predicate locks made writes of unrelated providers conflict on a small table
// (5-9% of session PUTs at 16 in flight still failed after 6 attempts). A deadlock or
// serialization failure (40P01, 40001) is retried a bounded number of times, so a transaction's fn
// may run more than once and must do nothing but database work.
import { setTimeout as delay } from 'node:timers/promises';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { AppError, ErrorCode } from '../domain/index.js';
import type { Store } from '../domain/index.js';
import { feedChannel, postgresDialect, workChannel } from './dialect.js';
import { FeedFence } from './feed-fence.js';
import { KyselyStore, type TransactionRunner, type WorkListener } from './kysely-store.js';
import { migratePostgres, pendingPostgresMigrations } from './migrate.js';
import type { Database } from './rows.js';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Apply pending migrations on open (default true); when false, pending ones make open fail. */
  migrate?: boolean;
  /** Connections in this process's pool (default 10). */
  poolSize?: number;
  /** Schema to work in (default: the server's search_path, normally "public"); tests use one each. */
  schema?: string;
  /** application_name of every connection (default "sessionsync"), as pg_stat_activity shows it. */
  applicationName?: string;
  /** How long a feed listener's lease lasts (feed-fence.ts; default 2000 ms). */
  feedLeaseMs?: number;
  /** Told when the feed fence's connection fails: meanwhile every poll asks the database. */
  onFeedFenceError?: (err: unknown) => void;
}

/** Attempts of one transaction before a serialization failure reaches the caller. */
export const MAX_TRANSACTION_ATTEMPTS = 6;
const RETRYABLE = new Set(['40001', '40P01']);

export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const applicationName = options.applicationName ?? 'sessionsync';
  const connection: pg.ClientConfig = {
    connectionString: options.url,
    application_name: applicationName,
    ...(options.schema !== undefined ? { options: `-c search_path=${quoteIdentifier(options.schema)}` } : {}),
  };
  const pool = new pg.Pool({ ...connection, max: options.poolSize ?? 10 });
  // A client whose server went away emits 'error': on the pool while idle, on the client itself
  // while checked out between two statements of a transaction. Unhandled, either would end the
  // process; handled, the transaction's next statement fails (503) and the pool drops the client.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  try {
    if (options.migrate ?? true) {
      await migratePostgres(pool);
    } else {
      const pending = await pendingPostgresMigrations(pool);
      if (pending.length > 0) {
        throw new Error(`The database needs migrations ${pending.join(', ')}; run "npm run migrate" first.`);
      }
    }
  } catch (error) {
    await pool.end();
    throw error;
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  // The schema the connections really work in, however it was chosen (option, DATABASE_URL's
  // options=-c search_path=..., the role's default): deployments in different schemas of one
  // database then never wake each other.
  const schema = options.schema ?? (await pool.query<{ schema: string }>('SELECT current_schema() AS schema')).rows[0]?.schema;
  const channel = workChannel(schema);
  return new KyselyStore({
    db,
    dialect: postgresDialect(channel),
    transaction: withRetry,
    listen: listenForWork(options.url, channel, applicationName),
    isUnavailable,
    feedFence: new FeedFence({ client: { ...connection, application_name: `${applicationName}/feed-fence` }, pool, channel: feedChannel(schema), ...(options.feedLeaseMs === undefined ? {} : { leaseMs: options.feedLeaseMs }), ...(options.onFeedFenceError === undefined ? {} : { onError: options.onFeedFenceError }) }),
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
  });
}

/** Reconnect delays after the LISTEN connection is lost: quick at first, then at most 5 s. */
const RECONNECT_MS = [100, 250, 500, 1000, 2000, 5000];

/**
 * LISTEN on a dedicated connection (a pooled one would be handed to queries and lose it), which
 * reconnects by itself. Notifications sent while it was away are lost, so after every reconnect
 * each kind is signalled once and the runners look for work.
 */
function listenForWork(url: string, channel: string, applicationName: string): WorkListener {
  return (signal) => {
    let stopped = false;
    let client: pg.Client | null = null;
    let timer: NodeJS.Timeout | undefined;
    let failures = 0;

    const reconnectLater = () => {
      if (stopped || timer !== undefined) return;
      const wait = RECONNECT_MS[Math.min(failures, RECONNECT_MS.length - 1)] ?? 5000;
      failures += 1;
      timer = setTimeout(() => {
        timer = undefined;
        void connect();
      }, wait);
      timer.unref();
    };

    const connect = async () => {
      const next = new pg.Client({ connectionString: url, application_name: applicationName });
      next.on('error', () => {
        void next.end().catch(() => undefined);
        if (client === next) client = null;
        reconnectLater();
      });
      next.on('end', () => {
        if (client === next) client = null;
        reconnectLater();
      });
      next.on('notification', (message) => {
        if (message.channel === channel && (message.payload === 'sync' || message.payload === 'jobs')) signal(message.payload);
      });
      try {
        await next.connect();
        // The channel name is ours (letters, digits and _ only), so quoting it is enough.
        await next.query(`LISTEN "${channel}"`);
        if (stopped) {
          await next.end();
          return;
        }
        client = next;
        if (failures > 0) {
          signal('sync');
          signal('jobs');
        }
        failures = 0;
      } catch {
        await next.end().catch(() => undefined);
        reconnectLater();
      }
    };

    void connect();
    return async () => {
      stopped = true;
      clearTimeout(timer);
      await client?.end().catch(() => undefined);
      client = null;
    };
  };
}

const withRetry: TransactionRunner = async (db, fn) => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(fn);
    } catch (error) {
      if (!RETRYABLE.has(pgCode(error))) throw error;
      if (attempt >= MAX_TRANSACTION_ATTEMPTS) {
        // Still colliding after every retry: the caller may try again, so 503 rather than 500.
        throw new AppError({ code: ErrorCode.SERVICE_UNAVAILABLE, status: 503, message: 'The database is busy; try again shortly.', cause: error, retryable: true });
      }
      // Jittered, growing pause so that the transactions that collided do not collide again.
      await delay(Math.random() * 5 * 2 ** attempt);
    }
  }
};

// The database went away (restart, failover, a terminated backend, no route): the request may be
// retried, so callers answer 503 rather than 500. SQLSTATE class 08 is connection exceptions; 57P01-3
// are administrator and crash shutdowns; the node codes are sockets that failed.
const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

function isUnavailable(error: unknown): boolean {
  const code = pgCode(error);
  if (UNAVAILABLE_CODES.has(code) || code.startsWith('08')) return true;
  // pg rejects the queries of a connection that closed under them with these plain Errors.
  const message = error instanceof Error ? error.message : '';
  return /^Connection terminated|^Client has encountered a connection error|timeout exceeded when trying to connect/.test(message);
}

function pgCode(error: unknown): string {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : '';
}

function quoteIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) throw new Error(`Not a plain schema name: ${name}`);
  return name;
}
