import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type { FakeStoredEvent } from '../fakes/fake-calendar.js';
import { describePostgres } from '../support/postgres.js';
import { pollUntil, type ServerProcess } from '../support/processes.js';
import { connectProvider, databaseProbes, expectListedConnection, expectStatus, LEASE_MS, scaleServers, send, soleLeaseOwner, useScaleRig, warningsByServer, type Kind, type Reply } from '../support/scale-rig.js';

// Two API and two worker processes of the real server on one PostgreSQL schema, pushing to a fake
// Google and a fake Graph; one worker is SIGKILLed mid-sync and replaced. Everything goes over the
// public interfaces (HTTP, the fakes' wire protocols, the database only to read leases).

const PROVIDERS = 20;
const GOOGLE_PROVIDERS = 10;
const SESSIONS_PER_PROVIDER = 25;
const IN_FLIGHT = 16;
const SESSION_MS = 50 * 60_000;
const SLOT_MS = 2 * 60 * 60_000;
/** Session indexes moved by an hour (into the free hour of their slot), per provider: 100 in all. */
const RESCHEDULED = [0, 1, 2, 3, 4];
/** Cancelled with PUT status "cancelled", per provider: 40 in all. */
const CANCELLED = [20, 21];
/** Deleted with DELETE, for providers with an even index: 10 in all. */
const DELETED = 22;
const CONVERGE_TIMEOUT_MS = 100_000;

interface PlannedSession {
  provider: number;
  providerId: string;
  id: string;
  key: string;
  start: string;
  end: string;
  status: 'scheduled' | 'cancelled' | 'deleted';
  /** Date.now() when the first PUT was answered. */
  writtenAt: number;
  /** Date.now() when the reschedule PUT was answered. */
  rescheduledAt: number | null;
}

interface SyncHealthBody {
  targets: { pending: number; retrying: number; dead: number; synced: number };
  deadTargets: { id: string; connectionId: string; sessionId: string; lastErrorCode: string | null }[];
  connectionsNeedingReauth: { id: string }[];
}

interface JobBody {
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  progress: { total: number; done: number; created: number; updated: number; deleted: number; unchanged: number; failed: number };
  error: string | null;
}

interface LeaseRow {
  tbl: string;
  lease_owner: string;
  n: string;
}

const providerId = (i: number) => `p${i}`;
const calendarIdOf = (i: number) => `cal-p${i}`;
const linkOf = (i: number) => `https://doxy.me/scale-room-${i}`;
const kindOf = (i: number): Kind => (i < GOOGLE_PROVIDERS ? 'google' : 'outlook');

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summarise(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 50)} ms, p95 ${percentile(sorted, 95)} ms, max ${sorted.at(-1) ?? Number.NaN} ms (n=${sorted.length})`;
}

/** Runs fn over items with at most `limit` calls in flight; the first failure stops new calls. */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (!failed && next < items.length) {
        const index = next++;
        try {
          await fn(items[index]!, index);
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    }),
  );
}

/** Requests answered 503 SERVICE_UNAVAILABLE and sent again, by method and route pattern. */
const retried = new Map<string, number>();
/** Attempts of one request while the service answers 503 (it says when to come back). */
const MAX_ATTEMPTS_ON_503 = 5;

/**
 * One HTTP request. A 503 SERVICE_UNAVAILABLE is sent again after its Retry-After, as the README
 * tells clients to do (the store answers 503 when a transaction still collides after its own
 * retries); every such retry is counted and printed, so the figure is visible, not hidden.
 */
async function call(base: string, method: string, route: string, bearer: string | null, body?: unknown): Promise<Reply> {
  for (let attempt = 1; ; attempt++) {
    const reply = await send(base, method, route, bearer, body);
    const code = (reply.body as { error?: { code?: unknown } } | null)?.error?.code;
    if (reply.status !== 503 || code !== 'SERVICE_UNAVAILABLE' || attempt >= MAX_ATTEMPTS_ON_503) return reply;
    const pattern = `${method} ${route.replace(/\/(p\d+|s\d+)(?=\/|$)/g, '/:id')}`;
    retried.set(pattern, (retried.get(pattern) ?? 0) + 1);
    const seconds = Number(reply.headers.get('retry-after'));
    await delay(Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 5) * 1000 : 1000);
  }
}

/** When the fake first stored the event, and when it last changed it (the fakes' own clocks, this process's). */
function eventTimes(kind: Kind, event: FakeStoredEvent): { created: number; modified: number } {
  const raw = event.raw;
  const created = kind === 'google' ? raw['created'] : raw['createdDateTime'];
  const modified = kind === 'google' ? raw['updated'] : raw['lastModifiedDateTime'];
  return { created: Date.parse(String(created)), modified: Date.parse(String(modified)) };
}

describePostgres('multi-process push sync (PostgreSQL)', (url) => {
  const rig = useScaleRig(url, { tempPrefix: 'sessionsync-scale-' });

  it('when 2 API and 2 worker processes share the database and a worker is SIGKILLed mid-sync and every database connection is cut, then every calendar ends with exactly one correct event per scheduled session, a resync writes nothing, and SIGTERM leaves only the killed worker\'s leases', async function () {
    this.timeout(180_000);
    const { google, graph, schema: s, pool: db, group, fakeOf } = rig();

    // ---- configuration shared by every process, and database probes (reads only) ---------------
    const { adminToken, platformToken, publicBaseUrl, startRole } = scaleServers(rig());
    const { leaseOwners, busyLeases, accountsHeld } = databaseProbes(rig());

    /** A worker's push attempts so far by outcome, from its own /metrics (admin token). */
    const pushOutcomes = async (worker: ServerProcess): Promise<string> => {
      const reply = await call(worker.url, 'GET', '/metrics', adminToken);
      expectStatus(reply, [200], `${worker.name} /metrics`);
      const byOutcome = new Map<string, number>();
      for (const line of reply.text.split('\n')) {
        const match = /^sessionsync_sync_operations_total\{.*outcome="([^"]+)".*\} (\d+)/.exec(line);
        if (match) byOutcome.set(match[1]!, (byOutcome.get(match[1]!) ?? 0) + Number(match[2]));
      }
      return `${worker.name} ${[...byOutcome].map(([outcome, n]) => `${outcome} ${n}`).join(' ') || 'nothing'}`;
    };

    // ---- 1. processes: two APIs and the first worker ---------------------------------------------
    const [api1, api2, worker1] = await Promise.all([startRole('api-1', 'api'), startRole('api-2', 'api'), startRole('worker-1', 'worker')]);
    const apis: ServerProcess[] = [api1, api2];
    for (const server of [api1, api2, worker1]) {
      expectStatus(await call(server.url, 'GET', '/readyz', null), [200], `${server.name} /readyz`);
    }
    assert.deepEqual([api1.role, api2.role, worker1.role], ['api', 'api', 'worker']);
    expectStatus(await call(worker1.url, 'GET', '/api/v1/admin/sync-health', adminToken), [404], 'a worker serves no API');
    const platform = (i: number, method: string, route: string, body?: unknown) => call(apis[i % 2]!.url, method, route, platformToken, body);
    const admin = (i: number, method: string, route: string, body?: unknown) => call(apis[i % 2]!.url, method, route, adminToken, body);

    // ---- 2. twenty providers, each connected to a calendar of its own --------------------------
    // Every step of provider i goes to API i % 2 and its OAuth callback to the other one: the
    // signed state and the sealed PKCE verifier must work across processes.
    const connectionIds: string[] = [];
    await forEachLimit(
      Array.from({ length: PROVIDERS }, (_, i) => i),
      4,
      async (i) => {
        const id = providerId(i);
        connectionIds[i] = await connectProvider({ index: i, id, kind: kindOf(i), calendarId: calendarIdOf(i), link: linkOf(i) }, {
          platform: (method, route, body) => platform(i, method, route, body),
          issueCode: (challenge, redirect) => fakeOf(kindOf(i)).issueAuthorizationCode(challenge, redirect),
          callback: (route) => call(apis[(i + 1) % 2]!.url, 'GET', route, null),
          callbackWhat: `OAuth callback of ${id} on the other API`,
          redirectPrefix: `${publicBaseUrl}/oauth/`,
        });
      },
    );
    for (let i = 0; i < PROVIDERS; i++) {
      const listed = await platform(i + 1, 'GET', `/api/v1/providers/${providerId(i)}/connections`);
      expectListedConnection(listed, providerId(i), [connectionIds[i], 'active', kindOf(i), calendarIdOf(i)]);
    }

    // ---- 3. the plan: 25 sessions per provider at distinct, non-overlapping times ---------------
    const base = Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 24 * 3_600_000;
    const plan: PlannedSession[][] = Array.from({ length: PROVIDERS }, (_, i) =>
      Array.from({ length: SESSIONS_PER_PROVIDER }, (_, j) => {
        const start = base + j * SLOT_MS;
        return {
          provider: i,
          providerId: providerId(i),
          id: `s${String(j).padStart(2, '0')}`,
          key: `${providerId(i)}/s${String(j).padStart(2, '0')}`,
          start: new Date(start).toISOString(),
          end: new Date(start + SESSION_MS).toISOString(),
          status: 'scheduled' as const,
          writtenAt: 0,
          rescheduledAt: null,
        };
      }),
    );
    // Round robin over providers, so the requests in flight belong to different providers.
    const writeOrder = Array.from({ length: SESSIONS_PER_PROVIDER }, (_, j) => plan.map((sessions) => sessions[j]!)).flat();
    const sessionPath = (p: PlannedSession) => `/api/v1/providers/${p.providerId}/sessions/${p.id}`;

    let changesDone = 0;
    const writesStarted = performance.now();
    const writeAll = async () => {
      await forEachLimit(writeOrder, IN_FLIGHT, async (p, n) => {
        const reply = await platform(n, 'PUT', sessionPath(p), { start: p.start, end: p.end });
        expectStatus(reply, [201], `PUT ${p.key}`);
        p.writtenAt = Date.now();
      });
      const changes: { p: PlannedSession; change: 'reschedule' | 'cancel' | 'delete' }[] = [];
      for (const sessions of plan) {
        for (const j of RESCHEDULED) changes.push({ p: sessions[j]!, change: 'reschedule' });
        for (const j of CANCELLED) changes.push({ p: sessions[j]!, change: 'cancel' });
        if (sessions[0]!.provider % 2 === 0) changes.push({ p: sessions[DELETED]!, change: 'delete' });
      }
      await forEachLimit(changes, IN_FLIGHT, async ({ p, change }, n) => {
        if (change === 'delete') {
          expectStatus(await platform(n, 'DELETE', sessionPath(p)), [204], `DELETE ${p.key}`);
          p.status = 'deleted';
        } else if (change === 'cancel') {
          expectStatus(await platform(n, 'PUT', sessionPath(p), { start: p.start, end: p.end, status: 'cancelled' }), [200], `cancel ${p.key}`);
          p.status = 'cancelled';
        } else {
          const start = Date.parse(p.start) + 60 * 60_000;
          const next = { start: new Date(start).toISOString(), end: new Date(start + SESSION_MS).toISOString() };
          expectStatus(await platform(n, 'PUT', sessionPath(p), next), [200], `reschedule ${p.key}`);
          Object.assign(p, next, { rescheduledAt: Date.now() });
        }
        changesDone += 1;
      });
    };

    // ---- 4. worker churn: the second worker joins, the first is SIGKILLed while busy ------------
    // Lease owners are random per process and visible only in the database: while worker-1 is the
    // only worker, the one owner that appears is its own.
    let killedOwner = '';
    let killedAtMs = 0;
    let killedWhile = '';
    let worker2Owner: string | null = null;
    let backendsCut = 0;
    const pushes: string[] = [];
    const churn = async () => {
      killedOwner = await soleLeaseOwner(leaseOwners, 20);
      await startRole('worker-2', 'worker');
      // Best: worker-1 has targets in flight (a vendor call may be under way). Else: it holds
      // accounts that still have work, which then wait for its lease to run out.
      let busy = await pollUntil(async () => {
        const b = await busyLeases(killedOwner);
        return b.targets > 0 ? b : undefined;
      }, { timeoutMs: 5_000, intervalMs: 5, what: 'worker-1 to have targets in flight' }).catch(() => undefined);
      busy ??= await pollUntil(async () => {
        const b = await busyLeases(killedOwner);
        return b.targets > 0 || b.accounts > 0 ? b : undefined;
      }, { timeoutMs: 20_000, intervalMs: 10, what: 'worker-1 to hold leases on work not yet done' });
      worker2Owner = (await leaseOwners()).find((o) => o !== killedOwner) ?? null;
      const held = await accountsHeld();
      killedWhile = `${busy.targets} targets in flight, ${busy.accounts} accounts with work; accounts leased: worker-1 ${held.get(killedOwner) ?? 0}, worker-2 ${worker2Owner === null ? 0 : (held.get(worker2Owner) ?? 0)} of ${PROVIDERS}`;
      const before = await pushOutcomes(worker1);
      killedAtMs = performance.now() - writesStarted;
      const exit = await worker1.kill();
      pushes.push(`${before} (until killed)`);
      assert.equal(exit.signal, 'SIGKILL');
      await startRole('worker-3', 'worker');
      // Then the database "restarts" as far as the processes can tell: every connection of theirs
      // is cut at once (their application_name; the test's own pool is not). They must reconnect
      // by themselves; requests caught in the cut answer 503 and the client retries them.
      const cut = await db.query<{ n: string }>(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'sessionsync'",
      );
      backendsCut = Number(cut.rows[0]?.n ?? 0);
      assert.ok(backendsCut > 0, 'the processes had connections to cut');
    };
    await Promise.all([writeAll(), churn()]);
    const writesDoneMs = performance.now() - writesStarted;
    assert.equal(changesDone, 150);
    assert.ok(worker2Owner !== killedOwner);

    // ---- 5. convergence --------------------------------------------------------------------------
    let lastHealth: SyncHealthBody | null = null;
    let polls = 0;
    const health = await pollUntil(
      async () => {
        const reply = await admin(polls++, 'GET', '/api/v1/admin/sync-health');
        expectStatus(reply, [200], 'sync-health');
        const h = reply.body as SyncHealthBody;
        lastHealth = h;
        if (h.targets.dead > 0) assert.fail(`dead targets: ${JSON.stringify(h.deadTargets)}`);
        return h.targets.pending === 0 && h.targets.retrying === 0 ? h : undefined;
      },
      { timeoutMs: CONVERGE_TIMEOUT_MS, intervalMs: 200, what: 'sync-health to show pending 0 and retrying 0', describe: () => JSON.stringify(lastHealth?.targets) },
    );
    const convergedMs = performance.now() - writesStarted;
    assert.deepEqual(health.connectionsNeedingReauth, []);
    assert.equal(health.targets.dead, 0);
    assert.equal(health.targets.synced, PROVIDERS * SESSIONS_PER_PROVIDER, 'one synced target per session and connection (deleted sessions keep theirs)');

    // ---- 6. what the calendars hold -------------------------------------------------------------
    const problems: string[] = [];
    const createLatency: number[] = [];
    const rescheduleLatency: number[] = [];
    for (let i = 0; i < PROVIDERS; i++) {
      const kind = kindOf(i);
      const events = fakeOf(kind).events(calendarIdOf(i));
      const untagged = events.filter((e) => e.tag === null);
      if (untagged.length > 0) problems.push(`${calendarIdOf(i)}: ${untagged.length} events without our tag`);
      const live = new Map<string, FakeStoredEvent[]>();
      for (const e of events) if (e.tag !== null && !e.cancelled) live.set(e.tag.key, [...(live.get(e.tag.key) ?? []), e]);
      const scheduled = plan[i]!.filter((p) => p.status === 'scheduled');
      const expectedKeys = new Set(scheduled.map((p) => p.key));
      for (const [key, copies] of live) {
        if (!expectedKeys.has(key)) {
          const p = plan[i]!.find((q) => q.key === key);
          problems.push(`${calendarIdOf(i)}: a live event for ${key}, which is ${p?.status ?? 'not ours'}`);
        } else if (copies.length !== 1) {
          problems.push(`${calendarIdOf(i)}: ${copies.length} live events for ${key} (duplicates)`);
        }
      }
      for (const p of scheduled) {
        const event = live.get(p.key)?.[0];
        if (event === undefined) {
          problems.push(`${calendarIdOf(i)}: no event for ${p.key}`);
          continue;
        }
        if (Date.parse(event.start) !== Date.parse(p.start) || Date.parse(event.end) !== Date.parse(p.end)) {
          problems.push(`${calendarIdOf(i)}: ${p.key} is ${event.start}..${event.end}, wrote ${p.start}..${p.end}`);
        }
        if (event.summary !== 'Telehealth session') problems.push(`${calendarIdOf(i)}: ${p.key} has summary ${JSON.stringify(event.summary)}`);
        if (event.location !== linkOf(i)) problems.push(`${calendarIdOf(i)}: ${p.key} has location ${JSON.stringify(event.location)}`);
        const times = eventTimes(kind, event);
        createLatency.push(times.created - p.writtenAt);
        if (p.rescheduledAt !== null) rescheduleLatency.push(times.modified - p.rescheduledAt);
      }
    }
    assert.deepEqual(problems, [], 'every calendar holds exactly the scheduled sessions, once each, as written');

    // ---- 7. a resync after convergence finds nothing to do --------------------------------------
    const writeCounts = () => [google, graph].flatMap((f) => (['create', 'update', 'delete'] as const).map((op) => f.requestCount(op)));
    const writesBefore = writeCounts();
    const resyncStarted = performance.now();
    const queued = await admin(0, 'POST', '/api/v1/admin/resync', {});
    expectStatus(queued, [202], 'POST resync');
    const jobId = (queued.body as { jobId: string }).jobId;
    const job = await pollUntil(
      async () => {
        const reply = await admin(1, 'GET', `/api/v1/admin/jobs/${jobId}`);
        expectStatus(reply, [200], 'GET job');
        const body = reply.body as JobBody;
        if (body.status === 'failed') assert.fail(`the resync failed: ${reply.text}`);
        return body.status === 'succeeded' ? body : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'the resync job to succeed' },
    );
    const resyncMs = performance.now() - resyncStarted;
    const scheduledCount = plan.flat().filter((p) => p.status === 'scheduled').length;
    assert.equal(scheduledCount, 450);
    assert.deepEqual(job.progress, { total: scheduledCount, done: scheduledCount, created: 0, updated: 0, deleted: 0, unchanged: scheduledCount, failed: 0 });
    assert.deepEqual(writeCounts(), writesBefore, 'the fakes saw no write during the resync');

    // ---- 8. SIGTERM: clean exits, leases given back -----------------------------------------------
    for (const worker of group.running().filter((p) => p.role === 'worker')) pushes.push(await pushOutcomes(worker));
    const stopped = await group.stopAll({ timeoutMs: 12_000 });
    assert.deepEqual([...stopped.keys()].sort(), ['api-1', 'api-2', 'worker-2', 'worker-3']);
    for (const [name, result] of stopped) {
      assert.ok(!result.timedOut && result.ms < 10_000, `${name} exited within 10 s (took ${Math.round(result.ms)} ms)`);
      const server = group.all().find((p) => p.name === name)!;
      assert.deepEqual({ code: result.code, signal: result.signal }, { code: 0, signal: null }, `${name} exited with code 0; stderr: ${server.stderr().slice(-2000)}`);
    }
    // Every lease left must be worker-1's: it died holding them, the others gave theirs back on
    // SIGTERM (worker-1's owner is known from the time it was the only worker).
    const { rows: leases } = await db.query<LeaseRow>(
      `SELECT 'connections' AS tbl, lease_owner, count(*) AS n FROM ${s}.connections WHERE lease_owner IS NOT NULL GROUP BY lease_owner
       UNION ALL SELECT 'sync_targets', lease_owner, count(*) FROM ${s}.sync_targets WHERE lease_owner IS NOT NULL GROUP BY lease_owner
       UNION ALL SELECT 'resync_jobs', lease_owner, count(*) FROM ${s}.resync_jobs WHERE lease_owner IS NOT NULL GROUP BY lease_owner`,
    );
    assert.deepEqual(
      leases.filter((l) => l.lease_owner !== killedOwner),
      [],
      'no lease held by a process that was SIGTERMed',
    );

    // ---- 9. figures (printed, not asserted) -------------------------------------------------------
    const leftByKilled = leases.map((l) => `${l.tbl} ${l.n}`).join(', ') || 'none';
    const shutdown = [...stopped].map(([name, r]) => `${name} ${Math.round(r.ms)} ms`).join(', ');
    const warnings = warningsByServer(group);
    console.log(`      writes: 500 sessions + 150 changes answered in ${Math.round(writesDoneMs)} ms; worker-1 SIGKILLed at ${Math.round(killedAtMs)} ms with ${killedWhile}; then ${backendsCut} database connections of the processes cut`);
    console.log(`      convergence: ${Math.round(convergedMs)} ms from the first write to pending 0 / retrying 0 (lease ${LEASE_MS} ms)`);
    console.log(`      change-to-push, create (PUT answered -> event created in the fake): ${summarise(createLatency)}`);
    console.log(`      change-to-push, reschedule (PUT answered -> event last changed): ${summarise(rescheduleLatency)}`);
    console.log(`      push attempts by worker: ${pushes.join('; ')}`);
    console.log(`      resync of ${scheduledCount} events: ${Math.round(resyncMs)} ms, 0 writes`);
    console.log(`      SIGTERM to exit: ${shutdown}; leases left by the killed worker: ${leftByKilled}`);
    console.log(`      log records at warn or above: ${warnings}`);
    const retriedText = [...retried].map(([pattern, n]) => `${pattern} x${n}`).join(', ') || 'none';
    console.log(`      requests answered 503 SERVICE_UNAVAILABLE and retried: ${retriedText}`);
  });
});
