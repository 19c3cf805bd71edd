// A provider's feed body rendered incrementally: from the body before it (any revision or day),
// only the sessions written since are read and rendered again; every other event's fragment is
// kept, its bytes sent as views into the earlier buffers (see FeedBody.parts).
import { toCalendarEvent } from '../src/domain/calendar-event.js';
import type { CalendarEvent, CalendarMeta, JoinLinks, Location, Provider, Session, SessionVersion, Store } from '../src/domain/index.js';
import { compactEdit, editGzip, gzipPieces, type ChunkedGzip, type EditedGzip, type GzipChunks, type PieceEdit } from './chunked-gzip.js';
import { layoutEtag, wholeSpan } from './body-chunks.js';
import { spanBytes } from './body-span.js';
import { layoutZones, layOut, relayOutWithEdits, type ChunkEdit, type EventChunk, type EventLayout, type LaidEvent } from './event-layout.js';
import { CALENDAR_END, calendarHeadWithZones, renderEvent, sortFragments } from './ics-renderer.js';

/** REFRESH-INTERVAL / X-PUBLISHED-TTL of feeds and invite files: a hint apps may follow. */
export const REFRESH_SECONDS = 3600;

export function feedCalendarMeta(provider: Provider): CalendarMeta {
  return { name: `Sessions – ${provider.name}`, productId: 'sessionsync', refreshIntervalSeconds: REFRESH_SECONDS };
}

/** A rendered feed body, and what the next render of the same provider starts from. */
export interface FeedBody {
  /** The body in parts to send one after another (its head, its chunks' bytes, its end), length bytes in all. */
  parts: Buffer[];
  length: number;
  /** Bytes of the buffers the parts are (length: each part is a whole buffer): what the cache counts. */
  retained: number;
  etag: string;
  gzipEtag: string;
  gzip: Buffer | null;
  /**
   * The compressed chunks its gzip is made of (places in it), or until then those of the render
   * before, to make it from; inheritedBytes is what those keep alive (counted by the cache).
   */
  gzipChunks: GzipChunks | undefined;
  inheritedBytes: number;
  /**
   * The pieces of the body (head, chunks, end) that differ from those gzipChunks was made of,
   * when gzipChunks is the gzip of the body this one was rendered from (editGzipBody); else null.
   */
  gzipEdits: PieceEdit[] | null;
  /** The provider's count of deleted sessions when its sessions were read (see changesSince). */
  deletions: number;
  /** The provider's locations as last read, by id: what the next render tries first. */
  locations: ReadonlyMap<string, Location>;
  /** The body's head (calendar properties, VTIMEZONEs) and its events, in chunks. */
  head: Buffer;
  layout: EventLayout;
  /**
   * Each event of the body by session id, its bytes in body: what the next render reuses. The
   * next render of the same day takes this map over and updates it in place.
   */
  events: Map<string, CachedEvent>;
}

/** What a render reuses from the cache and which sessions it reads (and renders) afresh. */
interface RenderPlan {
  read: Session[];
  /** The provider's count of deleted sessions, read before the sessions were. */
  deletions: number;
  /**
   * What the new body's order starts from: the previous body's events in order, less `removed`
   * (the fragments of events read again or gone); or, without one (null), `reused` to sort.
   */
  base: { layout: EventLayout; removed: CachedEvent[] } | null;
  reused: CachedEvent[];
  /**
   * The previous body's events map to take over (its events are then the base's, less those
   * whose ids are in `removed`), or null to fill a new map.
   */
  takeOver: { events: Map<string, CachedEvent>; removed: readonly string[] } | null;
}

/**
 * One event of a cached body: its fragment, whose bytes sit in its chunk's buffer (event-layout.ts),
 * and the session version it was rendered from; while the session has this version, the fragment
 * holds.
 */
interface CachedEvent extends LaidEvent {
  readonly version: SessionVersion;
}

/**
 * A change to more than this share of a feed's events reads all its sessions in one query rather
 * than the changed ones by id (a provider's name, zone or default location touches them all).
 */
const FULL_READ_SHARE = 0.5;

function sameVersion(a: SessionVersion, b: SessionVersion): boolean {
  return a.eventFingerprint === b.eventFingerprint && a.sequence === b.sequence && a.lastModified === b.lastModified && a.createdAt === b.createdAt;
}

function versionOf(session: Session): SessionVersion {
  const { id, eventFingerprint, sequence, lastModified, createdAt } = session;
  return { id, eventFingerprint, sequence, lastModified, createdAt };
}

/** The window a body holds: sessions that end after endAfter and start before startBefore. */
export interface FeedWindow {
  endAfter: string;
  startBefore: string;
}

/** What a render may start from: the provider's last body, and whether it had the same window. */
export interface PreviousBody {
  body: FeedBody;
  /** The feed revision it was rendered at. */
  revision: number;
  sameWindow: boolean;
}

/**
 * Renders the provider's feed for the window, re-rendering only the events whose session changed
 * since `previous` and reusing the other events' fragments. With a previous body of the same
 * window, takes over its events map (updated in place once every read is done), so the caller
 * runs one render per provider at a time and replaces the previous body with this one.
 */
export async function renderFeedBody(
  store: Store,
  provider: Provider,
  window: FeedWindow,
  previous: PreviousBody | undefined,
  links: JoinLinks,
): Promise<FeedBody> {
  const plan =
    previous !== undefined && previous.sameWindow
      ? await changesSince(store, provider.id, previous, window)
      : // Read before the sessions: what they show then reflects at least this many deletions.
        await changesByVersion(store, provider.id, previous?.body, window, await store.sessionDeletions(provider.id));
  // The sessions read are rendered with the locations the body before read, when their stored
  // fingerprints (computed as each was written, from its location then) say they render as they
  // did: an edit to a location that changes how its sessions render writes those sessions again,
  // with new fingerprints. Else (a location new to the body, or edited since) they are read: one
  // query less in the first poll after a change (~50 us of it, cold).
  let locations = previous?.body.locations;
  let shown = plan.read.length === 0 ? [] : locations === undefined ? null : eventsOf(plan.read, provider, locations, links, window, true);
  if (shown === null) {
    locations = new Map((await store.listLocations(provider.id)).map((l) => [l.id, l]));
    shown = eventsOf(plan.read, provider, locations, links, window, false) as ShownEvent[];
  }
  const fresh: CachedEvent[] = [];
  for (const { session, event } of shown) {
    // A row whose stored fingerprint lags what it renders to now (written by older code) is
    // rendered again every time rather than cached under a version that does not describe it.
    const version = event.revision === session.eventFingerprint ? versionOf(session) : { ...versionOf(session), eventFingerprint: '' };
    fresh.push({ ...renderEvent(event), version });
  }

  // O(changes) after one change: the chunks around it are cut again, the others kept as they are.
  const relaid = plan.base === null ? null : relayOutWithEdits(plan.base.layout, plan.base.removed, fresh);
  const layout = relaid?.layout ?? layOut(sortFragments([...plan.reused, ...fresh]) as CachedEvent[]);
  const head = calendarHeadWithZones(feedCalendarMeta(provider), {}, layoutZones(layout));
  // The base is the previous body's layout; its gzip, once made, is what the edits are against.
  const before = previous?.body;
  const edits = relaid?.edits ?? null;
  const gzipEdits = edits !== null && before !== undefined && before.gzip !== null && before.gzipChunks !== undefined ? pieceEdits(edits, head !== before.head) : null;
  const parts = [head, ...layout.parts, CALENDAR_END];
  const length = head.length + layout.length + CALENDAR_END.length;
  // What bodyChunks() would cut from the body: the same ETag however the body was reached.
  const etag = layoutEtag(wholeSpan(wholeOf(head)).identity, layout.identities, wholeSpan(wholeOf(CALENDAR_END)).identity);
  // Synchronous from here on, so a failed render never leaves a taken-over map half updated.
  let events: Map<string, CachedEvent>;
  if (plan.takeOver === null) {
    events = new Map<string, CachedEvent>();
    for (const chunk of layout.chunks) for (const e of chunk.events as CachedEvent[]) events.set(e.version.id, e);
  } else {
    events = plan.takeOver.events;
    for (const id of plan.takeOver.removed) events.delete(id);
    for (const e of fresh) events.set(e.version.id, e);
  }
  return {
    parts,
    length,
    retained: length,
    etag,
    gzipEtag: `${etag.slice(0, -1)}-gzip"`,
    head,
    layout,
    gzip: null,
    gzipChunks: previous?.body.gzipChunks,
    inheritedBytes: previous === undefined ? 0 : (previous.body.gzip?.buffer.byteLength ?? previous.body.inheritedBytes),
    gzipEdits,
    events,
    deletions: plan.deletions,
    locations: locations ?? new Map(),
  };
}

interface ShownEvent {
  session: Session;
  event: CalendarEvent;
}

/**
 * The sessions the window shows, each with its event, at these locations. With `strict`, null if
 * one is at a location not among them or does not render as its stored fingerprint says (its
 * location was edited since they were read); else such a session is at no location or kept as
 * it renders.
 */
function eventsOf(sessions: readonly Session[], provider: Provider, locations: ReadonlyMap<string, Location>, links: JoinLinks, window: FeedWindow, strict: boolean): ShownEvent[] | null {
  const shown: ShownEvent[] = [];
  for (const session of sessions) {
    // Possibly read after the rest: what a later read would show, moved out or cancelled too.
    if (session.status !== 'scheduled' || session.end <= window.endAfter || session.start >= window.startBefore) continue;
    const location = session.locationId === null ? null : locations.get(session.locationId);
    if (strict && location === undefined) return null;
    const event = toCalendarEvent(session, provider, location ?? null, links);
    if (strict && event.revision !== session.eventFingerprint) return null;
    shown.push({ session, event });
  }
  return shown;
}

function wholeOf(buffer: Buffer): { source: Buffer; offset: number; length: number } {
  return { source: buffer, offset: 0, length: buffer.length };
}

/** A piece of the body as its gzip is made: the head, a chunk of events, the end. */
type BodyPiece = Pick<EventChunk, 'identity' | 'length' | 'crc' | 'shift' | 'bytes' | 'dictionary'>;

function wholePiece(buffer: Buffer): BodyPiece {
  return { ...wholeSpan(wholeOf(buffer)), length: buffer.length, bytes: buffer, dictionary: undefined };
}

const pieceBytes = (piece: BodyPiece) => ({ bytes: piece.bytes, dictionary: piece.dictionary === undefined ? undefined : spanBytes(piece.dictionary) });

function piecesOf(body: Pick<FeedBody, 'head' | 'layout'>): BodyPiece[] {
  return [wholePiece(body.head), ...body.layout.chunks, wholePiece(CALENDAR_END)];
}

/** The body's gzip (chunked-gzip.ts), from the head, each chunk of events, the end. */
export function gzipBody(body: Pick<FeedBody, 'head' | 'layout'>, previous: GzipChunks | undefined, options: { level?: number } = {}) {
  return gzipPieces(piecesOf(body), pieceBytes, previous, options);
}

/**
 * The same bytes as gzipBody(body, body.gzipChunks), as parts, in O(what changed) (editGzip):
 * when the body knows its pieces' edits against gzipChunks; else null.
 */
export function editGzipBody(body: Pick<FeedBody, 'head' | 'layout' | 'gzipChunks' | 'gzipEdits'>, level: number): EditedGzip | null {
  if (body.gzipEdits === null || body.gzipChunks === undefined) return null;
  return editGzip(body.gzipChunks, piecesOf(body), body.gzipEdits, pieceBytes, level);
}

/**
 * gzipBody(body, body.gzipChunks) made from what editGzipBody(body) answered (compactEdit, from
 * the pieces and edits the edit was made of): the same bytes and places, without a step per piece.
 */
export function compactEditedGzip(body: Pick<FeedBody, 'gzipChunks'>, edited: EditedGzip): ChunkedGzip {
  if (body.gzipChunks === undefined) throw new RangeError('The body was not edited from a gzip.');
  return compactEdit(body.gzipChunks, edited);
}

/** Chunk edits as edits of the body's pieces: the head is piece 0, a changed head an edit of it. */
function pieceEdits(edits: readonly ChunkEdit[], headChanged: boolean): PieceEdit[] {
  const out: PieceEdit[] = headChanged ? [{ oldFrom: 0, oldTo: 1, newFrom: 0, newTo: 1 }] : [];
  for (const { oldFrom, oldTo, newFrom, newTo } of edits) out.push({ oldFrom: oldFrom + 1, oldTo: oldTo + 1, newFrom: newFrom + 1, newTo: newTo + 1 });
  return out;
}

/**
 * The common case, one session changed: the sessions stamped after the cached revision, read in
 * full, and every other cached event kept; null when sessions were deleted since (their rows
 * are gone, so only the versions of what is left can tell which).
 */
async function changesSince(store: Store, providerId: string, previous: PreviousBody, window: FeedWindow): Promise<RenderPlan> {
  const { changed, deletions } = await store.listSessionChanges(providerId, previous.revision);
  const { events } = previous.body;
  if (deletions !== previous.body.deletions) return changesByVersion(store, providerId, previous.body, window, deletions);
  const removedIds = changed.map((s) => s.id);
  const removed: CachedEvent[] = [];
  for (const id of removedIds) {
    const event = events.get(id);
    if (event !== undefined) removed.push(event);
  }
  return { read: changed, deletions, base: { layout: previous.body.layout, removed }, reused: [], takeOver: { events, removed: removedIds } };
}

/**
 * Every other case (a new day's window, deletions, nothing cached): the versions of the
 * window's sessions in one narrow query, and in full only those whose version differs.
 */
async function changesByVersion(store: Store, providerId: string, previous: FeedBody | undefined, window: FeedWindow, deletions: number): Promise<RenderPlan> {
  const fullRead = async (): Promise<RenderPlan> => ({
    read: await store.listSessions(providerId, { status: 'scheduled', ...window }),
    deletions,
    base: null,
    reused: [],
    takeOver: null,
  });
  if (previous === undefined || previous.events.size === 0) return fullRead();
  const versions = await store.listSessionVersions(providerId, window);
  const reused = new Set<CachedEvent>();
  const stale: string[] = [];
  for (const version of versions) {
    const cached = previous.events.get(version.id);
    if (cached !== undefined && sameVersion(cached.version, version)) reused.add(cached);
    else stale.push(version.id);
  }
  if (stale.length > versions.length * FULL_READ_SHARE) return fullRead();
  const removed: CachedEvent[] = [];
  for (const event of previous.events.values()) if (!reused.has(event)) removed.push(event);
  // A session deleted between the two reads is simply not found, as a later read would show.
  const read = stale.length === 0 ? [] : await store.getSessions(providerId, stale);
  return { read, deletions, base: { layout: previous.layout, removed }, reused: [], takeOver: null };
}
