import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { migratePostgres, migrateSqlite, migrations } from '../../src/store/index.js';
import { createSchema, describePostgres, dropSchema } from '../support/postgres.js';

/** "table.column NULL|NOT NULL", sorted: what both dialects must agree on. */
type Shape = { columns: string[]; indexes: string[] };

function sqliteShape(db: DatabaseSync): Shape {
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .all()
    .map((row) => String(row.name));
  const columns = tables.flatMap((table) =>
    db
      .prepare(`SELECT name, "notnull" AS nn FROM pragma_table_info(?)`)
      .all(table)
      .map((c) => `${table}.${String(c.name)} ${c.nn === 1 ? 'NOT NULL' : 'NULL'}`),
  );
  const indexes = db
    .prepare("SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'")
    .all()
    .map((row) => `${String(row.tbl_name)}.${String(row.name)}`);
  return { columns: columns.sort(), indexes: indexes.sort() };
}

async function postgresShape(url: string, schema: string): Promise<Shape> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const columns = await client.query<{ table_name: string; column_name: string; is_nullable: string }>(
      'SELECT table_name, column_name, is_nullable FROM information_schema.columns WHERE table_schema = $1',
      [schema],
    );
    // Primary keys and UNIQUE constraints make indexes of their own, as SQLite's autoindexes.
    const indexes = await client.query<{ tablename: string; indexname: string }>(
      `SELECT i.tablename, i.indexname FROM pg_indexes i
       WHERE i.schemaname = $1 AND NOT EXISTS (
         SELECT 1 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conindid
         WHERE c.relname = i.indexname AND k.contype IN ('p', 'u'))`,
      [schema],
    );
    const textColumns = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM information_schema.columns
       WHERE table_schema = $1 AND data_type = 'text' AND collation_name IS DISTINCT FROM 'C'`,
      [schema],
    );
    assert.equal(Number(textColumns.rows[0]?.n), 0, 'every text column is COLLATE "C"');
    return {
      columns: columns.rows.map((c) => `${c.table_name}.${c.column_name} ${c.is_nullable === 'YES' ? 'NULL' : 'NOT NULL'}`).sort(),
      indexes: indexes.rows.map((i) => `${i.tablename}.${i.indexname}`).sort(),
    };
  } finally {
    await client.end();
  }
}

// A provider with a connection, a source reading it and an ICS source, each with an interval.
// Connections are never deleted through the Store port (only by their provider's cascade), so the
// schema's own cascade is checked here, in SQL.
const BUSY_SEED = [
  `INSERT INTO providers (id, name, timezone, privacy_mode, privacy_baa_attested, created_at, updated_at)
   VALUES ('p1', 'Dr. A', 'UTC', 'none', FALSE, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`,
  `INSERT INTO connections (id, provider_id, kind, calendar_id, status, created_at, updated_at)
   VALUES ('c1', 'p1', 'google', 'primary', 'active', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`,
  ...[
    ['s-conn', 'connection', 'NULL', 'NULL', "'c1'"],
    ['s-ics', 'ics', "'sealed'", "'example.org'", 'NULL'],
  ].flatMap(([id, kind, url, host, connection]) => [
    `INSERT INTO busy_sources (provider_id, id, kind, url_sealed, url_host, connection_id, status, interval_count, next_fetch_at, created_at, updated_at)
     VALUES ('p1', '${id}', '${kind}', ${url}, ${host}, ${connection}, 'ok', 1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`,
    `INSERT INTO busy_intervals (provider_id, source_id, start_at, end_at) VALUES ('p1', '${id}', '2026-01-02T10:00:00.000Z', '2026-01-02T11:00:00.000Z')`,
  ]),
];
const DELETE_CONNECTION = "DELETE FROM connections WHERE id = 'c1'";
const BUSY_LEFT = "SELECT (SELECT string_agg(id, ',') FROM busy_sources) AS sources, (SELECT string_agg(source_id, ',') FROM busy_intervals) AS intervals";
const BUSY_LEFT_SQLITE = BUSY_LEFT.replaceAll('string_agg', 'group_concat');
const AFTER_CONNECTION_DELETED = { sources: 's-ics', intervals: 's-ics' };

describe('migrations', () => {
  it('when a connection is deleted (SQLite), then its busy source and that source\'s intervals go with it and an ICS source stays', () => {
    const db = new DatabaseSync(':memory:');
    try {
      db.exec('PRAGMA foreign_keys = ON');
      migrateSqlite(db);
      for (const statement of BUSY_SEED) db.exec(statement);
      db.exec(DELETE_CONNECTION);
      assert.deepEqual({ ...db.prepare(BUSY_LEFT_SQLITE).get() }, AFTER_CONNECTION_DELETED);
    } finally {
      db.close();
    }
  });

  it('when the list is read, then ids increase and every entry has DDL for both dialects', () => {
    migrations.forEach((m, i) => {
      assert.ok(i === 0 || m.id > (migrations[i - 1]?.id ?? 0), `${m.id} in order`);
      assert.match(m.sqlite, /\S/);
      assert.match(m.postgres, /\S/);
    });
  });

  describePostgres('on both dialects', (url) => {
    let schema: string;
    beforeEach(async () => {
      schema = await createSchema(url);
    });
    afterEach(() => dropSchema(url, schema));

    const poolFor = () => new pg.Pool({ connectionString: url, max: 2, options: `-c search_path=${schema}` });

    it('when both are migrated, then they have the same tables, columns, nullability and indexes', async () => {
      const db = new DatabaseSync(':memory:');
      migrateSqlite(db);
      const sqlite = sqliteShape(db);
      db.close();

      const pool = poolFor();
      try {
        await migratePostgres(pool);
      } finally {
        await pool.end();
      }
      const postgres = await postgresShape(url, schema);
      assert.ok(sqlite.columns.length > 50, `${sqlite.columns.length} columns`);
      assert.deepEqual(postgres.columns, sqlite.columns);
      assert.deepEqual(postgres.indexes, sqlite.indexes);
    });

    it('when a connection is deleted (PostgreSQL), then its busy source and that source\'s intervals go with it and an ICS source stays', async () => {
      const pool = poolFor();
      try {
        await migratePostgres(pool);
        for (const statement of BUSY_SEED) await pool.query(statement);
        await pool.query(DELETE_CONNECTION);
        assert.deepEqual((await pool.query(BUSY_LEFT)).rows[0], AFTER_CONNECTION_DELETED);
      } finally {
        await pool.end();
      }
    });

    it('when four processes migrate one PostgreSQL database at once, then each migration is applied exactly once', async () => {
      const pools = Array.from({ length: 4 }, poolFor);
      try {
        const runs = await Promise.all(pools.map((pool) => migratePostgres(pool)));
        assert.deepEqual(runs.flat().sort((a, b) => a - b), migrations.map((m) => m.id));
        assert.deepEqual(await migratePostgres(pools[0]!), []);
      } finally {
        await Promise.all(pools.map((pool) => pool.end()));
      }
    });
  });
});
