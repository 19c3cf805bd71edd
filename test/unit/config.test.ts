import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('when nothing is set, then it runs on SQLite under ./data on port 3000', () => {
    const config = loadConfig({});
    assert.equal(config.port, 3000);
    assert.deepEqual(config.database, { kind: 'sqlite', filename: 'data/sessionsync.db' });
    assert.equal(config.publicBaseUrl, 'http://localhost:3000');
    assert.equal(config.uidDomain, 'localhost');
    assert.deepEqual(config.feed, { pastDays: 60, futureDays: 365, cacheMaxBytes: 134217728, fetchFlushMs: 5000, tombstoneDays: 30 });
    assert.equal(config.adminToken, undefined);
  });

  it('when busy sources are not configured, then ICS sources are read every 15 min, up to 5 MiB, from public hosts only', () => {
    assert.deepEqual(loadConfig({}).busy, { refreshMinutes: 15, maxBytes: 5 * 1024 * 1024, allowHosts: new Set() });
    assert.deepEqual(loadConfig({ BUSY_ALLOW_HOSTS: 'calendar.local:8443, [::1]:80' }).busy.allowHosts, new Set(['calendar.local:8443', '[::1]:80']));
  });

  it('when BUSY_ALLOW_HOSTS has an entry without a port, or BUSY_REFRESH_MINUTES is 0, then start-up names both keys', () => {
    assert.throws(
      () => loadConfig({ BUSY_ALLOW_HOSTS: 'calendar.local', BUSY_REFRESH_MINUTES: '0' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems.map((p) => p.split(':')[0]).sort(), ['BUSY_ALLOW_HOSTS', 'BUSY_REFRESH_MINUTES']);
        return true;
      },
    );
    assert.throws(() => loadConfig({ BUSY_ALLOW_HOSTS: 'calendar.local' }), /BUSY_ALLOW_HOSTS: Invalid allow-host entry "calendar.local"/);
  });

  it('when values are empty strings, then they count as unset', () => {
    assert.equal(loadConfig({ PUBLIC_BASE_URL: '', ADMIN_TOKEN: '  ' }).adminToken, undefined);
  });

  it('when several keys are bad, then one error lists every one of them', () => {
    assert.throws(
      () => loadConfig({ PORT: 'eighty', FEED_PAST_DAYS: '-1', ADMIN_TOKEN: 'short' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems.map((p) => p.split(':')[0]).sort(), ['ADMIN_TOKEN', 'FEED_PAST_DAYS', 'PORT']);
        return true;
      },
    );
  });

  it('when NODE_ENV is production without an admin token or https base URL, then start-up is refused', () => {
    assert.throws(
      () => loadConfig({ NODE_ENV: 'production', PUBLIC_BASE_URL: 'http://sync.example.org' }),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 3 && /ADMIN_TOKEN/.test(err.message) && /ENCRYPTION_KEY/.test(err.message) && /https/.test(err.message),
    );
  });

  it('when production has its secrets, then it loads and derives the UID domain from the public URL', () => {
    const config = loadConfig({ NODE_ENV: 'production', ADMIN_TOKEN: 'x'.repeat(32), ENCRYPTION_KEY: 'ab'.repeat(32), PUBLIC_BASE_URL: 'https://sync.example.org/' });
    assert.equal(config.publicBaseUrl, 'https://sync.example.org');
    assert.equal(config.uidDomain, 'sync.example.org');
  });

  it('when DATABASE_URL names PostgreSQL, then that database is used', () => {
    assert.deepEqual(loadConfig({ DATABASE_URL: 'postgres://app@db.internal:5432/sessionsync' }).database, {
      kind: 'postgres',
      url: 'postgres://app@db.internal:5432/sessionsync',
    });
    assert.equal(loadConfig({ DATABASE_URL: 'postgresql://app@localhost/x' }).database.kind, 'postgres');
  });

  it('when DATABASE_URL is neither sqlite: nor postgres://, then start-up names the key', () => {
    assert.throws(() => loadConfig({ DATABASE_URL: 'mysql://localhost/x' }), /DATABASE_URL: must start with sqlite: or postgres:\/\//);
  });

  it('when DATABASE_URL is a sqlite: path, then that file is used', () => {
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:./tmp/x.db' }).database, { kind: 'sqlite', filename: './tmp/x.db' });
  });

  describe('encryption keys', () => {
    const hexKey = 'ab'.repeat(32);
    const b64Key = Buffer.alloc(32, 5).toString('base64url');

    /** The problems a ConfigError lists for this environment. */
    function problems(env: Record<string, string>): string[] {
      try {
        loadConfig(env);
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.problems;
      }
      assert.fail('loadConfig accepted the environment');
    }

    it('when ENCRYPTION_KEYS lists id:key pairs, then they are the keys in order, hex or base64url', () => {
      const keys = loadConfig({ ENCRYPTION_KEYS: ` new:${b64Key} , old_1:${hexKey}` }).encryptionKeys;
      assert.deepEqual(keys, [
        { id: 'new', key: Buffer.alloc(32, 5) },
        { id: 'old_1', key: Buffer.from(hexKey, 'hex') },
      ]);
    });

    it('when only ENCRYPTION_KEY is set, then it is a one-key list under the id "default"; with neither, none', () => {
      assert.deepEqual(loadConfig({ ENCRYPTION_KEY: hexKey }).encryptionKeys, [{ id: 'default', key: Buffer.from(hexKey, 'hex') }]);
      assert.equal(loadConfig({}).encryptionKeys, undefined);
    });

    it('when both ENCRYPTION_KEY and ENCRYPTION_KEYS are set, then it is a config error naming both', () => {
      const found = problems({ ENCRYPTION_KEY: hexKey, ENCRYPTION_KEYS: `a:${hexKey}` });
      assert.equal(found.length, 1);
      assert.match(found[0]!, /^ENCRYPTION_KEY, ENCRYPTION_KEYS: /);
    });

    it('when ENCRYPTION_KEYS has bad entries, then each is named by position, under ENCRYPTION_KEYS, and no key material is echoed', () => {
      const shortKey = 'cd'.repeat(20);
      const found = problems({ ENCRYPTION_KEYS: `a:${hexKey},${hexKey},b.c:${hexKey},d:${shortKey},a:${b64Key}` });
      assert.deepEqual(found, [
        'ENCRYPTION_KEYS: entry 2: must be id:key',
        'ENCRYPTION_KEYS: entry 3: the id must be 1-32 characters of A-Z, a-z, 0-9, _ and -',
        'ENCRYPTION_KEYS: entry 4 (id d): the key must be 32 bytes as 64 hex characters or 43 base64url characters',
        'ENCRYPTION_KEYS: entry 5: the id a is used twice',
      ]);
      for (const secret of [hexKey, b64Key, shortKey]) assert.ok(!found.join('\n').includes(secret));
      assert.deepEqual(problems({ ENCRYPTION_KEYS: `${'x'.repeat(33)}:${hexKey}` }), ['ENCRYPTION_KEYS: entry 1: the id must be 1-32 characters of A-Z, a-z, 0-9, _ and -']);
    });

    it('when ENCRYPTION_KEY is malformed, then the error names it without echoing the value', () => {
      const found = problems({ ENCRYPTION_KEY: 'not-a-key-but-secret' });
      assert.deepEqual(found, ['ENCRYPTION_KEY: must be 32 bytes as 64 hex characters or 43 base64url characters']);
    });

    it('when production has ENCRYPTION_KEYS and no ENCRYPTION_KEY, then it loads; with neither, both are named', () => {
      const prod = { NODE_ENV: 'production', ADMIN_TOKEN: 'x'.repeat(32), PUBLIC_BASE_URL: 'https://sync.example.org' };
      assert.equal(loadConfig({ ...prod, ENCRYPTION_KEYS: `k1:${hexKey}` }).encryptionKeys?.[0]?.id, 'k1');
      assert.deepEqual(problems(prod), ['ENCRYPTION_KEY or ENCRYPTION_KEYS: required when NODE_ENV=production']);
    });
  });
});
