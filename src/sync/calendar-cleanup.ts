import type { SecretBox } from '../crypto/secret-box.js';
import { SyncError } from '../domain/index.js';
import type {
  CalendarConnector,
  CleanupOutcome,
  Clock,
  Connection,
  ConnectionCleanup,
  ConnectionKind,
  OAuthProvider,
  OAuthTokens,
  Store,
  StoreTx,
} from '../domain/index.js';
import type { Logger } from '../logger.js';
import { loggableError } from '../logger.js';
import { connectorSession, openTokens } from './connection-tokens.js';
import { MAX_ATTEMPTS, retryDelayMs } from './retry-policy.js';

// Leaving a calendar cleanly (issue 11): a disconnect or an offboarding removes every event we
// wrote, revokes the grant at the vendor, and only then forgets the tokens. The removals are the
// sync worker's ordinary work (a connection with `cleanup` set wants no event for any target), so
// a 503 or a 429 midway is retried with the same backoff and shows in sync-health, and a crash
// resumes from the targets' state. Once none is pending, finishCleanup sweeps what still carries
// our tag, revokes, forgets and records the outcome, in that order: the tokens are the only way
// to reach the calendar, so they go last.

export interface CleanupDeps {
  store: Store;
  clock: Clock;
  secrets: SecretBox;
  logger: Logger;
  oauth: ReadonlyMap<ConnectionKind, OAuthProvider>;
  connectors: ReadonlyMap<ConnectionKind, CalendarConnector>;
  random?: () => number;
}

/** What asks for a cleanup: the part of ConnectionCleanup its caller decides. */
export type CleanupRequest = Pick<ConnectionCleanup, 'reason' | 'offboardingId' | 'removeEvents' | 'actor'>;

const EPOCH = new Date(0).toISOString();

/** A connection's outcome: 'removing' with nothing counted yet, unless `fields` say otherwise. */
export function outcome(connection: Pick<Connection, 'id' | 'kind'>, fields: Partial<CleanupOutcome> = {}): CleanupOutcome {
  return { connectionId: connection.id, kind: connection.kind, status: 'removing', eventsRemoved: 0, eventsLeft: 0, grant: null, reason: null, ...fields };
}

/** Why a connection that is not active cannot reach its calendar, as the outcome's reason. */
function unreachableReason(connection: Connection): string {
  return connection.status === 'needs_reauth' ? 'NEEDS_REAUTH' : (connection.lastErrorCode ?? 'CONNECTION_ERROR');
}

/**
 * Starts the cleanup of one connection, inside the caller's transaction (under its provider or
 * connection lock). An authorised connection gets `cleanup` and its targets are made to want no
 * event: the answer is 'removing'. One that cannot reach its calendar (needs_reauth, error, never
 * authorised) is disconnected at once and the answer says what stays behind, never silently.
 */
export async function beginCleanup(tx: StoreTx, connection: Connection, request: CleanupRequest, at: string): Promise<CleanupOutcome> {
  if (connection.status === 'active' && connection.sealedTokens !== null) {
    let expected = 0;
    if (request.removeEvents) expected = await tx.prepareTargetsForRemoval(connection.id, at);
    else await tx.deleteTargets(connection.id);
    const cleanup: ConnectionCleanup = { ...request, requestedAt: at, expected, swept: null, attempts: 0, notBefore: at, lastErrorCode: null };
    await tx.putConnection({ ...connection, cleanup, pendingAuth: null, updatedAt: at });
    return outcome(connection);
  }
  const left = (await tx.listTargets(connection.id)).filter((t) => t.externalId !== null).length;
  const reason =
    connection.status === 'needs_reauth' || connection.status === 'error'
      ? unreachableReason(connection)
      : connection.sealedTokens === null && connection.lastSyncedAt === null
        ? null
        : 'NOT_AUTHORIZED';
  const result = outcome(connection, { status: reason === null ? 'done' : 'incomplete', eventsLeft: request.removeEvents ? left : 0, grant: 'not_attempted', reason });
  await forget(tx, connection, request, result, at);
  return result;
}

/** The tokens go, the targets with them, and the audit log keeps the counts (ids only). */
async function forget(tx: StoreTx, connection: Connection, request: CleanupRequest, result: CleanupOutcome, at: string): Promise<void> {
  await tx.putConnection({ ...connection, status: 'disconnected', sealedTokens: null, pendingAuth: null, cleanup: null, lastErrorCode: result.reason, updatedAt: at });
  await tx.deleteTargets(connection.id);
  await tx.appendAudit({
    at,
    actor: request.actor,
    action: request.reason === 'offboard' ? 'connection.offboard' : 'connection.disconnect',
    target: `connection:${connection.id}`,
    details: {
      providerId: connection.providerId,
      offboardingId: request.offboardingId,
      removeEvents: request.removeEvents,
      status: result.status,
      eventsRemoved: result.eventsRemoved,
      eventsLeft: result.eventsLeft,
      grant: result.grant,
      reason: result.reason,
    },
  });
  if (request.offboardingId !== null) await settleOffboarding(tx, request.offboardingId, result, at);
}

/**
 * Puts one connection's outcome (if given) into its offboarding; once none is 'removing' the
 * offboarding is finished and audited, and a provider being deleted goes with its record
 * (sessions, locations, feed rows, connections; the tombstones and the offboarding stay).
 */
export async function settleOffboarding(tx: StoreTx, offboardingId: string, result: CleanupOutcome | null, at: string): Promise<void> {
  const offboarding = await tx.getOffboarding(offboardingId);
  if (offboarding === null || offboarding.finishedAt !== null) return;
  const connections = result === null ? offboarding.connections : offboarding.connections.map((c) => (c.connectionId === result.connectionId ? result : c));
  const finished = connections.every((c) => c.status !== 'removing');
  await tx.putOffboarding({ ...offboarding, connections, finishedAt: finished ? at : null });
  if (!finished) return;
  await tx.appendAudit({
    at,
    actor: offboarding.actor,
    action: offboarding.mode === 'delete' ? 'provider.delete' : 'provider.offboard',
    target: `provider:${offboarding.providerId}`,
    details: offboardingCounts({ ...offboarding, connections }),
  });
  if (offboarding.mode === 'delete') await tx.deleteProvider(offboarding.providerId);
}

/** The audit details of a finished offboarding: counts across its connections. */
function offboardingCounts(offboarding: { id: string; feedsTombstoned: number; connections: readonly CleanupOutcome[] }): Record<string, number | string> {
  const sum = (pick: (c: CleanupOutcome) => number) => offboarding.connections.reduce((n, c) => n + pick(c), 0);
  return {
    offboardingId: offboarding.id,
    connections: offboarding.connections.length,
    eventsRemoved: sum((c) => c.eventsRemoved),
    eventsLeft: sum((c) => c.eventsLeft),
    grantsRevoked: sum((c) => (c.grant === 'revoked' || c.grant === 'already_invalid' ? 1 : 0)),
    failures: sum((c) => (c.status === 'incomplete' ? 1 : 0)),
    feedsTombstoned: offboarding.feedsTombstoned,
  };
}

/** Which step failed, and with what: retried later unless it cannot heal. */
interface StepFailure {
  code: string;
  retryAfterMs: number | null;
  /** The grant is gone or the tokens do not open: nothing more can be done remotely. */
  final: boolean;
}

function failureOf(err: unknown): StepFailure {
  if (err instanceof SyncError) return { code: err.code, retryAfterMs: err.retryAfterMs, final: err.kind !== 'retryable' };
  return { code: 'INTERNAL', retryAfterMs: null, final: false };
}

/**
 * Finishes a connection whose removals are done (none pending): sweeps the calendar for events
 * that still carry the provider's tag (written by a worker that died before recording them, or
 * before this database knew them), revokes the grant, then forgets the tokens and records the
 * outcome. A retryable failure puts it off with backoff; after MAX_ATTEMPTS, or when the grant is
 * gone, it is recorded as incomplete with the reason. Call it holding the connection's lease.
 * Returns whether the connection was finished (false: retried later).
 */
export async function finishCleanup(deps: CleanupDeps, connection: Connection): Promise<boolean> {
  const cleanup = connection.cleanup;
  if (cleanup === null) return false;
  const log = deps.logger.child({ module: 'calendar-cleanup', connectionId: connection.id });
  let tokens: OAuthTokens | null;
  try {
    tokens = openTokens(deps.secrets, connection);
  } catch {
    tokens = null;
  }
  const connector = deps.connectors.get(connection.kind);
  const oauth = deps.oauth.get(connection.kind);
  let swept: ReadonlySet<string> = new Set(cleanup.swept ?? []);
  let progress = cleanup;
  let grant: CleanupOutcome['grant'] = 'not_attempted';
  let reason: string | null = null;

  if (tokens === null) reason = 'TOKENS_UNREADABLE';
  else if (connection.status !== 'active') reason = unreachableReason(connection);
  else if (connector === undefined || oauth === undefined) reason = 'CONNECTOR_NOT_CONFIGURED';
  else {
    try {
      if (cleanup.removeEvents && cleanup.swept === null) {
        swept = await sweep(deps, connector, connection, tokens);
        // Recorded before revoking: a revocation whose answer is lost leaves a grant that can no
        // longer list the calendar, and the retry must neither need it nor forget these.
        progress = { ...cleanup, swept: [...swept] };
        await putOff(deps, connection, progress);
      }
      // Another connection of the same account keeps the grant: this one is finished here without
      // revoking (checked and recorded under the account's lock, so two of them finishing at once
      // cannot both leave the grant to the other).
      if (await finishIfShared(deps, connection, cleanup, swept, log)) return true;
      grant = await oauth.revoke(tokens);
    } catch (err) {
      const failure = failureOf(err);
      if (!(err instanceof SyncError)) log.error({ err: loggableError(err) }, 'unexpected error while finishing a cleanup');
      const attempts = progress.attempts + 1;
      if (!failure.final && attempts < MAX_ATTEMPTS) {
        await putOff(deps, connection, { ...progress, attempts, lastErrorCode: failure.code, notBefore: new Date(deps.clock.now().getTime() + retryDelayMs(attempts, failure.retryAfterMs, deps.random)).toISOString() });
        log.warn({ code: failure.code, attempts }, 'cleanup step failed; it will be retried');
        return false;
      }
      // The grant went between an earlier revocation and this retry: that one took effect.
      if (err instanceof SyncError && err.kind === 'auth' && progress.attempts > 0 && progress.swept !== null) grant = 'already_invalid';
      else {
        grant = 'failed';
        reason = failure.code;
      }
    }
  }

  return deps.store.transaction(async (tx) => {
    await tx.lockProvider(connection.providerId);
    return record(tx, deps, connection, cleanup, swept, grant, reason, log);
  });
}

/** The lock of a vendor account: the connections sharing it decide about its grant one at a time. */
function accountLock(connection: Connection): string | null {
  const account = connection.accountEmail?.toLowerCase();
  return account === undefined ? null : `account:${connection.kind}:${account}`;
}

/**
 * Whether another connection that is not disconnected holds tokens of the same vendor account:
 * Google and Microsoft grant per account and app, so revoking would end that connection's access
 * too (and leave its own cleanup unable to remove anything). If so, this connection is recorded
 * as finished with grant 'shared' in the same transaction; the last one of the account revokes.
 * Unknown accounts (no address) share nothing.
 */
async function finishIfShared(deps: CleanupDeps, connection: Connection, cleanup: ConnectionCleanup, swept: ReadonlySet<string>, log: Logger): Promise<boolean> {
  const lock = accountLock(connection);
  if (lock === null) return false;
  return deps.store.transaction(async (tx) => {
    await tx.lockProvider(connection.providerId);
    await tx.lockConnection(lock);
    const others = await tx.listAllConnections(['pending_authorization', 'active', 'needs_reauth', 'error']);
    const shared = others.some((c) => c.id !== connection.id && c.sealedTokens !== null && accountLock(c) === lock);
    return shared && (await record(tx, deps, connection, cleanup, swept, 'shared', null, log));
  });
}

/** Counts what was removed and left, forgets the tokens and records the outcome (in the caller's transaction). */
async function record(
  tx: StoreTx,
  deps: CleanupDeps,
  connection: Connection,
  cleanup: ConnectionCleanup,
  swept: ReadonlySet<string>,
  grant: CleanupOutcome['grant'],
  given: string | null,
  log: Logger,
): Promise<boolean> {
  let reason = given;
  const at = deps.clock.now().toISOString();
  await tx.lockConnection(connection.id);
  const current = await tx.getConnection(connection.id);
  if (current?.cleanup === null || current === null) return false;
  const targets = await tx.listTargets(connection.id);
  // A target still naming an event the sweep removed (a resync wrote it meanwhile) is removed too.
  const recorded = new Set(targets.flatMap((t) => (t.externalId === null ? [] : [t.externalId])));
  const failed = targets.filter((t) => (t.externalId !== null && !swept.has(t.externalId)) || (t.externalId === null && t.deadAt !== null));
  const stillThere = failed.filter((t) => t.externalId !== null).length;
  const strays = [...swept].filter((id) => !recorded.has(id)).length;
  const eventsLeft = cleanup.removeEvents ? failed.length : 0;
  const eventsRemoved = cleanup.removeEvents ? Math.max(0, cleanup.expected - stillThere) + strays : 0;
  if (reason === null && eventsLeft > 0) reason = failed.find((t) => t.lastErrorCode !== null)?.lastErrorCode ?? 'EVENTS_LEFT';
  if (reason === null && (grant === 'not_permitted' || grant === 'tenant_wide')) reason = grant === 'not_permitted' ? 'REVOKE_NOT_PERMITTED' : 'REVOKE_TENANT_WIDE';
  const result = outcome(current, { status: reason === null ? 'done' : 'incomplete', eventsRemoved, eventsLeft, grant, reason });
  await forget(tx, current, cleanup, result, at);
  log.info({ status: result.status, eventsRemoved, eventsLeft, grant, reason }, 'calendar cleanup finished');
  return true;
}

/** Every event in the calendar still carrying the provider's tag, removed one by one: their ids. */
async function sweep(deps: CleanupDeps, connector: CalendarConnector, connection: Connection, tokens: OAuthTokens): Promise<Set<string>> {
  const session = connectorSession(deps, connection, tokens);
  const prefix = `${connection.providerId}/`;
  const remote = await connector.listTagged(session, { from: EPOCH });
  const removed = new Set<string>();
  for (const event of remote) {
    if (event.cancelled || !event.tag.key.startsWith(prefix)) continue;
    await connector.remove(session, event.externalId);
    removed.add(event.externalId);
  }
  return removed;
}

async function putOff(deps: CleanupDeps, connection: Connection, cleanup: ConnectionCleanup): Promise<void> {
  await deps.store.transaction(async (tx) => {
    await tx.lockConnection(connection.id);
    const current = await tx.getConnection(connection.id);
    if (current?.cleanup === null || current === null) return;
    await tx.putConnection({ ...current, cleanup, updatedAt: deps.clock.now().toISOString() });
  });
}

/**
 * The connections whose cleanup can be finished now: set, not put off, and nothing pending, or
 * no longer able to remove anything (the grant went while removing: its targets would wait for a
 * re-authorisation that a provider who left never gives). The caller leases each before
 * finishing it, so that two workers never finish one twice.
 */
export async function cleanupsDue(store: Store, now: Date): Promise<Connection[]> {
  const due: Connection[] = [];
  for (const connection of await store.listConnectionsInCleanup()) {
    if (connection.cleanup === null || connection.cleanup.notBefore > now.toISOString()) continue;
    if (connection.status !== 'active' || (await store.targetCounts(connection.id)).pending === 0) due.push(connection);
  }
  return due;
}

/**
 * When the next put-off cleanup may be tried again (the earliest notBefore after now), or null.
 * Cleanups not put off are finished as soon as their targets are done, which wakes the worker
 * already; counting them here would make an idle worker spin while their targets wait.
 */
export async function nextCleanupAt(store: Store, now: Date): Promise<string | null> {
  const after = now.toISOString();
  let next: string | null = null;
  for (const connection of await store.listConnectionsInCleanup()) {
    const at = connection.cleanup?.notBefore;
    if (at !== undefined && at > after && (next === null || at < next)) next = at;
  }
  return next;
}

