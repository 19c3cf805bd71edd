import assert from 'node:assert/strict';
import type { FakeStoredEvent } from '../fakes/fake-calendar.js';
import { describePostgres } from '../support/postgres.js';
import { pollUntil, type ServerProcess } from '../support/processes.js';
import { connectProvider, databaseProbes, expectListedConnection, expectStatus, LEASE_MS, scaleServers, send as call, soleLeaseOwner, useScaleRig, warningsByServer, type Kind } from '../support/scale-rig.js';

// Leaving cleanly (issue 11) with real processes: one API and two worker processes of the real
// server on one PostgreSQL schema, pushing to a fake Google and a fake Graph. Half the providers
// are offboarded, half deleted, while the vendors answer 503 and the Graph calls hang; the worker
// holding the work is SIGKILLed midway and replaced. Every calendar must end with none of our
// events and the person's own event untouched, every grant revoked, every token forgotten, every
// feed URL an empty calendar, and the audit log holding the counts. Everything goes over the
// public interfaces (HTTP, the fakes' wire protocols); the database is only read (leases, tokens).

const PROVIDERS = 8;
const GOOGLE_PROVIDERS = 4;
const SESSIONS_PER_PROVIDER = 15;
const SESSION_MS = 50 * 60_000;
const SLOT_MS = 2 * 60 * 60_000;
/** Upper bound of the wait for every offboarding to finish: the killed worker's lease, retries, margin. */
const OFFBOARD_TIMEOUT_MS = LEASE_MS + 30_000;
/** Injected before the removals: deletes answered 503 (Retry-After 1 s) on each fake, and Google revocations. */
const GOOGLE_DELETE_FAULTS = 20;
const GRAPH_DELETE_FAULTS = 5;
const GOOGLE_REVOKE_FAULTS = 2;

type Mode = 'offboard' | 'delete';

interface OffboardingBody {
  id: string;
  providerId: string;
  mode: Mode;
  status: 'removing' | 'done' | 'incomplete';
  finishedAt: string | null;
  feedsTombstoned: number;
  connections: { connectionId: string; kind: Kind; status: string; eventsRemoved: number; eventsLeft: number; grant: string | null; reason: string | null; pending: number }[];
}

interface AuditBody {
  entries: { id: number; action: string; target: string; details: Record<string, string | number | boolean | null> }[];
}

interface SyncHealthBody {
  targets: { pending: number; retrying: number; dead: number; synced: number };
}

const providerId = (i: number) => `p${i}`;
const calendarIdOf = (i: number) => `cal-p${i}`;
const linkOf = (i: number) => `https://doxy.me/offboard-room-${i}`;
const kindOf = (i: number): Kind => (i < GOOGLE_PROVIDERS ? 'google' : 'outlook');
/** Alternating, so that each vendor has providers of both modes. */
const modeOf = (i: number): Mode => (i % 2 === 0 ? 'offboard' : 'delete');
/** The Microsoft user who consents for provider i: one each, as providers have their own accounts. */
const graphUserOf = (i: number) => `provider-${i}@example.test`;
/** Each Google provider consents with an account of its own: a grant is per account, and one shared would be kept until the last goes. */
const googleUserOf = (i: number) => `provider${i}@gmail.example`;
const sessionIdOf = (j: number) => `s${String(j).padStart(2, '0')}`;

/** Our events still live in a calendar (Google keeps a deleted event as "cancelled"; Graph drops it). */
const liveTagged = (events: readonly FakeStoredEvent[]) => events.filter((e) => e.tag !== null && !e.cancelled);

describePostgres('offboarding across processes (PostgreSQL)', (url) => {
  // Its after hook lets the Graph calls held below go before it stops the processes.
  const rig = useScaleRig(url, { tempPrefix: 'sessionsync-offboard-' });

  it('when half the providers are offboarded and half deleted while the vendors fail and the busy worker is SIGKILLed, then no event of ours is left, the person\'s own events stay, every grant is revoked and every token forgotten, feeds serve empty calendars and the audit log has the counts', async function () {
    this.timeout(180_000);
    const { google, graph, schema: s, pool: db, group, fakeOf } = rig();
    const started = performance.now();
    const since = () => Math.round(performance.now() - started);

    // ---- configuration shared by every process, and database probes (reads only) ---------------
    const { adminToken, platformToken, startRole } = scaleServers(rig(), { GOOGLE_REVOKE_URL: google.revokeUrl });
    const { leasesByOwner, connectionsWithTokens } = databaseProbes(rig());
    /** Grants the fakes consider gone: Google refresh tokens issued by code redemption, Graph users' own consent. */
    const googleRefreshTokens = (): string[] =>
      google.requests.flatMap((r) => {
        if (r.operation !== 'token' || (r.body as Record<string, string> | null)?.['grant_type'] !== 'authorization_code' || r.responseBody === null) return [];
        const refresh = (JSON.parse(r.responseBody) as { refresh_token?: unknown }).refresh_token;
        return typeof refresh === 'string' ? [refresh] : [];
      });
    const graphUsersWithConsent = (): Set<string> => new Set(graph.permissionGrants().flatMap((g) => (g.consentType === 'Principal' && g.principalId !== null ? [g.principalId] : [])));
    const grantsGoneAtFakes = (): number => {
      const withConsent = graphUsersWithConsent();
      const outlook = Array.from({ length: PROVIDERS }, (_, i) => i).filter((i) => kindOf(i) === 'outlook');
      return googleRefreshTokens().filter((t) => google.isGrantRevoked(t)).length + outlook.filter((i) => !withConsent.has(graph.userId(graphUserOf(i)))).length;
    };

    // ---- 1. processes: one API, worker-1 alone first (so that its lease owner is known) ----------
    const [api, worker1] = await Promise.all([startRole('api-1', 'api'), startRole('worker-1', 'worker')]);
    for (const server of [api, worker1]) expectStatus(await call(server.url, 'GET', '/readyz', null), [200], `${server.name} /readyz`);
    assert.deepEqual([api.role, worker1.role], ['api', 'worker']);
    const platform = (method: string, route: string, body?: unknown) => call(api.url, method, route, platformToken, body);
    const admin = (method: string, route: string, body?: unknown) => call(api.url, method, route, adminToken, body);

    // ---- 2. providers, each with a calendar of its own connected through the OAuth flow ----------
    const connectionIds: string[] = [];
    await Promise.all(
      Array.from({ length: PROVIDERS }, async (_, i) => {
        const id = providerId(i);
        connectionIds[i] = await connectProvider({ index: i, id, kind: kindOf(i), calendarId: calendarIdOf(i), link: linkOf(i) }, {
          platform,
          // Each Outlook provider consents as a Microsoft user of their own: revoking one provider's
          // grant must not reach another's calendar.
          issueCode: (challenge, redirect) =>
            kindOf(i) === 'google' ? google.issueAuthorizationCode(challenge, redirect, googleUserOf(i)) : graph.issueAuthorizationCode(challenge, redirect, graphUserOf(i)),
          callback: (route) => call(api.url, 'GET', route, null),
          callbackWhat: `OAuth callback of ${id}`,
        });
      }),
    );
    for (let i = 0; i < PROVIDERS; i++) {
      const listed = await platform('GET', `/api/v1/providers/${providerId(i)}/connections`);
      expectListedConnection(listed, providerId(i), [connectionIds[i], 'active', kindOf(i), calendarIdOf(i)]);
    }
    assert.equal(googleRefreshTokens().length, GOOGLE_PROVIDERS, 'one Google grant per Google provider');
    assert.equal(graphUsersWithConsent().size, PROVIDERS - GOOGLE_PROVIDERS, 'one Microsoft consent grant per Outlook provider');

    // ---- 3. sessions, pushed by worker-1 ----------------------------------------------------------
    const base = Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 24 * 3_600_000;
    const startOf = (j: number) => base + j * SLOT_MS;
    // While worker-1 is the only worker, the one lease owner that appears is its own.
    const worker1Owner = soleLeaseOwner(async () => [...(await leasesByOwner()).keys()], 10);
    // Awaited below; a failure of the writes first must not leave it rejected unhandled.
    worker1Owner.catch(() => undefined);
    await Promise.all(
      Array.from({ length: PROVIDERS }, async (_, i) => {
        for (let j = 0; j < SESSIONS_PER_PROVIDER; j++) {
          const reply = await platform('PUT', `/api/v1/providers/${providerId(i)}/sessions/${sessionIdOf(j)}`, { start: new Date(startOf(j)).toISOString(), end: new Date(startOf(j) + SESSION_MS).toISOString() });
          expectStatus(reply, [201], `PUT ${providerId(i)}/${sessionIdOf(j)}`);
        }
      }),
    );
    const expectedKeys = (i: number) => Array.from({ length: SESSIONS_PER_PROVIDER }, (_, j) => `${providerId(i)}/${sessionIdOf(j)}`).sort();
    const pushState = () =>
      Array.from({ length: PROVIDERS }, (_, i) => `${calendarIdOf(i)} ${liveTagged(fakeOf(kindOf(i)).events(calendarIdOf(i))).length}`).join(', ');
    await pollUntil(
      () => {
        for (let i = 0; i < PROVIDERS; i++) {
          const keys = liveTagged(fakeOf(kindOf(i)).events(calendarIdOf(i))).map((e) => e.tag!.key).sort();
          if (JSON.stringify(keys) !== JSON.stringify(expectedKeys(i))) return undefined;
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'every calendar to hold exactly its sessions', describe: pushState },
    );
    const pushedMs = since();
    // The push is recorded too (the targets synced), so that each offboarding knows its events.
    await pollUntil(
      async () => {
        const reply = await admin('GET', '/api/v1/admin/sync-health');
        expectStatus(reply, [200], 'sync-health');
        const h = reply.body as SyncHealthBody;
        return h.targets.pending === 0 && h.targets.retrying === 0 && h.targets.synced === PROVIDERS * SESSIONS_PER_PROVIDER ? h : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'sync-health to show every target synced' },
    );
    const worker1OwnerId = await worker1Owner;
    const worker2 = await startRole('worker-2', 'worker');

    // ---- 4. the person's own event in every calendar, and a feed URL per provider --------------
    const untagged = Array.from({ length: PROVIDERS }, (_, i) => {
      const start = new Date(base - 3 * 3_600_000).toISOString();
      const end = new Date(base - 2 * 3_600_000).toISOString();
      const id = fakeOf(kindOf(i)).addUntaggedEvent(calendarIdOf(i), `Lunch ${i}`, start, end);
      return { id, summary: `Lunch ${i}`, start, end };
    });
    const feedPaths: string[] = [];
    const feedNames: string[] = [];
    const calendarName = (ics: string) => /^X-WR-CALNAME:.*$/m.exec(ics)?.[0].replace(/\r$/, '') ?? null;
    for (let i = 0; i < PROVIDERS; i++) {
      const created = await platform('POST', `/api/v1/providers/${providerId(i)}/feeds`, { label: 'phone' });
      expectStatus(created, [201], `feed of ${providerId(i)}`);
      const feedUrl = new URL((created.body as { url: string }).url);
      feedPaths[i] = feedUrl.pathname;
      const feed = await call(api.url, 'GET', feedUrl.pathname, null);
      expectStatus(feed, [200], `feed of ${providerId(i)} before offboarding`);
      assert.equal(feed.text.match(/^BEGIN:VEVENT\r?$/gm)?.length ?? 0, SESSIONS_PER_PROVIDER, `the feed of ${providerId(i)} lists its sessions`);
      const name = calendarName(feed.text);
      assert.ok(name !== null, `the feed of ${providerId(i)} has a name`);
      feedNames[i] = name;
    }
    const tokensBefore = await connectionsWithTokens();
    assert.deepEqual(tokensBefore, [...connectionIds].sort(), 'every connection holds tokens before');

    // ---- 5. faults, then offboard half and delete half -------------------------------------------
    // Deletes answered 503 with Retry-After on both vendors, Google revocations failing twice, and
    // every Graph call hanging until released: removals are in flight when the worker dies.
    google.inject({ operation: 'delete', status: 503, retryAfterSeconds: 1, times: GOOGLE_DELETE_FAULTS });
    google.inject({ operation: 'revoke', status: 503, retryAfterSeconds: 1, times: GOOGLE_REVOKE_FAULTS });
    graph.inject({ operation: 'delete', status: 503, retryAfterSeconds: 1, times: GRAPH_DELETE_FAULTS });
    graph.hold();
    const offboardStarted = performance.now();
    const offboardingIds: string[] = [];
    await Promise.all(
      Array.from({ length: PROVIDERS }, async (_, i) => {
        const id = providerId(i);
        const reply = modeOf(i) === 'offboard' ? await platform('POST', `/api/v1/providers/${id}/offboard`) : await platform('DELETE', `/api/v1/providers/${id}`);
        expectStatus(reply, [202], `${modeOf(i)} ${id}`);
        const body = reply.body as OffboardingBody;
        assert.deepEqual([body.providerId, body.mode, body.status, body.connections.length], [id, modeOf(i), 'removing', 1], `the answer to ${modeOf(i)} ${id}`);
        offboardingIds[i] = body.id;
      }),
    );
    // Asking again answers the same offboarding.
    const again = await platform('POST', `/api/v1/providers/${providerId(0)}/offboard`);
    expectStatus(again, [202], 'offboard p0 again');
    assert.equal((again.body as OffboardingBody).id, offboardingIds[0]);

    // ---- 6. SIGKILL the worker holding the most work, while Graph calls of its hang --------------
    await pollUntil(() => (graph.heldCount() > 0 ? true : undefined), { timeoutMs: 15_000, intervalMs: 10, what: 'a Graph call to be in flight' });
    const leases = await pollUntil(
      async () => {
        const byOwner = await leasesByOwner();
        return [...byOwner.values()].some((l) => l.targets > 0) ? byOwner : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 10, what: 'a worker to hold removals in flight' },
    );
    const [victimOwner, victimLeases] = [...leases].sort((a, b) => b[1].targets - a[1].targets || b[1].accounts - a[1].accounts)[0]!;
    // worker-1's owner id is known from the time it was the only worker; any other is worker-2's.
    const victim: ServerProcess = victimOwner === worker1OwnerId ? worker1 : worker2;
    const heldAtKill = graph.heldCount();
    const killedAtMs = Math.round(performance.now() - offboardStarted);
    const exit = await victim.kill();
    assert.equal(exit.signal, 'SIGKILL');
    // What had reached the vendors when it died (database first: grants only ever go, so a grant
    // counted gone here and not finished there was revoked by a worker that never recorded it).
    const unfinishedAtKill = (await connectionsWithTokens()).length;
    const revokedUnrecorded = Math.max(0, grantsGoneAtFakes() - (PROVIDERS - unfinishedAtKill));
    // The hanging Graph calls go on (those of the dead worker are applied with nobody to hear).
    graph.stopHolding();
    const replacement = await startRole('worker-3', 'worker');
    const survivors = [worker1, worker2].filter((w) => w !== victim).map((w) => w.name);

    // ---- 7. every offboarding finishes ------------------------------------------------------------
    let last: OffboardingBody[] = [];
    let sawRetrying = 0;
    const finished = await pollUntil(
      async () => {
        const health = await admin('GET', '/api/v1/admin/sync-health');
        expectStatus(health, [200], 'sync-health');
        sawRetrying = Math.max(sawRetrying, (health.body as SyncHealthBody).targets.retrying);
        last = await Promise.all(
          offboardingIds.map(async (id) => {
            const reply = await platform('GET', `/api/v1/offboardings/${id}`);
            expectStatus(reply, [200], `GET offboarding ${id}`);
            return reply.body as OffboardingBody;
          }),
        );
        const notDone = last.filter((o) => o.status !== 'done');
        const incomplete = notDone.find((o) => o.status === 'incomplete');
        if (incomplete !== undefined) assert.fail(`an offboarding ended incomplete: ${JSON.stringify(incomplete)}`);
        return notDone.length === 0 ? last : undefined;
      },
      {
        timeoutMs: OFFBOARD_TIMEOUT_MS,
        intervalMs: 200,
        what: 'every offboarding to be done',
        describe: () => JSON.stringify(last.filter((o) => o.status !== 'done').map((o) => ({ providerId: o.providerId, status: o.status, connections: o.connections }))),
      },
    );
    const doneMs = Math.round(performance.now() - offboardStarted);

    // ---- 8. what the calendars, the vendors and the database hold ------------------------------
    const problems: string[] = [];
    for (let i = 0; i < PROVIDERS; i++) {
      const events = fakeOf(kindOf(i)).events(calendarIdOf(i));
      const ours = liveTagged(events);
      if (ours.length > 0) problems.push(`${calendarIdOf(i)}: ${ours.length} events of ours left (${ours.map((e) => e.tag!.key).join(', ')})`);
      const own = events.filter((e) => e.tag === null);
      const expected = untagged[i]!;
      if (own.length !== 1 || own[0]!.id !== expected.id || own[0]!.cancelled || own[0]!.summary !== expected.summary || Date.parse(own[0]!.start) !== Date.parse(expected.start) || Date.parse(own[0]!.end) !== Date.parse(expected.end)) {
        problems.push(`${calendarIdOf(i)}: the person's own event is not as they left it: ${JSON.stringify(own.map((e) => ({ id: e.id, summary: e.summary, start: e.start, end: e.end, cancelled: e.cancelled })))}`);
      }
    }
    assert.deepEqual(problems, [], 'every calendar holds the person\'s own event and none of ours');

    const refreshTokens = googleRefreshTokens();
    assert.deepEqual(
      refreshTokens.map((t) => google.isGrantRevoked(t)),
      refreshTokens.map(() => true),
      'every Google grant is revoked',
    );
    assert.deepEqual([...graphUsersWithConsent()], [], 'every Microsoft user\'s consent grant is deleted');
    assert.ok(google.requestCount('revoke') >= GOOGLE_PROVIDERS + GOOGLE_REVOKE_FAULTS, `Google revocations: ${google.requestCount('revoke')}`);
    assert.ok(graph.requestCount('revoke') >= PROVIDERS - GOOGLE_PROVIDERS, `Graph revocations: ${graph.requestCount('revoke')}`);
    assert.deepEqual(await connectionsWithTokens(), [], 'no connection holds tokens any more');
    const { rows: rowsLeft } = await db.query<{ id: string; provider_id: string; status: string }>(`SELECT id, provider_id, status FROM ${s}.connections ORDER BY provider_id`);
    assert.deepEqual(
      rowsLeft.map((r) => [r.provider_id, r.status]),
      Array.from({ length: PROVIDERS }, (_, i) => i)
        .filter((i) => modeOf(i) === 'offboard')
        .map((i) => [providerId(i), 'disconnected']),
      'offboarded providers keep their connection rows (disconnected), deleted providers have none',
    );

    // Each offboarding: its sessions removed, none left, the grant revoked. A grant whose
    // revocation reached the vendor from the killed worker, which died before recording it, is
    // found gone on the retry ('already_invalid'): only as many as the fakes showed at the kill.
    const alreadyInvalid = finished.filter((o) => o.connections[0]?.grant === 'already_invalid').length;
    assert.ok(alreadyInvalid <= revokedUnrecorded, `${alreadyInvalid} grants 'already_invalid', ${revokedUnrecorded} revoked and not recorded at the kill`);
    for (let i = 0; i < PROVIDERS; i++) {
      const o = finished[i]!;
      const [c] = o.connections;
      assert.deepEqual(
        { providerId: o.providerId, mode: o.mode, status: o.status, feedsTombstoned: o.feedsTombstoned, connections: o.connections.length },
        { providerId: providerId(i), mode: modeOf(i), status: 'done', feedsTombstoned: 1, connections: 1 },
        `offboarding of ${providerId(i)}`,
      );
      assert.ok(c && (c.grant === 'revoked' || (c.grant === 'already_invalid' && revokedUnrecorded > 0)), `grant of ${providerId(i)}: ${c?.grant}`);
      assert.deepEqual(
        { connectionId: c.connectionId, kind: c.kind, status: c.status, eventsRemoved: c.eventsRemoved, eventsLeft: c.eventsLeft, reason: c.reason, pending: c.pending },
        { connectionId: connectionIds[i], kind: kindOf(i), status: 'done', eventsRemoved: SESSIONS_PER_PROVIDER, eventsLeft: 0, reason: null, pending: 0 },
        `the calendar of ${providerId(i)}`,
      );
      const listed = await platform('GET', `/api/v1/providers/${providerId(i)}/offboardings`);
      expectStatus(listed, [200], `offboardings of ${providerId(i)}`);
      assert.deepEqual((listed.body as { offboardings: { id: string }[] }).offboardings.map((x) => x.id), [offboardingIds[i]]);
    }

    // Offboarded providers stay (gone from sync), deleted ones are gone.
    for (let i = 0; i < PROVIDERS; i++) {
      const reply = await platform('GET', `/api/v1/providers/${providerId(i)}`);
      if (modeOf(i) === 'offboard') {
        expectStatus(reply, [200], `GET offboarded ${providerId(i)}`);
        assert.equal(typeof (reply.body as { offboardedAt: unknown }).offboardedAt, 'string', `${providerId(i)} has offboardedAt`);
      } else {
        expectStatus(reply, [404], `GET deleted ${providerId(i)}`);
      }
    }

    // Every feed URL: an empty calendar under the same name.
    for (let i = 0; i < PROVIDERS; i++) {
      const feed = await call(api.url, 'GET', feedPaths[i]!, null);
      expectStatus(feed, [200], `feed of ${providerId(i)} after ${modeOf(i)}`);
      assert.match(feed.text, /^BEGIN:VCALENDAR\r?$/m, `the feed of ${providerId(i)} is a calendar`);
      assert.equal(calendarName(feed.text), feedNames[i], `the feed of ${providerId(i)} keeps its name`);
      assert.doesNotMatch(feed.text, /BEGIN:VEVENT/, `the feed of ${providerId(i)} has no event`);
    }

    // The audit log: per provider one start, one per calendar and one final entry with the counts.
    const audit = await admin('GET', '/api/v1/admin/audit?limit=500');
    expectStatus(audit, [200], 'GET audit');
    const entries = (audit.body as AuditBody).entries;
    for (let i = 0; i < PROVIDERS; i++) {
      const final = entries.filter((e) => e.target === `provider:${providerId(i)}` && (e.action === 'provider.offboard' || e.action === 'provider.delete'));
      assert.equal(final.length, 1, `one final audit entry for ${providerId(i)}: ${JSON.stringify(final)}`);
      const grantsRevoked = finished[i]!.connections.filter((c) => c.grant === 'revoked' || c.grant === 'already_invalid').length;
      assert.deepEqual(
        { action: final[0]!.action, details: final[0]!.details },
        {
          action: modeOf(i) === 'offboard' ? 'provider.offboard' : 'provider.delete',
          details: { offboardingId: offboardingIds[i]!, connections: 1, eventsRemoved: SESSIONS_PER_PROVIDER, eventsLeft: 0, grantsRevoked, failures: 0, feedsTombstoned: 1 },
        },
        `the final audit entry of ${providerId(i)}`,
      );
      assert.equal(grantsRevoked, 1);
      assert.equal(entries.filter((e) => e.target === `provider:${providerId(i)}` && e.action === 'provider.offboard.start').length, 1, `one start entry for ${providerId(i)}`);
      const perCalendar = entries.filter((e) => e.target === `connection:${connectionIds[i]!}` && e.action === 'connection.offboard');
      assert.equal(perCalendar.length, 1, `one connection.offboard entry for ${providerId(i)}`);
      assert.deepEqual(
        { status: perCalendar[0]!.details['status'], eventsRemoved: perCalendar[0]!.details['eventsRemoved'], eventsLeft: perCalendar[0]!.details['eventsLeft'], offboardingId: perCalendar[0]!.details['offboardingId'] },
        { status: 'done', eventsRemoved: SESSIONS_PER_PROVIDER, eventsLeft: 0, offboardingId: offboardingIds[i]! },
      );
    }

    // Nothing left to do for the workers.
    const health = await admin('GET', '/api/v1/admin/sync-health');
    expectStatus(health, [200], 'sync-health after');
    assert.deepEqual((health.body as SyncHealthBody).targets, { pending: 0, retrying: 0, dead: 0, synced: 0 });

    // ---- 9. figures (printed, not asserted) -------------------------------------------------------
    const warnings = warningsByServer(group);
    console.log(`      setup: ${PROVIDERS} providers x ${SESSIONS_PER_PROVIDER} sessions pushed in ${pushedMs} ms from the start`);
    console.log(
      `      ${victim.name} SIGKILLed ${killedAtMs} ms after the offboard requests, holding ${victimLeases.targets} targets and ${victimLeases.accounts} accounts (${heldAtKill} Graph calls hanging); ${unfinishedAtKill} calendars unfinished then; ${survivors.join(', ')} and ${replacement.name} went on`,
    );
    console.log(`      all ${PROVIDERS} offboardings done ${doneMs} ms after the requests (lease ${LEASE_MS} ms); up to ${sawRetrying} targets retrying seen in sync-health`);
    console.log(
      `      vendor calls: Google delete ${google.requestCount('delete')} revoke ${google.requestCount('revoke')}, Graph delete ${graph.requestCount('delete')} revoke ${graph.requestCount('revoke')}; grants 'already_invalid' ${alreadyInvalid}`,
    );
    console.log(`      log records at warn or above: ${warnings}`);
  });
});
