// node:sqlite (DatabaseSync) behind Kysely's built-in SqliteDialect, which expects the
// better-sqlite3 interface. Node's driver is built in (no native addon to compile), but its
// statements lack `reader`, take parameters spread rather than as an array, and take no booleans.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** Opens (creating its folder) a database file, or ':memory:', with the pragmas the store relies on. */
export function openSqliteDatabase(filename: string): DatabaseSync {
  const inMemory = filename === ':memory:' || filename === '';
  // The default lives under ./data, which a fresh checkout does not have yet.
  if (!inMemory) mkdirSync(dirname(filename), { recursive: true });
  const db = new DatabaseSync(filename);
  // WAL lets a second process (npm run migrate, a backup) read while we write; it does not
  // apply to in-memory or temporary databases (location() is null for both), which would
  // report "memory" or keep their rollback journal anyway.
  if (db.location() !== null) db.exec('PRAGMA journal_mode = WAL');
  // NORMAL is durable across application crashes in WAL mode; only an OS crash may lose the
  // last commits, which the external calendars' next resync repairs.
  db.exec('PRAGMA synchronous = NORMAL');
  // node:sqlite turns this on (its enableForeignKeyConstraints option defaults to true), but
  // SQLite's own default is off (per connection), and without it ON DELETE CASCADE silently does
  // nothing: say it rather than rely on the driver's default.
  db.exec('PRAGMA foreign_keys = ON');
  db.exec('PRAGMA busy_timeout = 5000');
  return db;
}

/** Most distinct statements the store prepares: its queries plus one per session filter mix. */
const MAX_CACHED_STATEMENTS = 500;

/** The better-sqlite3 shape Kysely's SqliteDialect drives, over one DatabaseSync. */
export function kyselySqliteDatabase(db: DatabaseSync): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare: (sql) => {
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = wrap(db.prepare(toSqliteSql(sql)));
        if (statements.size >= MAX_CACHED_STATEMENTS) statements.clear();
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

// Kysely opens every transaction with a plain BEGIN (DEFERRED): a read-check-write in it could be
// beaten by another process between its read and its write and fail late with SQLITE_BUSY.
// IMMEDIATE takes the write lock up front.
function toSqliteSql(sql: string): string {
  return sql.trim().toLowerCase() === 'begin' ? 'BEGIN IMMEDIATE' : sql;
}

function wrap(statement: StatementSync): SqliteStatement {
  // A statement that yields columns is a query (SELECT, or a write with RETURNING).
  const reader = statement.columns().length > 0;
  return {
    reader,
    all: (parameters) => statement.all(...toSqliteValues(parameters)),
    run: (parameters) => {
      const { changes, lastInsertRowid } = statement.run(...toSqliteValues(parameters));
      return { changes, lastInsertRowid };
    },
    iterate: (parameters) => statement.iterate(...toSqliteValues(parameters)),
  };
}

function toSqliteValues(parameters: readonly unknown[]): SQLInputValue[] {
  return parameters.map((value) => {
    if (typeof value === 'boolean') return value ? 1 : 0;
    if (value === undefined) return null;
    return value as SQLInputValue;
  });
}
