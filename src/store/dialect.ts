// Everything the store writes differently for SQLite and PostgreSQL, and nothing else: the SQL of
// both lives once in kysely-store.ts, with these fragments where the two databases disagree.
import { sql, type RawBuilder } from 'kysely';
import type { WorkKind } from '../domain/index.js';

/**
 * The PostgreSQL channel work signals travel on (the payload is the WorkKind): one per schema, so
 * that deployments sharing a database in separate schemas never wake each other.
 */
export function workChannel(schema: string | undefined): string {
  // LISTEN takes an identifier: keep the schema's plain characters, within 63 bytes.
  const safe = (schema ?? '').replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40);
  return safe === '' ? 'sessionsync_work' : `sessionsync_work_${safe}`;
}

/** The PostgreSQL channel of feed changes (feed-fence.ts), per schema as workChannel; its acks add "_ack". */
export function feedChannel(schema: string | undefined): string {
  const safe = (schema ?? '').replace(/[^A-Za-z0-9_]/g, '_').slice(0, 30);
  return safe === '' ? 'sessionsync_feeds' : `sessionsync_feeds_${safe}`;
}

export type DialectName = 'sqlite' | 'postgres';

export interface StoreDialect {
  readonly name: DialectName;
  /** Two-argument maximum and minimum: SQLite's scalar MAX/MIN, PostgreSQL's GREATEST/LEAST. */
  greatest<T>(a: RawBuilder<T>, b: RawBuilder<T>): RawBuilder<T>;
  least<T>(a: RawBuilder<T>, b: RawBuilder<T>): RawBuilder<T>;
  /** A derived table `(...) AS <alias>` with one text column `value`, one row per string. */
  textValues(values: readonly string[], alias: string): RawBuilder<unknown>;
  /** A new random UUID (v4) as text, per row of a set-based INSERT ... SELECT. */
  newUuid(): RawBuilder<string>;
  /**
   * How a claim's subquery joins the targets to their connections: SQLite's CROSS JOIN fixes the
   * join order (walk the partial index of pending rows in due order and stop at the limit).
   */
  readonly claimJoin: RawBuilder<unknown>;
  /**
   * Row locking for claims: concurrent claimers on PostgreSQL skip each other's rows instead of
   * waiting; SQLite has one writer at a time, so nothing is needed there.
   */
  skipLocked(alias: string): RawBuilder<unknown>;
  /**
   * A statement that tells other processes, when the transaction it runs in commits, that work of
   * this kind was queued; null where the store is one process's alone (SQLite).
   */
  notifyWork(kind: WorkKind): RawBuilder<unknown> | null;
  /**
   * A statement that holds `key` until the transaction ends, serialising the transactions that take
   * the same key; null where transactions are serial anyway (SQLite's BEGIN IMMEDIATE).
   */
  lock(key: string): RawBuilder<unknown> | null;
}

export const sqliteDialect: StoreDialect = {
  name: 'sqlite',
  greatest: (a, b) => sql`MAX(${a}, ${b})`,
  least: (a, b) => sql`MIN(${a}, ${b})`,
  textValues: (values, alias) => sql`(SELECT value FROM json_each(${JSON.stringify(values)})) AS ${sql.ref(alias)}`,
  // RFC 4122 v4 from randomblob: version nibble 4, variant nibble one of 8, 9, a, b.
  newUuid: () =>
    sql<string>`(lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2)
      || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2)
      || '-' || lower(hex(randomblob(6))))`,
  claimJoin: sql`CROSS JOIN`,
  skipLocked: () => sql``,
  notifyWork: () => null,
  lock: () => null,
};

export const postgresDialect = (channel: string): StoreDialect => ({
  name: 'postgres',
  greatest: (a, b) => sql`GREATEST(${a}, ${b})`,
  least: (a, b) => sql`LEAST(${a}, ${b})`,
  textValues: (values, alias) => sql`(SELECT unnest(${[...values]}::text[]) AS value) AS ${sql.ref(alias)}`,
  newUuid: () => sql<string>`gen_random_uuid()::text`,
  claimJoin: sql`JOIN`,
  skipLocked: (alias) => sql`FOR UPDATE OF ${sql.ref(alias)} SKIP LOCKED`,
  notifyWork: (kind) => sql`SELECT pg_notify(${channel}, ${kind})`,
  // A 64-bit hash of the key: collisions only serialise two unrelated transactions a little.
  lock: (key) => sql`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`,
});
