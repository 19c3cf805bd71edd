// Key rotation end to end on every database: values sealed under an old key are sealed again
// under the new first key by `npm run rotate-keys` (its exported function, and once the real script
// as a child process), then open with the new key alone; a value written meanwhile is kept; what
// no key opens is counted and left; and no join link changes, before, during or after.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createCipheriv, hkdfSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { rotateKeys } from '../../scripts/rotate-keys.js';
import { joinLinksFor } from '../../src/app.js';
import { createSecretBox, type EncryptionKey, type SecretBox } from '../../src/crypto/secret-box.js';
import type { Connection, OAuthTokens, SealedValue, Store } from '../../src/domain/index.js';
import { SEAL_CONTEXT as BUSY_URL_CONTEXT } from '../../src/services/busy-service.js';
import { pkceVerifierContext } from '../../src/services/connection-service.js';
import { JOIN_LINK_KEY_SETTING, JoinLinkKeyError, loadJoinLinks } from '../../src/services/join-link-key.js';
import { formatRotationReport, rotateSealedValues, rotationComplete, type RotationCounts, type RotationReport } from '../../src/services/key-rotation.js';
import { createSqliteStore } from '../../src/store/index.js';
import { connectorSession, openTokens, sealTokens, tokensSealContext } from '../../src/sync/index.js';
import { T0, aBusySource, aConnection, aProvider } from '../support/builders.js';
import { createSchema, createTestPostgresStore, dropSchema, schemaDatabaseUrl, TEST_DATABASE_URL } from '../support/postgres.js';
import { REPO_ROOT } from '../support/processes.js';

const clock = { now: () => new Date(T0) };
const OLD: EncryptionKey = { id: 'k2025', key: Buffer.alloc(32, 0x25) };
const NEW: EncryptionKey = { id: 'k2026', key: Buffer.alloc(32, 0x26) };
const LOST: EncryptionKey = { id: 'lost', key: Buffer.alloc(32, 0x99) };
/** The service before the upgrade: ENCRYPTION_KEY=<old>. */
const before = createSecretBox(OLD.key);
const during = createSecretBox([NEW, OLD]);
const after = createSecretBox([NEW]);
const PUBLIC_BASE_URL = 'https://sync.example.test';
const SESSION = { providerId: 'prov-1', id: 'sess-1' };

const keysEnv = (...keys: EncryptionKey[]) => keys.map((k) => `${k.id}:${k.key.toString('hex')}`).join(',');

const tokens = (n: number): OAuthTokens => ({ accessToken: `access-${n}`, refreshToken: `refresh-${n}`, expiresAt: Date.parse(T0), scope: null });

/** A value as the SecretBox of before key ids sealed it: "v1.<iv>.<ct>.<tag>" under ENCRYPTION_KEY. */
function sealV1(masterKey: Buffer, plaintext: string, context: string): string {
  const encKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'sessionsync/secret-box/aes-256-gcm', 32));
  const iv = Buffer.alloc(12, 1);
  const cipher = createCipheriv('aes-256-gcm', encKey, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

interface TestDatabase {
  store: Store;
  /** DATABASE_URL of the same database, for the script. */
  databaseUrl: string;
  /** Closes the store and opens the database again (the script ran in between). */
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

const databases: [string, () => Promise<TestDatabase>][] = [
  [
    'SQLite',
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'sessionsync-rotate-'));
      const filename = path.join(dir, 'rotate.db');
      let store = await createSqliteStore({ filename });
      return {
        get store() {
          return store;
        },
        databaseUrl: `sqlite:${filename}`,
        async reopen() {
          await store.close();
          store = await createSqliteStore({ filename });
          return store;
        },
        async cleanup() {
          await store.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  ],
];
if (TEST_DATABASE_URL !== undefined && TEST_DATABASE_URL !== '') {
  const url = TEST_DATABASE_URL;
  databases.push([
    'PostgreSQL',
    async () => {
      const schema = await createSchema(url);
      let store = await createTestPostgresStore(url, { schema });
      return {
        get store() {
          return store;
        },
        databaseUrl: schemaDatabaseUrl(url, schema),
        async reopen() {
          await store.close();
          store = await createTestPostgresStore(url, { schema });
          return store;
        },
        async cleanup() {
          await store.close();
          await dropSchema(url, schema);
        },
      };
    },
  ]);
} else {
  console.log('  PostgreSQL key rotation skipped: TEST_DATABASE_URL is not set (.ci/run sets it).');
}

/** What the old service left: every kind of sealed value, under the old key (v1 and v2), one already under the new one. */
async function seedOldValues(store: Store): Promise<void> {
  await store.transaction(async (tx) => {
    await tx.putProvider(aProvider({ id: 'prov-1' }));
    await tx.putProvider(aProvider({ id: 'prov-2' }));
    await tx.putConnection(aConnection({ id: 'conn-1', providerId: 'prov-1', sealedTokens: sealV1(OLD.key, JSON.stringify(tokens(1)), tokensSealContext('conn-1')) }));
    await tx.putConnection(aConnection({ id: 'conn-2', providerId: 'prov-1', sealedTokens: sealTokens(before, 'conn-2', tokens(2)) }));
    await tx.putConnection(aConnection({ id: 'conn-3', providerId: 'prov-2', sealedTokens: sealTokens(during, 'conn-3', tokens(3)) }));
    await tx.putConnection(
      aConnection({
        id: 'conn-4',
        providerId: 'prov-2',
        status: 'pending_authorization',
        sealedTokens: null,
        pendingAuth: { nonce: 'n4', sealedVerifier: before.seal('verifier-4', pkceVerifierContext('conn-4')), expiresAt: T0 },
      }),
    );
    await tx.putBusySource(aBusySource({ providerId: 'prov-1', id: 'busy-1', urlSealed: before.seal('https://cal.example.org/secret-1.ics', BUSY_URL_CONTEXT) }));
    await tx.putBusySource(aBusySource({ providerId: 'prov-2', id: 'busy-1', urlSealed: sealV1(OLD.key, 'https://cal.example.org/secret-2.ics', BUSY_URL_CONTEXT) }));
  });
}

/** Every sealed value opens with this box alone, to what was sealed. */
async function assertAllOpen(store: Store, box: SecretBox): Promise<void> {
  const connection = async (id: string): Promise<Connection> => {
    const found = await store.getConnection(id);
    assert.ok(found, id);
    return found;
  };
  assert.deepEqual(openTokens(box, await connection('conn-1')), tokens(1));
  assert.deepEqual(openTokens(box, await connection('conn-2')), tokens(2));
  assert.deepEqual(openTokens(box, await connection('conn-3')), tokens(3));
  const pending = (await connection('conn-4')).pendingAuth;
  assert.ok(pending);
  assert.equal(box.open(pending.sealedVerifier, pkceVerifierContext('conn-4')), 'verifier-4');
  assert.equal(box.open((await store.getBusySource('prov-1', 'busy-1'))?.urlSealed ?? '', BUSY_URL_CONTEXT), 'https://cal.example.org/secret-1.ics');
  assert.equal(box.open((await store.getBusySource('prov-2', 'busy-1'))?.urlSealed ?? '', BUSY_URL_CONTEXT), 'https://cal.example.org/secret-2.ics');
}

const counts = (resealed: number, current: number, unopenable = 0, changed = 0): RotationCounts => ({ resealed, current, unopenable, changed });

/** A store whose first page of connection tokens is followed, before the rotation writes, by a token refresh of `connectionId`. */
function refreshingWhileRead(store: Store, connectionId: string, refreshed: OAuthTokens): Store {
  let done = false;
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'listSealedValues') {
        return async (...args: Parameters<Store['listSealedValues']>): Promise<SealedValue[]> => {
          const page = await target.listSealedValues(...args);
          if (!done && args[0] === 'connection-tokens') {
            done = true;
            const connection = await target.getConnection(connectionId);
            assert.ok(connection);
            // The service's own refresh path (an API process still sealing under the old key).
            await connectorSession({ store: target, secrets: before, clock }, connection, tokens(0)).onTokens(refreshed);
          }
          return page;
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

for (const [name, open] of databases) {
  describe(`rotate-keys (${name})`, function () {
    this.timeout(60_000);
    let db: TestDatabase;

    beforeEach(async () => {
      db = await open();
    });

    afterEach(async () => {
      await db.cleanup();
    });

    it('when values sealed under the old key are rotated, then all are re-sealed under the new key and open with it alone; a second run finds them all current', async () => {
      await seedOldValues(db.store);
      await loadJoinLinks({ store: db.store, secrets: before, clock, publicBaseUrl: PUBLIC_BASE_URL });

      const report = await rotateSealedValues({ store: db.store, secrets: during, clock, batchSize: 2 });

      assert.deepEqual(report.counts, {
        'connection-tokens': counts(2, 1),
        'pkce-verifier': counts(1, 0),
        'busy-source-url': counts(2, 0),
        setting: counts(1, 0),
      });
      assert.equal(report.keyId, 'k2026');
      assert.ok(rotationComplete(report));
      await assertAllOpen(db.store, after);
      for (const c of await db.store.listSealedValues('connection-tokens', null, 10)) assert.match(c.sealed, /^v2\.k2026\./);
      const again = await rotateSealedValues({ store: db.store, secrets: during, clock });
      assert.deepEqual(again.counts, { 'connection-tokens': counts(0, 3), 'pkce-verifier': counts(0, 1), 'busy-source-url': counts(0, 2), setting: counts(0, 1) });
    });

    it('when a token is refreshed between the rotation reading it and writing, then the refreshed value is kept and counted as changed', async () => {
      await seedOldValues(db.store);
      const report = await rotateSealedValues({ store: refreshingWhileRead(db.store, 'conn-2', tokens(22)), secrets: during, clock, batchSize: 200 });

      assert.deepEqual(report.counts['connection-tokens'], counts(1, 1, 0, 1));
      assert.ok(!rotationComplete(report));
      assert.match(formatRotationReport(report).at(-1) ?? '', /run npm run rotate-keys again/);
      const refreshed = await db.store.getConnection('conn-2');
      assert.ok(refreshed);
      assert.deepEqual(openTokens(during, refreshed), tokens(22));

      const again = await rotateSealedValues({ store: db.store, secrets: during, clock });
      assert.deepEqual(again.counts['connection-tokens'], counts(1, 2));
      assert.ok(rotationComplete(again));
      assert.deepEqual(openTokens(after, (await db.store.getConnection('conn-2'))!), tokens(22));
    });

    it('when a value opens with no configured key, then it is counted, named by id only, and left as it is', async () => {
      await seedOldValues(db.store);
      const lost = sealTokens(createSecretBox([LOST]), 'conn-5', tokens(5));
      const garbage = 'not-a-sealed-value-but-secret';
      await db.store.transaction(async (tx) => {
        await tx.putConnection(aConnection({ id: 'conn-5', providerId: 'prov-1', sealedTokens: lost }));
        await tx.putBusySource(aBusySource({ providerId: 'prov-1', id: 'busy-9', urlSealed: garbage }));
      });

      const report = await rotateSealedValues({ store: db.store, secrets: during, clock });

      assert.deepEqual(report.counts['connection-tokens'], counts(2, 1, 1));
      assert.deepEqual(report.counts['busy-source-url'], counts(2, 0, 1));
      assert.deepEqual(report.unopenable, ['connection conn-5 (connection-tokens)', 'busy source prov-1/busy-9']);
      assert.ok(rotationComplete(report));
      assert.equal((await db.store.getConnection('conn-5'))?.sealedTokens, lost);
      assert.equal((await db.store.getBusySource('prov-1', 'busy-9'))?.urlSealed, garbage);
      const printed = formatRotationReport(report).join('\n');
      for (const value of [lost, garbage, 'access-5']) assert.ok(!printed.includes(value));
      assert.match(printed, /connection tokens .*: 2 re-sealed, 1 already under k2026, 1 could not be opened, 0 changed meanwhile/);
    });

    it('when keys are rotated and the old one removed, then every join link stays what ENCRYPTION_KEY made before the upgrade', async () => {
      const original = joinLinksFor(before, PUBLIC_BASE_URL).url(SESSION);

      const atUpgrade = await loadJoinLinks({ store: db.store, secrets: before, clock, publicBaseUrl: PUBLIC_BASE_URL });
      const withBoth = await loadJoinLinks({ store: db.store, secrets: during, clock, publicBaseUrl: PUBLIC_BASE_URL });
      await rotateSealedValues({ store: db.store, secrets: during, clock });
      const rotated = await loadJoinLinks({ store: db.store, secrets: during, clock, publicBaseUrl: PUBLIC_BASE_URL });
      const oldKeyRemoved = await loadJoinLinks({ store: db.store, secrets: after, clock, publicBaseUrl: PUBLIC_BASE_URL });

      for (const links of [atUpgrade, withBoth, rotated, oldKeyRemoved]) assert.equal(links.url(SESSION), original);
      assert.match((await db.store.getSetting(JOIN_LINK_KEY_SETTING)) ?? '', /^v2\.k2026\./);
    });

    it('when a database never started this version is rotated, then the join-link key is stored from the oldest key first, so removing it changes no link', async () => {
      const original = joinLinksFor(before, PUBLIC_BASE_URL).url(SESSION);
      const report = await rotateSealedValues({ store: db.store, secrets: during, clock });
      assert.deepEqual(report.counts.setting, counts(0, 1));
      assert.equal((await loadJoinLinks({ store: db.store, secrets: after, clock, publicBaseUrl: PUBLIC_BASE_URL })).url(SESSION), original);
    });

    it('when the old key is removed before rotating, then start-up refuses with a message naming rotate-keys rather than changing the links', async () => {
      await loadJoinLinks({ store: db.store, secrets: before, clock, publicBaseUrl: PUBLIC_BASE_URL });
      await assert.rejects(loadJoinLinks({ store: db.store, secrets: after, clock, publicBaseUrl: PUBLIC_BASE_URL }), (err: unknown) => {
        assert.ok(err instanceof JoinLinkKeyError);
        assert.match(err.message, /npm run rotate-keys/);
        return true;
      });
    });

    it('when the script function runs against DATABASE_URL with ENCRYPTION_KEYS, then it rotates that database', async () => {
      await seedOldValues(db.store);
      await db.store.close();

      const report: RotationReport = await rotateKeys({ env: { DATABASE_URL: db.databaseUrl, ENCRYPTION_KEYS: keysEnv(NEW, OLD) } });

      assert.deepEqual(report.counts['connection-tokens'], counts(2, 1));
      assert.deepEqual(report.counts['busy-source-url'], counts(2, 0));
      const store = await db.reopen();
      await assertAllOpen(store, after);
    });
  });
}

describe('rotate-keys (the script, as a child process on SQLite)', function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sessionsync-rotate-cli-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('when run with the new key first, then it prints what it re-sealed per kind, exits 0, and the values open with the new key alone', async () => {
    const filename = path.join(dir, 'cli.db');
    let store = await createSqliteStore({ filename });
    await seedOldValues(store);
    const original = joinLinksFor(before, PUBLIC_BASE_URL).url(SESSION);
    await store.close();

    const env = { PATH: process.env['PATH'] ?? '', TMPDIR: tmpdir(), DATA_DIR: dir, DATABASE_URL: `sqlite:${filename}`, ENCRYPTION_KEYS: keysEnv(NEW, OLD) };
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/rotate-keys.ts'], { cwd: REPO_ROOT, env });

    assert.equal(stderr, '');
    assert.deepEqual(stdout.trim().split('\n'), [
      're-sealing under key k2026:',
      '  connection tokens (connections.sealed_tokens): 2 re-sealed, 1 already under k2026, 0 could not be opened, 0 changed meanwhile',
      '  pending PKCE verifiers (connections.pending_sealed_verifier): 1 re-sealed, 0 already under k2026, 0 could not be opened, 0 changed meanwhile',
      '  busy source addresses (busy_sources.url_sealed): 2 re-sealed, 0 already under k2026, 0 could not be opened, 0 changed meanwhile',
      '  sealed settings (settings: join-link-key): 0 re-sealed, 1 already under k2026, 0 could not be opened, 0 changed meanwhile',
      'done: every value that opens is sealed under k2026; the other keys can be removed from ENCRYPTION_KEYS.',
    ]);
    for (const secret of [OLD.key.toString('hex'), NEW.key.toString('hex'), 'secret-1', 'access-1']) assert.ok(!stdout.includes(secret));
    store = await createSqliteStore({ filename });
    try {
      await assertAllOpen(store, after);
      assert.equal((await loadJoinLinks({ store, secrets: after, clock, publicBaseUrl: PUBLIC_BASE_URL })).url(SESSION), original);
    } finally {
      await store.close();
    }
  });

  it('when both ENCRYPTION_KEY and ENCRYPTION_KEYS are set, then it exits 1 naming both, and no key', async () => {
    const env = { PATH: process.env['PATH'] ?? '', TMPDIR: tmpdir(), DATA_DIR: dir, ENCRYPTION_KEY: OLD.key.toString('hex'), ENCRYPTION_KEYS: keysEnv(NEW) };
    await assert.rejects(promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/rotate-keys.ts'], { cwd: REPO_ROOT, env }), (err: unknown) => {
      const { code, stderr } = err as { code: number; stderr: string };
      assert.equal(code, 1);
      assert.match(stderr, /ENCRYPTION_KEY, ENCRYPTION_KEYS: set one of them, not both/);
      assert.ok(!stderr.includes(OLD.key.toString('hex')) && !stderr.includes(NEW.key.toString('hex')));
      return true;
    });
  });
});
