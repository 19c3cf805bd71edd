// Real sessionsync server processes for end-to-end tests and benchmarks: `node --import tsx
// src/server.ts` (for the benchmarks, the compiled server) with an environment of the caller's
// only, ready once it logs "sessionsync listening" (every role does), stopped with SIGTERM (or
// killed). Every child is tracked: a ServerGroup kills what is left in an after hook, and the test
// process kills the rest on exit, so that no server outlives the run that started it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The repository (with a trailing slash): the folder holding package.json above this file. */
export const REPO_ROOT = repositoryRoot(path.dirname(fileURLToPath(import.meta.url)));

function repositoryRoot(from: string): string {
  // Two levels up from source; from the benches' build (dist/bench/test/support) four.
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return `${dir}${path.sep}`;
    if (path.dirname(dir) === dir) throw new Error(`No package.json above ${from}.`);
  }
}

// Run from the benches' build (`npm run bench`, compiled as `npm start` runs dist), the server is
// the compiled one beside this file, run by node alone: not the source through tsx.
const COMPILED_SERVER = import.meta.url.endsWith('.js') ? fileURLToPath(new URL('../../src/server.js', import.meta.url)) : null;

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StopResult extends ProcessExit {
  /** From the signal to the exit. */
  ms: number;
  /** The process outlived the timeout and was then killed with SIGKILL. */
  timedOut: boolean;
}

/** One pino JSON line of the server's stdout (lines that are not JSON are kept as { msg }). */
export interface LogRecord {
  level?: number;
  msg?: string;
  [field: string]: unknown;
}

export interface StartServerOptions {
  /** For messages and logs, e.g. "api-1". */
  name: string;
  /**
   * The server's whole environment besides PATH (and TMPDIR, for tsx's cache): nothing else of
   * the test process leaks in. Defaults: PORT=0, HOST=127.0.0.1, LOG_LEVEL=info (the ready line
   * is logged at info), DATA_DIR a fresh temporary folder removed by ServerGroup.cleanup().
   */
  env: Record<string, string>;
  /** How long to wait for the ready line (default 30 s: a cold tsx start on a busy machine). */
  readyTimeoutMs?: number;
  /** Log records kept per process, newest last (default 5000); warnings and worse are kept apart. */
  keepRecords?: number;
  /** Script to run, relative to the repository (default src/server.ts). */
  entry?: string;
}

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  readonly role: string;
  /** The port the OS gave it (its ready line says which). */
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly dataDir: string;
  readonly exited: Promise<ProcessExit>;
  /** True until the process has exited. */
  running(): boolean;
  /** The most recent log records (see keepRecords). */
  logs(): readonly LogRecord[];
  /** Every record at warn level (40) or above. */
  warnings(): readonly LogRecord[];
  stderr(): string;
  /** SIGTERM (or `signal`), then waits up to timeoutMs (default 10 s) before a SIGKILL. */
  stop(options?: { signal?: NodeJS.Signals; timeoutMs?: number }): Promise<StopResult>;
  /** SIGKILL, as a crash would: no shutdown code runs. Resolves once it has exited. */
  kill(): Promise<ProcessExit>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort: whatever the test process leaves running dies with it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

const LISTENING = 'sessionsync listening';

/** Starts one server process and resolves once it listens; rejects (and kills it) if it does not. */
export async function startServer(options: StartServerOptions): Promise<ServerProcess> {
  installExitHook();
  const ownsDataDir = options.env['DATA_DIR'] === undefined;
  const dataDir = options.env['DATA_DIR'] ?? mkdtempSync(path.join(tmpdir(), `sessionsync-${options.name}-`));
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    ...(process.env['TMPDIR'] !== undefined ? { TMPDIR: process.env['TMPDIR'] } : {}),
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ...options.env,
    DATA_DIR: dataDir,
  };
  const args = options.entry === undefined && COMPILED_SERVER !== null ? [COMPILED_SERVER] : ['--import', 'tsx', options.entry ?? 'src/server.ts'];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const pid = child.pid;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  // A spawn failure (no pid) reaches 'error', never 'exit'.
  const spawnFailed = new Promise<Error>((resolve) => child.once('error', resolve));

  const keep = options.keepRecords ?? 5000;
  const records: LogRecord[] = [];
  const warnings: LogRecord[] = [];
  let stderr = '';
  let partial = '';
  let onReady: ((record: LogRecord) => void) | null = null;

  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    // Bounded too: a crash loop must not fill the test process's memory.
    stderr = (stderr + chunk).slice(-64_000);
  });
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      let record: LogRecord;
      try {
        const parsed: unknown = JSON.parse(line);
        record = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as LogRecord) : { msg: line };
      } catch {
        record = { msg: line };
      }
      records.push(record);
      if (records.length > keep) records.splice(0, records.length - keep);
      if ((record.level ?? 0) >= 40) warnings.push(record);
      if (record.msg === LISTENING) onReady?.(record);
    }
  });

  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const timeout = new AbortController();
  const ready = new Promise<LogRecord>((resolve) => (onReady = resolve));
  const outcome = await Promise.race([
    ready.then((record) => ({ kind: 'ready' as const, record })),
    exited.then((exit) => ({ kind: 'exited' as const, exit })),
    spawnFailed.then((error) => ({ kind: 'error' as const, error })),
    delay(readyTimeoutMs, undefined, { signal: timeout.signal }).then(
      () => ({ kind: 'timeout' as const }),
      () => ({ kind: 'timeout' as const }),
    ),
  ]);
  timeout.abort();
  onReady = null;

  if (outcome.kind !== 'ready') {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    const why =
      outcome.kind === 'exited'
        ? `exited (code ${outcome.exit.code}, signal ${outcome.exit.signal})`
        : outcome.kind === 'error'
          ? `could not be spawned: ${outcome.error.message}`
          : `did not log "${LISTENING}" within ${readyTimeoutMs} ms`;
    throw new Error(`${options.name} ${why}\nstderr: ${stderr.slice(-4000)}\nlast log lines: ${records.slice(-10).map((r) => JSON.stringify(r)).join('\n')}`);
  }
  const port = Number(outcome.record['port']);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`${options.name}: the ready line has no port: ${JSON.stringify(outcome.record)}`);
  const role = typeof outcome.record['role'] === 'string' ? outcome.record['role'] : 'unknown';
  if (pid === undefined) throw new Error(`${options.name}: no pid`);

  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    name: options.name,
    pid,
    role,
    port,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    exited,
    running,
    logs: () => records,
    warnings: () => warnings,
    stderr: () => stderr,
    async stop({ signal = 'SIGTERM', timeoutMs = 10_000 } = {}) {
      const started = performance.now();
      if (!running()) return { ...(await exited), ms: 0, timedOut: false };
      child.kill(signal);
      const wait = new AbortController();
      const result = await Promise.race([exited, delay(timeoutMs, null, { signal: wait.signal }).catch(() => null)]);
      wait.abort();
      if (result !== null) return { ...result, ms: performance.now() - started, timedOut: false };
      child.kill('SIGKILL');
      return { ...(await exited), ms: performance.now() - started, timedOut: true };
    },
    async kill() {
      if (running()) child.kill('SIGKILL');
      return exited;
    },
  };
}

/**
 * The servers of one test or benchmark. start() records each one, so that cleanup() in an
 * after hook can kill the survivors (SIGKILL: a failed test must not wait for graceful shutdowns)
 * and remove the data folders it created, whatever happened before: also servers still starting
 * when it is called. After cleanup() the group refuses to start more (a task of a failed test
 * that runs on must not leave a child behind, which would also keep the test runner alive).
 */
export class ServerGroup {
  private readonly members: ServerProcess[] = [];
  private readonly ownedDirs: string[] = [];
  private readonly starting = new Set<Promise<unknown>>();
  private closed = false;

  async start(options: StartServerOptions): Promise<ServerProcess> {
    if (this.closed) throw new Error(`${options.name}: the server group is already cleaned up`);
    const pending = startServer(options);
    const settled = pending.then(
      () => undefined,
      () => undefined,
    );
    this.starting.add(settled);
    try {
      const server = await pending;
      this.members.push(server);
      if (this.closed) {
        await server.kill();
        if (options.env['DATA_DIR'] === undefined) rmSync(server.dataDir, { recursive: true, force: true });
        throw new Error(`${options.name}: the server group was cleaned up while it started`);
      }
      if (options.env['DATA_DIR'] === undefined) this.ownedDirs.push(server.dataDir);
      return server;
    } finally {
      this.starting.delete(settled);
    }
  }

  /** Every server started, in start order (also those that have exited). */
  all(): readonly ServerProcess[] {
    return this.members;
  }

  running(): ServerProcess[] {
    return this.members.filter((s) => s.running());
  }

  /** Stops every running server at once; resolves with each one's result, by name. */
  async stopAll(options?: { signal?: NodeJS.Signals; timeoutMs?: number }): Promise<Map<string, StopResult>> {
    const running = this.running();
    const results = await Promise.all(running.map((s) => s.stop(options)));
    return new Map(running.map((s, i) => [s.name, results[i]!] as const));
  }

  async cleanup(): Promise<void> {
    this.closed = true;
    await Promise.all(this.starting);
    await Promise.all(this.members.map((s) => s.kill()));
    for (const dir of this.ownedDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Polls `probe` every intervalMs until it returns something other than undefined, and returns
 * that; throws after timeoutMs with `describe()` of the last state. A bounded wait, never a sleep
 * standing in for an assertion.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  options: { timeoutMs: number; intervalMs?: number; what: string; describe?: () => string | Promise<string> },
): Promise<T> {
  const deadline = performance.now() + options.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() >= deadline) {
      const state = options.describe === undefined ? '' : `: ${await options.describe()}`;
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${state}`);
    }
    await delay(options.intervalMs ?? 100);
  }
}
