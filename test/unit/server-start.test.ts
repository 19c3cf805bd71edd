import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadOrCreateDevSecret } from '../../src/dev-secrets.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Starts src/server.ts with only the given environment; resolves its port once it listens. */
function startServer(env: Record<string, string>): { child: ChildProcess; ready: Promise<number>; exited: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const ready = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
      const line = stdout.split('\n').find((l) => l.includes('"sessionsync listening"'));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', () => reject(new Error(`server exited: ${stderr}`)));
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
  return { child, ready, exited };
}

describe('server start-up', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'sessionsync-start-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('when started with no configuration but a data dir, then it serves, creates the schema and an admin token file', async () => {
    const { child, ready, exited } = startServer({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    try {
      const port = await ready;
      const token = readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
      assert.equal(statSync(path.join(dataDir, 'admin-token')).mode & 0o777, 0o600);
      const health = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.equal(health.status, 200);
      const put = await fetch(`http://127.0.0.1:${port}/api/v1/providers/p1`, {
        method: 'PUT',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'Dr. Ada Byron', timezone: 'Europe/Berlin' }),
      });
      assert.equal(put.status, 201);
    } finally {
      child.kill('SIGTERM');
      assert.equal((await exited).code, 0, 'a SIGTERM shuts down cleanly');
    }
  });

  it('when its port is taken, then it says so in one sentence and exits 1, in either role', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      for (const role of ['all', 'worker']) {
        const { exited } = startServer({ ROLE: role, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info' });
        const { code, stderr } = await exited;
        assert.equal(code, 1, role);
        assert.equal(stderr, `sessionsync cannot listen on 127.0.0.1:${port}: EADDRINUSE\n`, role);
      }
    } finally {
      holder.close();
    }
  });

  it('when NODE_ENV=production has no ADMIN_TOKEN, then start-up stops with a message naming it', async () => {
    const { exited } = startServer({ NODE_ENV: 'production', PUBLIC_BASE_URL: 'https://sync.example.org', PORT: '0', DATA_DIR: dataDir });
    const { code, stderr } = await exited;
    assert.equal(code, 1);
    assert.match(stderr, /ADMIN_TOKEN: required when NODE_ENV=production/);
  });
});

describe('loadOrCreateDevSecret', () => {
  it('when called twice, then the second call returns the token the first one wrote (mode 0600)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sessionsync-token-'));
    try {
      const first = await loadOrCreateDevSecret(dir, 'admin-token');
      const second = await loadOrCreateDevSecret(dir, 'admin-token');
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      assert.equal(second.value, first.value);
      assert.ok(first.value.length >= 43);
      assert.equal(statSync(first.file).mode & 0o777, 0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
