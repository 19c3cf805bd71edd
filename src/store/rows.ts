// Row types of the schema (migrations.ts) for Kysely, and the one mapping between rows and
// domain values. Both databases hand back the same shapes but for booleans (SQLite 0/1,
// PostgreSQL true/false) and JSON columns (SQLite text, PostgreSQL parsed JSONB), which
// isTrue and fromJson accept in either form; writes give booleans, which the SQLite driver
// shim turns into 0/1, and JSON as text, which PostgreSQL casts to JSONB.
import type { Generated, Insertable, Selectable } from 'kysely';
import type {
  AuditEntry,
  BusyInterval,
  BusySource,
  BusySourceKind,
  BusySourceStatus,
  Connection,
  ConnectionCleanup,
  FeedTombstone,
  Offboarding,
  ConnectionKind,
  ConnectionStatus,
  FeedToken,
  JobStatus,
  Location,
  JoinLinkMode,
  PrivacyMode,
  Provider,
  ResyncJob,
  Session,
  SessionStatus,
  StoredBusyInterval,
  SyncTarget,
  PortalLink,
  WebSession,
  WebSessionKind,
} from '../domain/index.js';
import { EARLIEST_INSTANT, isStoredInstant, LATEST_INSTANT } from '../domain/index.js';

/** A boolean column as read: 0/1 from SQLite, true/false from PostgreSQL. */
type DbBool = boolean | number;

export interface Database {
  providers: ProviderTable;
  locations: LocationRow;
  sessions: SessionTable;
  feed_tokens: FeedRow;
  connections: ConnectionTable;
  sync_targets: TargetRow;
  resync_jobs: JobRow;
  audit_log: AuditTable;
  busy_sources: BusySourceRow;
  busy_intervals: BusyIntervalRow;
  web_sessions: WebSessionRow;
  portal_links: PortalLinkRow;
  feed_tombstones: FeedTombstoneRow;
  offboardings: OffboardingRow;
  settings: SettingRow;
}

export interface ProviderRow {
  id: string;
  name: string;
  email: string | null;
  timezone: string;
  privacy_mode: PrivacyMode;
  privacy_baa_attested: DbBool;
  join_link: JoinLinkMode;
  /** Provider.reminders as JSON (text on SQLite, JSONB on PostgreSQL). */
  reminders: string | object | null;
  offboarded_at: string | null;
  feed_revision: number;
  created_at: string;
  updated_at: string;
}

/** Keys of a row type as a list; the Record makes the compiler reject a missing column. */
function columnsOf<R>(shape: Record<keyof R & string, true>): (keyof R & string)[] {
  return Object.keys(shape) as (keyof R & string)[];
}

export const PROVIDER_COLUMNS = columnsOf<ProviderRow>({
  id: true,
  name: true,
  email: true,
  timezone: true,
  privacy_mode: true,
  privacy_baa_attested: true,
  join_link: true,
  reminders: true,
  offboarded_at: true,
  feed_revision: true,
  created_at: true,
  updated_at: true,
});

/** The stored row: a provider's fields plus sessions_deleted (migration 4), the store's own count. */
export interface ProviderTable extends ProviderRow {
  sessions_deleted: Generated<number>;
}

export function toProvider(row: ProviderRow): Provider {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    timezone: row.timezone,
    privacy: { mode: row.privacy_mode, baaAttested: isTrue(row.privacy_baa_attested) },
    joinLink: row.join_link,
    reminders: row.reminders === null ? null : parseJson<number[]>(row.reminders),
    offboardedAt: row.offboarded_at,
    feedRevision: row.feed_revision,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function fromProvider(provider: Provider): ProviderRow {
  return {
    id: provider.id,
    name: provider.name,
    email: provider.email,
    timezone: provider.timezone,
    privacy_mode: provider.privacy.mode,
    privacy_baa_attested: provider.privacy.baaAttested,
    join_link: provider.joinLink,
    reminders: provider.reminders === null ? null : JSON.stringify(provider.reminders),
    offboarded_at: provider.offboardedAt,
    feed_revision: provider.feedRevision,
    created_at: provider.createdAt,
    updated_at: provider.updatedAt,
  };
}

export interface LocationRow {
  provider_id: string;
  id: string;
  kind: Location['kind'];
  name: string | null;
  url: string | null;
  instructions: string | null;
  waiting_room: DbBool | null;
  platform: string | null;
  address: string | null;
  is_default: DbBool;
  created_at: string;
  updated_at: string;
}

export const LOCATION_COLUMNS = columnsOf<LocationRow>({
  provider_id: true,
  id: true,
  kind: true,
  name: true,
  url: true,
  instructions: true,
  waiting_room: true,
  platform: true,
  address: true,
  is_default: true,
  created_at: true,
  updated_at: true,
});

export function toLocation(row: LocationRow): Location {
  const common = {
    providerId: row.provider_id,
    id: row.id,
    isDefault: isTrue(row.is_default),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  switch (row.kind) {
    case 'virtual':
      return {
        kind: 'virtual',
        ...common,
        name: row.name,
        url: required(row.url, 'locations.url'),
        instructions: row.instructions,
        waitingRoom: row.waiting_room === null ? null : isTrue(row.waiting_room),
        platform: row.platform,
      };
    case 'office':
      return {
        kind: 'office',
        ...common,
        name: required(row.name, 'locations.name'),
        address: required(row.address, 'locations.address'),
      };
    default:
      return unreachable(row.kind);
  }
}

export function fromLocation(location: Location): LocationRow {
  const common = {
    provider_id: location.providerId,
    id: location.id,
    is_default: location.isDefault,
    created_at: location.createdAt,
    updated_at: location.updatedAt,
  };
  switch (location.kind) {
    case 'virtual':
      return {
        ...common,
        kind: 'virtual',
        name: location.name,
        url: location.url,
        instructions: location.instructions,
        waiting_room: location.waitingRoom,
        platform: location.platform,
        address: null,
      };
    case 'office':
      return {
        ...common,
        kind: 'office',
        name: location.name,
        url: null,
        instructions: null,
        waiting_room: null,
        platform: null,
        address: location.address,
      };
    default:
      return unreachable(location);
  }
}

export interface SessionRow {
  provider_id: string;
  id: string;
  uid: string;
  starts_at: string;
  ends_at: string;
  location_id: string | null;
  telehealth_url: string | null;
  client_id: string | null;
  client_first_name: string | null;
  client_last_name: string | null;
  status: SessionStatus;
  series_id: string | null;
  sequence: number;
  event_fingerprint: string;
  last_modified: string;
  created_at: string;
  updated_at: string;
}

export const SESSION_COLUMNS = columnsOf<SessionRow>({
  provider_id: true,
  id: true,
  uid: true,
  starts_at: true,
  ends_at: true,
  location_id: true,
  telehealth_url: true,
  client_id: true,
  client_first_name: true,
  client_last_name: true,
  status: true,
  series_id: true,
  sequence: true,
  event_fingerprint: true,
  last_modified: true,
  created_at: true,
  updated_at: true,
});

export function toSession(row: SessionRow): Session {
  const hasClient = row.client_id !== null || row.client_first_name !== null || row.client_last_name !== null;
  return {
    providerId: row.provider_id,
    id: row.id,
    uid: row.uid,
    start: row.starts_at,
    end: row.ends_at,
    locationId: row.location_id,
    telehealthUrl: row.telehealth_url,
    client: hasClient ? { id: row.client_id, firstName: row.client_first_name, lastName: row.client_last_name } : null,
    status: row.status,
    seriesId: row.series_id,
    sequence: row.sequence,
    eventFingerprint: row.event_fingerprint,
    lastModified: row.last_modified,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Instants are compared as text, which is time order only for fixed-width UTC in range. */
function storedInstant(value: string, field: string): string {
  if (!isStoredInstant(value)) throw new RangeError(`${field} must be fixed-width UTC from ${EARLIEST_INSTANT} to ${LATEST_INSTANT}`);
  return value;
}

/**
 * The stored row: a session's fields plus feed_revision, the provider revision its last write
 * committed (migration 4), which the store sets itself and the domain never sees.
 */
export interface SessionTable extends SessionRow {
  feed_revision: Generated<number>;
  /** SHA-256 of the session's derived join token (migration 8); written apart from the session's fields. */
  join_token_hash: Generated<string | null>;
}

export function fromSession(session: Session): SessionRow {
  return {
    provider_id: session.providerId,
    id: session.id,
    uid: session.uid,
    starts_at: storedInstant(session.start, 'session start'),
    ends_at: storedInstant(session.end, 'session end'),
    location_id: session.locationId,
    telehealth_url: session.telehealthUrl,
    client_id: session.client?.id ?? null,
    client_first_name: session.client?.firstName ?? null,
    client_last_name: session.client?.lastName ?? null,
    status: session.status,
    series_id: session.seriesId,
    sequence: session.sequence,
    event_fingerprint: session.eventFingerprint,
    last_modified: session.lastModified,
    created_at: session.createdAt,
    updated_at: session.updatedAt,
  };
}

export interface FeedRow {
  id: string;
  provider_id: string;
  label: string | null;
  token_hash: string;
  created_at: string;
  revoked_at: string | null;
  last_fetched_at: string | null;
  last_user_agent: string | null;
  fetch_count: number;
}

export const FEED_COLUMNS = columnsOf<FeedRow>({
  id: true,
  provider_id: true,
  label: true,
  token_hash: true,
  created_at: true,
  revoked_at: true,
  last_fetched_at: true,
  last_user_agent: true,
  fetch_count: true,
});

export function toFeed(row: FeedRow): FeedToken {
  return {
    id: row.id,
    providerId: row.provider_id,
    label: row.label,
    tokenHash: row.token_hash,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastFetchedAt: row.last_fetched_at,
    lastUserAgent: row.last_user_agent,
    fetchCount: row.fetch_count,
  };
}

export function fromFeed(feed: FeedToken): FeedRow {
  return {
    id: feed.id,
    provider_id: feed.providerId,
    label: feed.label,
    token_hash: feed.tokenHash,
    created_at: feed.createdAt,
    revoked_at: feed.revokedAt,
    last_fetched_at: feed.lastFetchedAt,
    last_user_agent: feed.lastUserAgent,
    fetch_count: feed.fetchCount,
  };
}

export interface ConnectionRow {
  id: string;
  provider_id: string;
  kind: ConnectionKind;
  calendar_id: string;
  status: ConnectionStatus;
  account_email: string | null;
  sealed_tokens: string | null;
  pending_nonce: string | null;
  pending_sealed_verifier: string | null;
  pending_expires_at: string | null;
  last_synced_at: string | null;
  last_error_code: string | null;
  /** Connection.cleanup as JSON (text on SQLite, JSONB on PostgreSQL). */
  cleanup: string | object | null;
  created_at: string;
  updated_at: string;
}

/** The table adds the worker lease, which no domain value carries (claims manage it). */
export type ConnectionTable = ConnectionRow & { lease_owner: string | null; lease_until: string | null };

export const CONNECTION_COLUMNS = columnsOf<ConnectionRow>({
  id: true,
  provider_id: true,
  kind: true,
  calendar_id: true,
  status: true,
  account_email: true,
  sealed_tokens: true,
  pending_nonce: true,
  pending_sealed_verifier: true,
  pending_expires_at: true,
  last_synced_at: true,
  last_error_code: true,
  cleanup: true,
  created_at: true,
  updated_at: true,
});

export function toConnection(row: ConnectionRow): Connection {
  // The table CHECK keeps the three pending_* columns all set or all NULL.
  const pendingAuth =
    row.pending_nonce === null
      ? null
      : {
          nonce: row.pending_nonce,
          sealedVerifier: required(row.pending_sealed_verifier, 'connections.pending_sealed_verifier'),
          expiresAt: required(row.pending_expires_at, 'connections.pending_expires_at'),
        };
  return {
    id: row.id,
    providerId: row.provider_id,
    kind: row.kind,
    calendarId: row.calendar_id,
    status: row.status,
    accountEmail: row.account_email,
    sealedTokens: row.sealed_tokens,
    pendingAuth,
    lastSyncedAt: row.last_synced_at,
    lastErrorCode: row.last_error_code,
    cleanup: row.cleanup === null ? null : parseJson<ConnectionCleanup>(row.cleanup),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function fromConnection(connection: Connection): ConnectionRow {
  return {
    id: connection.id,
    provider_id: connection.providerId,
    kind: connection.kind,
    calendar_id: connection.calendarId,
    status: connection.status,
    account_email: connection.accountEmail,
    sealed_tokens: connection.sealedTokens,
    pending_nonce: connection.pendingAuth?.nonce ?? null,
    pending_sealed_verifier: connection.pendingAuth?.sealedVerifier ?? null,
    pending_expires_at: connection.pendingAuth?.expiresAt ?? null,
    last_synced_at: connection.lastSyncedAt,
    last_error_code: connection.lastErrorCode,
    cleanup: connection.cleanup === null ? null : JSON.stringify(connection.cleanup),
    created_at: connection.createdAt,
    updated_at: connection.updatedAt,
  };
}

export interface TargetRow {
  id: string;
  connection_id: string;
  provider_id: string;
  session_id: string;
  generation: number;
  synced_generation: number;
  external_id: string | null;
  synced_revision: string | null;
  attempts: number;
  next_attempt_at: string;
  lease_owner: string | null;
  lease_until: string | null;
  last_error_code: string | null;
  dead_at: string | null;
  created_at: string;
  updated_at: string;
}

/** Parameters of markDirty: a new target's identity and the instant of the change. */
export type DirtyTargetParams = Pick<TargetRow, 'id' | 'connection_id' | 'provider_id' | 'session_id'> & { at: string };

/** Parameters of recordSynced. */
export type SyncedTargetParams = DirtyTargetParams & Pick<TargetRow, 'external_id' | 'synced_revision' | 'generation'>;

export type DeadTargetRow = Pick<TargetRow, 'id' | 'connection_id' | 'session_id' | 'last_error_code'> & { dead_at: string };

export function toTarget(row: TargetRow): SyncTarget {
  return {
    id: row.id,
    connectionId: row.connection_id,
    providerId: row.provider_id,
    sessionId: row.session_id,
    generation: row.generation,
    syncedGeneration: row.synced_generation,
    externalId: row.external_id,
    syncedRevision: row.synced_revision,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until,
    lastErrorCode: row.last_error_code,
    deadAt: row.dead_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The table CHECK keeps url_sealed and url_host set for 'ics' and connection_id for 'connection', the others NULL. */
export interface BusySourceRow {
  provider_id: string;
  id: string;
  kind: BusySourceKind;
  url_sealed: string | null;
  url_host: string | null;
  connection_id: string | null;
  status: BusySourceStatus;
  last_fetched_at: string | null;
  last_error_code: string | null;
  etag: string | null;
  last_modified: string | null;
  interval_count: number;
  next_fetch_at: string;
  created_at: string;
  updated_at: string;
}

export const BUSY_SOURCE_COLUMNS = columnsOf<BusySourceRow>({
  provider_id: true,
  id: true,
  kind: true,
  url_sealed: true,
  url_host: true,
  connection_id: true,
  status: true,
  last_fetched_at: true,
  last_error_code: true,
  etag: true,
  last_modified: true,
  interval_count: true,
  next_fetch_at: true,
  created_at: true,
  updated_at: true,
});

export function toBusySource(row: BusySourceRow): BusySource {
  return {
    providerId: row.provider_id,
    id: row.id,
    kind: row.kind,
    urlSealed: row.url_sealed,
    urlHost: row.url_host,
    connectionId: row.connection_id,
    status: row.status,
    lastFetchedAt: row.last_fetched_at,
    lastErrorCode: row.last_error_code,
    etag: row.etag,
    lastModified: row.last_modified,
    // PostgreSQL's INTEGER arrives as a number; Number() keeps a BIGINT-typed driver honest too.
    intervalCount: Number(row.interval_count),
    nextFetchAt: row.next_fetch_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

// Kind and columns are written as given: a source that mixes the kinds is the table CHECK's to refuse.
export function fromBusySource(source: BusySource): BusySourceRow {
  return {
    provider_id: source.providerId,
    id: source.id,
    kind: source.kind,
    url_sealed: source.urlSealed,
    url_host: source.urlHost,
    connection_id: source.connectionId,
    status: source.status,
    last_fetched_at: source.lastFetchedAt,
    last_error_code: source.lastErrorCode,
    etag: source.etag,
    last_modified: source.lastModified,
    interval_count: source.intervalCount,
    // Claims compare and order it as text.
    next_fetch_at: storedInstant(source.nextFetchAt, 'busy source nextFetchAt'),
    created_at: source.createdAt,
    updated_at: source.updatedAt,
  };
}

export interface BusyIntervalRow {
  provider_id: string;
  source_id: string;
  start_at: string;
  end_at: string;
}

export function toStoredBusyInterval(row: Pick<BusyIntervalRow, 'source_id' | 'start_at' | 'end_at'>): StoredBusyInterval {
  return { start: row.start_at, end: row.end_at, sourceId: row.source_id };
}

export function fromBusyInterval(providerId: string, sourceId: string, interval: BusyInterval): BusyIntervalRow {
  return {
    provider_id: providerId,
    source_id: sourceId,
    start_at: storedInstant(interval.start, 'busy interval start'),
    end_at: storedInstant(interval.end, 'busy interval end'),
  };
}

/** request, progress and plan are JSON: text on SQLite, JSONB on PostgreSQL; written only by fromJob. */
export interface JobRow {
  id: string;
  kind: ResyncJob['kind'];
  status: JobStatus;
  request: string | object;
  progress: string | object;
  plan: string | object | null;
  error: string | null;
  actor: string;
  lease_owner: string | null;
  lease_until: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export const JOB_COLUMNS = columnsOf<JobRow>({
  id: true,
  kind: true,
  status: true,
  request: true,
  progress: true,
  plan: true,
  error: true,
  actor: true,
  lease_owner: true,
  lease_until: true,
  created_at: true,
  started_at: true,
  finished_at: true,
});

export function toJob(row: JobRow): ResyncJob {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    request: parseJson<ResyncJob['request']>(row.request),
    progress: parseJson<ResyncJob['progress']>(row.progress),
    plan: row.plan === null ? null : parseJson<NonNullable<ResyncJob['plan']>>(row.plan),
    error: row.error,
    actor: row.actor,
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

export function fromJob(job: ResyncJob): JobRow {
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    request: JSON.stringify(job.request),
    progress: JSON.stringify(job.progress),
    plan: job.plan === null ? null : JSON.stringify(job.plan),
    error: job.error,
    actor: job.actor,
    lease_owner: job.leaseOwner,
    lease_until: job.leaseUntil,
    created_at: job.createdAt,
    started_at: job.startedAt,
    finished_at: job.finishedAt,
  };
}

export interface AuditRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  /** AuditEntry.details as JSON. */
  details: string | object;
}

/** audit_log as Kysely sees it: the id is the database's. */
export type AuditTable = Omit<AuditRow, 'id'> & { id: Generated<number> };
export type AuditInsert = Insertable<AuditTable>;
export type AuditSelect = Selectable<AuditTable>;

export function toAudit(row: AuditSelect | AuditRow): AuditEntry {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    action: row.action,
    target: row.target,
    details: parseJson<AuditEntry['details']>(row.details),
  };
}

// Only for columns this adapter wrote with JSON.stringify from the same domain type: text from
// SQLite, already parsed from PostgreSQL's JSONB.
function parseJson<T>(value: string | object): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export function isTrue(value: DbBool): boolean {
  return value === true || value === 1;
}

// The table CHECK guarantees these columns for their kind; a null here means the schema and this
// mapper disagree, which must not be papered over with a default.
function required(value: string | null, column: string): string {
  if (value === null) throw new Error(`Unexpected NULL in ${column}`);
  return value;
}

function unreachable(value: never): never {
  throw new Error(`Unexpected value: ${String(value)}`);
}

/** The table CHECK keeps provider_id set for 'provider' sessions and NULL for 'admin' ones. */
export interface WebSessionRow {
  id_hash: string;
  kind: WebSessionKind;
  provider_id: string | null;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

export function toWebSession(row: WebSessionRow): WebSession {
  return {
    idHash: row.id_hash,
    kind: row.kind,
    providerId: row.provider_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

export function fromWebSession(session: WebSession): WebSessionRow {
  return {
    id_hash: session.idHash,
    kind: session.kind,
    provider_id: session.providerId,
    created_at: session.createdAt,
    // Compared as text with "now".
    expires_at: storedInstant(session.expiresAt, 'web session expiresAt'),
    revoked_at: session.revokedAt,
  };
}

export interface PortalLinkRow {
  token_hash: string;
  provider_id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export function toPortalLink(row: PortalLinkRow): PortalLink {
  return { tokenHash: row.token_hash, providerId: row.provider_id, createdAt: row.created_at, expiresAt: row.expires_at, usedAt: row.used_at };
}

export function fromPortalLink(link: PortalLink): PortalLinkRow {
  return {
    token_hash: link.tokenHash,
    provider_id: link.providerId,
    created_at: link.createdAt,
    expires_at: storedInstant(link.expiresAt, 'portal link expiresAt'),
    used_at: link.usedAt,
  };
}

/** A named value of the service itself (migration 9); sealed ones are opened by their owner. */
export interface SettingRow {
  name: string;
  value: string;
  updated_at: string;
}

export interface FeedTombstoneRow {
  token_hash: string;
  provider_id: string;
  calendar_name: string;
  since: string;
}

export function toFeedTombstone(row: FeedTombstoneRow): FeedTombstone {
  return { providerId: row.provider_id, calendarName: row.calendar_name, since: row.since };
}

export interface OffboardingRow {
  id: string;
  provider_id: string;
  mode: Offboarding['mode'];
  actor: string;
  requested_at: string;
  finished_at: string | null;
  /** { feedsTombstoned, connections } as JSON. */
  result: string | object;
}

export function toOffboarding(row: OffboardingRow): Offboarding {
  const result = parseJson<Pick<Offboarding, 'feedsTombstoned' | 'connections'>>(row.result);
  return {
    id: row.id,
    providerId: row.provider_id,
    mode: row.mode,
    actor: row.actor,
    requestedAt: row.requested_at,
    finishedAt: row.finished_at,
    feedsTombstoned: result.feedsTombstoned,
    connections: result.connections,
  };
}

export function fromOffboarding(offboarding: Offboarding): OffboardingRow {
  return {
    id: offboarding.id,
    provider_id: offboarding.providerId,
    mode: offboarding.mode,
    actor: offboarding.actor,
    requested_at: offboarding.requestedAt,
    finished_at: offboarding.finishedAt,
    result: JSON.stringify({ feedsTombstoned: offboarding.feedsTombstoned, connections: offboarding.connections }),
  };
}
