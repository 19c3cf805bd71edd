// A feed body's events held as its chunks (body-chunks.ts), each with its events' bytes joined,
// its CRC-32, identity and time-zone spans: after a change to one event, the new body is the old
// chunks but the one or two around the change, and relayOutWithEdits reads only those (and the array of
// the others) instead of 5,000 events. Walking every event was what the first poll after a change
// cost: not the instructions (a microbenchmark did the walk in 0.1 ms) but cache misses on 5,000
// objects scattered over the heap, each with a digest Buffer and its backing store, ~1 ms per walk
// inside the server. For the same reason a chunk keeps what every render reads of it in fields.
//
// Invariant: the chunks are exactly those bodyChunks() cuts from the same events in order, with
// the same identities (test/unit/event-layout.test.ts checks this against a cold layout and
// against bodyChunks), so the ETag and the gzip come out the same however the body was reached.
import { crc32 } from 'node:zlib';
import { endsChunk, membersIdentity, runIdentity } from './body-chunks.js';
import type { PieceEdit } from './chunked-gzip.js';
import { crc32Shift } from './crc32-combine.js';
import { compareFragments, sortFragments, type EventFragment } from './ics-renderer.js';

/** An event of a layout: its fragment, its bytes re-pointed into its chunk's. */
export interface LaidEvent extends EventFragment {
  source: Buffer;
  offset: number;
}

/** The UTC span of the events written under one TZID (what its VTIMEZONE must cover). */
export interface ZoneSpan {
  from: number;
  to: number;
}

export interface EventChunk {
  readonly events: readonly LaidEvent[];
  /** The events' bytes, joined (each event's source is this, at its offset); length bytes. */
  readonly bytes: Buffer;
  readonly length: number;
  readonly crc: number;
  readonly shift: number;
  /** The event before the chunk (its deflate dictionary), or undefined for the first chunk. */
  readonly dictionary: LaidEvent | undefined;
  /** membersIdentity of its events, kept to re-identify it under another dictionary. */
  readonly membersIdentity: Buffer;
  readonly identity: string;
  /**
   * The TZID its first zoned event is written under (null for none), and the UTC years its events
   * under it span; `moreZones`, any other TZIDs in the order they first appear. Years suffice (a
   * VTIMEZONE covers whole years, vtimezone.ts), and as small integers they sit in the chunk object
   * itself: layoutZones reads every chunk after every change, and a Map of spans per chunk cost
   * three more cache misses each, ~50 us of the first poll after a change.
   */
  readonly zone: string | null;
  readonly zoneFromYear: number;
  readonly zoneToYear: number;
  readonly moreZones: ReadonlyMap<string, { fromYear: number; toYear: number }> | null;
}

export interface EventLayout {
  readonly chunks: readonly EventChunk[];
  /** Number of events and bytes of all chunks. */
  readonly count: number;
  readonly length: number;
  /**
   * The chunks' identities, each followed by ".": what the body's ETag hashes (layoutEtag). Kept
   * whole and spliced by relayOutWithEdits, so that the first poll after a change hashes one string
   * instead of reading the identity of every chunk object (~50 us of it, cold).
   */
  readonly identities: string;
  /**
   * How many chunks have each TZID over each span of UTC years (yearsKey): what layoutZones reads
   * instead of every chunk, kept up to date by relayOutWithEdits from the chunks it replaced.
   */
  readonly zoneTally: ZoneTally;
  /**
   * Each chunk's bytes, in order: the body's parts between its head and end. Kept whole and
   * spliced by relayOutWithEdits like the identities, so that the first poll after a change does
   * not read every chunk object for its bytes (~100 of them, cold).
   */
  readonly parts: readonly Buffer[];
}

/** TZID -> yearsKey(fromYear, toYear) -> how many chunks have that TZID over those years. */
export type ZoneTally = ReadonlyMap<string, ReadonlyMap<number, number>>;

/** Every chunk identity is "e" or "b" and a SHA-256 in base64url: fixed width, so spliced by index. */
const IDENTITY_WIDTH = 44;

/** A layout of these chunks, with its identities and zone tally made from them. */
function layoutOf(chunks: readonly EventChunk[], count: number, length: number): EventLayout {
  const tally = new Map<string, Map<number, number>>();
  for (const chunk of chunks) tallyChunk(tally, chunk, 1);
  return { chunks, count, length, identities: identitiesOf(chunks), zoneTally: tally, parts: chunks.map((c) => c.bytes) };
}

function identitiesOf(chunks: readonly EventChunk[]): string {
  let text = '';
  for (const chunk of chunks) {
    if (chunk.identity.length !== IDENTITY_WIDTH) throw new Error(`A chunk identity of ${chunk.identity.length} characters, not ${IDENTITY_WIDTH}.`);
    text += `${chunk.identity}.`;
  }
  return text;
}

/** Counts (by 1) or uncounts (by -1) a chunk's TZIDs and years in the tally. */
function tallyChunk(tally: Map<string, Map<number, number>>, chunk: EventChunk, by: 1 | -1): void {
  if (chunk.zone === null) return;
  tallyZone(tally, chunk.zone, chunk.zoneFromYear, chunk.zoneToYear, by);
  if (chunk.moreZones !== null) for (const [tzid, { fromYear, toYear }] of chunk.moreZones) tallyZone(tally, tzid, fromYear, toYear, by);
}

function tallyZone(tally: Map<string, Map<number, number>>, tzid: string, fromYear: number, toYear: number, by: 1 | -1): void {
  let spans = tally.get(tzid);
  if (spans === undefined) tally.set(tzid, (spans = new Map()));
  const key = yearsKey(fromYear, toYear);
  const count = (spans.get(key) ?? 0) + by;
  if (count > 0) spans.set(key, count);
  else {
    spans.delete(key);
    if (spans.size === 0) tally.delete(tzid);
  }
}

// Years a Date can hold are within +-275,760: both fit one safe integer.
const YEAR_OFFSET = 300_000;
const YEAR_SPAN = 1_000_000;

function yearsKey(fromYear: number, toYear: number): number {
  return (fromYear + YEAR_OFFSET) * YEAR_SPAN + (toYear + YEAR_OFFSET);
}

/** Past this many changes, laying the events out afresh beats finding each one's chunk. */
const MAX_CHANGES = 64;

/** The layout of events already in sortFragments order. */
export function layOut(sorted: readonly LaidEvent[]): EventLayout {
  const cut = new ChunkCutter();
  for (const event of sorted) cut.add(event);
  return cut.finish();
}

/** The layout the edits made of `before`, its identities and tally adjusted by the chunks replaced alone. */
function edited(before: EventLayout, chunks: readonly EventChunk[], edits: readonly ChunkEdit[], count: number, length: number): EventLayout {
  const tally = new Map<string, Map<number, number>>();
  for (const [tzid, spans] of before.zoneTally) tally.set(tzid, new Map(spans));
  let identities = '';
  const parts: Buffer[] = [];
  let old = 0;
  for (const { oldFrom, oldTo, newFrom, newTo } of edits) {
    identities += before.identities.slice(old * (IDENTITY_WIDTH + 1), oldFrom * (IDENTITY_WIDTH + 1));
    for (let i = old; i < oldFrom; i++) parts.push(before.parts[i] as Buffer);
    for (let i = oldFrom; i < oldTo; i++) tallyChunk(tally, before.chunks[i] as EventChunk, -1);
    const added = chunks.slice(newFrom, newTo);
    for (const chunk of added) {
      tallyChunk(tally, chunk, 1);
      parts.push(chunk.bytes);
    }
    identities += identitiesOf(added);
    old = oldTo;
  }
  identities += before.identities.slice(old * (IDENTITY_WIDTH + 1));
  for (let i = old; i < before.parts.length; i++) parts.push(before.parts[i] as Buffer);
  return { chunks, count, length, identities, zoneTally: tally, parts };
}

/**
 * Chunks [oldFrom, oldTo) of a layout replaced by chunks [newFrom, newTo) of the layout relaid
 * from it; every other chunk is the same object, in the same order. A chunk whose events stayed
 * but whose dictionary changed (the event before it) counts as replaced: its bytes deflate anew.
 * The same shape as the gzip's piece edits, counted in chunks rather than pieces.
 */
export type ChunkEdit = PieceEdit;

/**
 * The layout less `removed` (events of it, the same objects) and with `added`, as layOut of the
 * result in order would give, re-cutting only the chunks the changes fall in (and those after,
 * until a chunk ends where an old one did: from there on cutting the same events gives the same
 * chunks); and the chunks it replaced, in order, or null when the layout was cut afresh (many
 * changes), which tells nothing of what stayed. Throws a RangeError for a removed event that the
 * layout does not hold.
 */
export function relayOutWithEdits(layout: EventLayout, removed: readonly LaidEvent[], added: readonly LaidEvent[]): { layout: EventLayout; edits: ChunkEdit[] | null } {
  const { chunks } = layout;
  if (removed.length + added.length > MAX_CHANGES || chunks.length === 0) {
    const gone = new Set<LaidEvent>(removed);
    const kept = chunks.flatMap((c) => c.events.filter((e) => !gone.has(e)));
    if (kept.length !== layout.count - gone.size) throw new RangeError('A removed event is not in the layout.');
    return { layout: layOut(sortFragments([...kept, ...added]) as LaidEvent[]), edits: null };
  }
  // Each change by the chunk it falls in: that whose first event is the last at or before it.
  const changes = new Map<number, { removed: Set<LaidEvent>; added: LaidEvent[] }>();
  const at = (index: number) => {
    let change = changes.get(index);
    if (change === undefined) changes.set(index, (change = { removed: new Set(), added: [] }));
    return change;
  };
  for (const event of removed) {
    const index = chunkOf(chunks, event);
    if (!(chunks[index]?.events.includes(event) ?? false)) throw new RangeError(`Event ${event.uid} is not in the layout.`);
    at(index).removed.add(event);
  }
  for (const event of added) at(chunkOf(chunks, event)).added.push(event);

  // Only the chunks around a change are touched: the others go over as they are, unread (reading
  // each of ~100 chunk objects, cold, cost more than cutting the changed one).
  const order = [...changes.keys()].sort((a, b) => a - b);
  const out: EventChunk[] = [];
  const edits: ChunkEdit[] = [];
  let { count, length } = layout;
  let i = 0;
  for (let k = 0; k < order.length; ) {
    while (i < (order[k] as number)) out.push(chunks[i++] as EventChunk);
    const oldFrom = i;
    const newFrom = out.length;
    const cut = new ChunkCutter(lastEventOf(out));
    // From the changed chunk on, until a cut ends where an old chunk did with no change next:
    // from there on cutting the same events gives the same chunks.
    do {
      const chunk = chunks[i] as EventChunk;
      const change = changes.get(i);
      count -= chunk.events.length;
      length -= chunk.length;
      for (const event of change === undefined ? chunk.events : applied(chunk.events, change.removed, change.added)) cut.add(event);
      i += 1;
    } while (i < chunks.length && (!cut.atBoundary() || changes.has(i)));
    while (k < order.length && (order[k] as number) < i) k += 1;
    for (const chunk of cut.finishChunks()) {
      out.push(chunk);
      count += chunk.events.length;
      length += chunk.length;
    }
    // The next chunk is cut from the same boundary, so it is the same chunk; but it is deflated
    // against the event before it, which may have changed.
    let oldTo = i;
    let newTo = out.length;
    if (i < chunks.length) {
      const next = chunks[i++] as EventChunk;
      const moved = following(next, lastEventOf(out));
      out.push(moved);
      // Re-identified: deflated against another event, so replaced too.
      if (moved !== next) {
        oldTo = i;
        newTo = out.length;
      }
    }
    edits.push({ oldFrom, oldTo, newFrom, newTo });
  }
  while (i < chunks.length) out.push(chunks[i++] as EventChunk);
  return { layout: edited(layout, out, edits, count, length), edits };
}

function lastEventOf(chunks: readonly EventChunk[]): LaidEvent | undefined {
  const last = chunks[chunks.length - 1];
  return last?.events[last.events.length - 1];
}

/** A chunk as it is, or re-identified when the event before it (its dictionary) is another. */
function following(chunk: EventChunk, dictionary: LaidEvent | undefined): EventChunk {
  return dictionary === chunk.dictionary ? chunk : { ...chunk, dictionary, identity: runIdentity(dictionary, chunk.membersIdentity) };
}

/** The index of the chunk an event falls in (the first chunk for one before them all). */
function chunkOf(chunks: readonly EventChunk[], event: LaidEvent): number {
  let lo = 0;
  let hi = chunks.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (compareFragments((chunks[mid] as EventChunk).events[0] as LaidEvent, event) <= 0) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A chunk's events less `removed`, with `added` merged in order. */
function applied(events: readonly LaidEvent[], removed: ReadonlySet<LaidEvent>, added: LaidEvent[]): LaidEvent[] {
  const incoming = sortFragments(added) as LaidEvent[];
  const out: LaidEvent[] = [];
  let next = 0;
  for (const event of events) {
    if (removed.has(event)) continue;
    // Equal keys: the kept event first, as a stable sort of old then new would.
    while (next < incoming.length && compareFragments(incoming[next] as LaidEvent, event) < 0) out.push(incoming[next++] as LaidEvent);
    out.push(event);
  }
  while (next < incoming.length) out.push(incoming[next++] as LaidEvent);
  return out;
}

/** Cuts events, in order, into chunks by body-chunks' rule. */
class ChunkCutter {
  private readonly chunks: EventChunk[] = [];
  private pending: LaidEvent[] = [];
  private pendingLength = 0;
  private count = 0;
  private length = 0;

  /** `before`: the event before the first one added (the first chunk's dictionary). */
  constructor(private readonly before: LaidEvent | undefined = undefined) {}

  /** Whether the last event added ended a chunk: an old chunk may follow as it was. */
  atBoundary(): boolean {
    return this.pending.length === 0;
  }

  add(event: LaidEvent): void {
    this.pending.push(event);
    this.pendingLength += event.length;
    if (endsChunk(event.digest, this.pendingLength)) this.close();
  }

  finish(): EventLayout {
    return layoutOf(this.finishChunks(), this.count, this.length);
  }

  /** The chunks cut, the last closed (what relayOutWithEdits splices in). */
  finishChunks(): EventChunk[] {
    if (this.pending.length > 0) this.close();
    return this.chunks;
  }

  private lastEvent(): LaidEvent | undefined {
    return this.chunks.length === 0 ? this.before : lastEventOf(this.chunks);
  }

  private close(): void {
    const events = this.pending;
    const dictionary = this.lastEvent();
    const bytes = Buffer.allocUnsafe(this.pendingLength);
    const zones = new Map<string, ZoneSpan>();
    let offset = 0;
    // Events that sat side by side in one buffer (a re-cut chunk's unchanged ones) go in one
    // copy: a copy per event cost ~0.5 us each of call overhead, cold, for ~64 events.
    let runSource: Buffer | undefined;
    let runStart = 0;
    let runEnd = 0;
    let runAt = 0;
    for (const event of events) {
      if (event.source !== runSource || event.offset !== runEnd) {
        if (runSource !== undefined) runSource.copy(bytes, runAt, runStart, runEnd);
        runSource = event.source;
        runStart = event.offset;
        runAt = offset;
      }
      runEnd = event.offset + event.length;
      // The same bytes, now in the chunk's buffer: the fragment's own can go.
      event.source = bytes;
      event.offset = offset;
      offset += event.length;
      if (event.tzid === null) continue;
      const zone = zones.get(event.tzid);
      if (zone === undefined) zones.set(event.tzid, { from: event.startMs, to: event.endMs });
      else {
        if (event.startMs < zone.from) zone.from = event.startMs;
        if (event.endMs > zone.to) zone.to = event.endMs;
      }
    }
    if (runSource !== undefined) runSource.copy(bytes, runAt, runStart, runEnd);
    const members = membersIdentity(events);
    const [first, ...more] = [...zones].map(([tzid, span]) => ({ tzid, fromYear: utcYear(span.from), toYear: utcYear(span.to) }));
    this.push({
      events,
      bytes,
      length: bytes.length,
      crc: crc32(bytes),
      shift: crc32Shift(bytes.length),
      dictionary,
      membersIdentity: members,
      identity: runIdentity(dictionary, members),
      zone: first?.tzid ?? null,
      zoneFromYear: first?.fromYear ?? 0,
      zoneToYear: first?.toYear ?? 0,
      moreZones: more.length === 0 ? null : new Map(more.map(({ tzid, fromYear, toYear }) => [tzid, { fromYear, toYear }])),
    });
    this.pending = [];
    this.pendingLength = 0;
  }

  private push(chunk: EventChunk): void {
    this.chunks.push(chunk);
    this.count += chunk.events.length;
    this.length += chunk.bytes.length;
  }
}

/**
 * The zone spans of all the layout's events, TZIDs in the order they first appear, each from the
 * start of its first UTC year to the start of its last: the years a VTIMEZONE covers.
 */
export function layoutZones(layout: EventLayout): Map<string, ZoneSpan> {
  const years = new Map<string, { fromYear: number; toYear: number }>();
  // One TZID (a provider's sessions are written in the provider's zone): its years from the
  // tally. With more, the order they first appear in takes a walk over the chunks.
  if (layout.zoneTally.size <= 1) {
    const zones = new Map<string, ZoneSpan>();
    for (const [tzid, spans] of layout.zoneTally) {
      let fromYear = Infinity;
      let toYear = -Infinity;
      for (const key of spans.keys()) {
        fromYear = Math.min(fromYear, Math.floor(key / YEAR_SPAN) - YEAR_OFFSET);
        toYear = Math.max(toYear, (key % YEAR_SPAN) - YEAR_OFFSET);
      }
      zones.set(tzid, { from: yearStart(fromYear), to: yearStart(toYear) });
    }
    return zones;
  }
  const add = (tzid: string, fromYear: number, toYear: number) => {
    const known = years.get(tzid);
    if (known === undefined) years.set(tzid, { fromYear, toYear });
    else {
      if (fromYear < known.fromYear) known.fromYear = fromYear;
      if (toYear > known.toYear) known.toYear = toYear;
    }
  };
  for (const chunk of layout.chunks) {
    if (chunk.zone === null) continue;
    add(chunk.zone, chunk.zoneFromYear, chunk.zoneToYear);
    if (chunk.moreZones !== null) for (const [tzid, span] of chunk.moreZones) add(tzid, span.fromYear, span.toYear);
  }
  const zones = new Map<string, ZoneSpan>();
  for (const [tzid, { fromYear, toYear }] of years) zones.set(tzid, { from: yearStart(fromYear), to: yearStart(toYear) });
  return zones;
}

function utcYear(ms: number): number {
  return new Date(ms).getUTCFullYear();
}

/** The first instant of a UTC year (Date.UTC would read years 0-99 as 1900-1999). */
function yearStart(year: number): number {
  return new Date(0).setUTCFullYear(year, 0, 1);
}
