import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createSqliteStore, migrateSqlite } from '../../src/store/index.js';
import type { Store } from '../../src/domain/index.js';
import { aFeedToken, aProvider, aVirtualLocation } from '../support/builders.js';
import { describeStoreContract } from './store.contract.js';
import { describeSyncStoreContract } from './sync-store.contract.js';

function readMigrations(filename: string): unknown[] {
  const db = new DatabaseSync(filename, { readOnly: true });
  try {
    return db.prepare('SELECT id, name, applied_at FROM schema_migrations ORDER BY id').all();
  } finally {
    db.close();
  }
}

describe('SqliteStore', () => {
  let dir: string;
  let files = 0;
  const nextFile = (): string => join(dir, `store-${++files}.db`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sessionsync-sqlite-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describeStoreContract('sqlite :memory:', () => createSqliteStore({ filename: ':memory:' }));
  describeStoreContract('sqlite file', () => createSqliteStore({ filename: nextFile() }));
  describeSyncStoreContract('sqlite :memory:', () => createSqliteStore({ filename: ':memory:' }));
  describeSyncStoreContract('sqlite file', () => createSqliteStore({ filename: nextFile() }));

  describe('migrations', () => {
    it('when a file database is reopened, then its data is still there and no migration runs again', async () => {
      const filename = nextFile();
      const first = await createSqliteStore({ filename });
      await first.transaction((tx) => tx.putProvider(aProvider()));
      await first.close();
      const appliedBefore = readMigrations(filename);

      const reopened = await createSqliteStore({ filename });
      try {
        assert.deepStrictEqual(await reopened.getProvider('prov-1'), aProvider());
      } finally {
        await reopened.close();
      }

      assert.ok(appliedBefore.length > 0);
      assert.deepStrictEqual(readMigrations(filename), appliedBefore);
    });

    it('when migrations run twice, then the second run applies nothing and leaves the schema as it was', () => {
      const db = new DatabaseSync(':memory:');
      try {
        const schema = (): unknown[] => db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all();

        const firstRun = migrateSqlite(db);
        const schemaAfterFirst = schema();
        const secondRun = migrateSqlite(db);

        assert.ok(firstRun.length > 0);
        assert.deepStrictEqual(firstRun, [...firstRun].sort((a, b) => a - b));
        assert.deepStrictEqual(secondRun, []);
        assert.deepStrictEqual(schema(), schemaAfterFirst);
        assert.equal(db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get()?.n, firstRun.length);
      } finally {
        db.close();
      }
    });

    it('when migrate is false and the database is not migrated, then opening rejects and names the fix', async () => {
      await assert.rejects(createSqliteStore({ filename: nextFile(), migrate: false }), /npm run migrate/);
    });

    it('when migrate is false and the database is migrated, then the store opens', async () => {
      const filename = nextFile();
      await (await createSqliteStore({ filename })).close();

      const store = await createSqliteStore({ filename, migrate: false });
      try {
        await store.ping();
      } finally {
        await store.close();
      }
    });

    it('when the database holds a migration this build does not know, then opening rejects', async () => {
      const filename = nextFile();
      await (await createSqliteStore({ filename })).close();
      const db = new DatabaseSync(filename);
      db.prepare("INSERT INTO schema_migrations (id, name, applied_at) VALUES (999, 'from the future', '2030-01-01T00:00:00.000Z')").run();
      db.close();

      await assert.rejects(createSqliteStore({ filename }), /999/);
    });
  });

  describe('connection', () => {
    it('when a file database is opened, then it is in WAL mode', async () => {
      const filename = nextFile();
      await (await createSqliteStore({ filename })).close();

      const db = new DatabaseSync(filename, { readOnly: true });
      try {
        assert.equal(db.prepare('PRAGMA journal_mode').get()?.journal_mode, 'wal');
      } finally {
        db.close();
      }
    });

    /** Two stores on one file, holding prov-1 and its feed-1 (token hash 1...1). */
    const onOneFile = async (fn: (here: Store, there: Store) => Promise<void>) => {
      const filename = nextFile();
      const here = await createSqliteStore({ filename });
      const there = await createSqliteStore({ filename });
      try {
        await here.transaction(async (tx) => {
          await tx.putProvider(aProvider());
          await tx.putFeed(aFeedToken({ tokenHash: '1'.repeat(64) }));
        });
        await fn(here, there);
      } finally {
        await there.close();
        await here.close();
      }
    };

    it('when another connection to the same file revokes a feed, then this store\'s feedLookupEpoch changes and the feed stops resolving', () =>
      onOneFile(async (here, there) => {
        const before = here.feedLookupEpoch();
        assert.equal(typeof before, 'number');
        assert.equal(here.feedLookupEpoch(), before, 'unchanged while nothing commits');

        await there.transaction((tx) => tx.revokeFeed('prov-1', 'feed-1', '2026-11-03T09:30:00.000Z'));

        assert.notEqual(here.feedLookupEpoch(), before);
        assert.equal(await here.findFeedRevision('1'.repeat(64)), null);
      }));

    it('when a feed revision is bumped or a provider written, then feedLookupEpoch moves and feedTokenEpoch stays; another connection\'s commit moves both', () =>
      onOneFile(async (here, there) => {
        const lookup = here.feedLookupEpoch();
        const token = here.feedTokenEpoch();
        await here.transaction((tx) => tx.bumpFeedRevision('prov-1', '2026-11-03T09:30:00.000Z'));
        await here.transaction((tx) => tx.putProvider(aProvider({ name: 'Dr. Renamed' })));
        assert.notEqual(here.feedLookupEpoch(), lookup);
        assert.equal(here.feedTokenEpoch(), token, 'the token still names the same feed');

        // Another process could have revoked anything: this one cannot tell what it wrote.
        await there.transaction((tx) => tx.bumpFeedRevision('prov-1', '2026-11-03T09:31:00.000Z'));
        assert.notEqual(here.feedTokenEpoch(), token);
      }));

    it('when a row names a provider that does not exist, then the write rejects (foreign keys are on)', async () => {
      const store = await createSqliteStore({ filename: ':memory:' });
      try {
        await assert.rejects(store.transaction((tx) => tx.putLocation(aVirtualLocation({ providerId: 'prov-404' }))), /FOREIGN KEY/);
      } finally {
        await store.close();
      }
    });

    it('when fn calls the store instead of its tx, then those calls reject instead of deadlocking', async () => {
      const store = await createSqliteStore({ filename: ':memory:' });
      try {
        await store.transaction(async (tx) => {
          await assert.rejects(store.getProvider('prov-1'), /use the tx/);
          await assert.rejects(store.transaction(async () => undefined), /use the tx/);
          await assert.rejects(store.recordFeedFetch('feed-1', '2026-11-02T15:00:00.000Z', null), /use the tx/);
          await tx.putProvider(aProvider());
        });

        assert.deepStrictEqual(await store.getProvider('prov-1'), aProvider());
      } finally {
        await store.close();
      }
    });

    it('when the store is closed, then later calls reject and closing again resolves', async () => {
      const store = await createSqliteStore({ filename: ':memory:' });
      await store.close();

      await assert.rejects(store.getProvider('prov-1'));
      await assert.rejects(store.ping());
      await store.close();
    });
  });
});
