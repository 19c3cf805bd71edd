// A feed body cut into content-defined chunks: the head alone, runs of events, the end alone.
// Chunks are what the chunked gzip deflates one at a time (chunked-gzip.ts) and what the ETag is
// hashed from, and each carries its bytes' CRC-32: so after a change to one event, only the chunk
// that holds it is hashed, CRC'd and deflated again, and the rest is pointer comparisons.
//
// A chunk ends after an event whose digest's first byte is below BOUNDARY_BELOW (1 event in 64,
// ~28 KiB of ~430-byte events), so inserting, removing or changing one event moves no boundary
// but its own and the chunks around it keep their identities; or once CHUNK_CAP long, so that a
// run of events whose digests never end a chunk (chance, or events made to) cannot make one chunk
// of the whole body. At 1 in 32 a real feed's chunked gzip was 1.11 times gzipSync's size (1.05 at
// 1 in 64); deflating the chunk of a changed event again costs ~0.4 ms instead of ~0.2.
// The cap also bounds what a change deflates again: a changed event falls in a long chunk more
// often than in a short one (in proportion to its length), so under a 128 KiB cap the chunk
// deflated after a change averaged twice the mean chunk. At 48 KiB, on the 5,000-event bench feed,
// that deflate took ~140 us instead of ~190, and the gzip grew by 0.2% (105 chunks, not 83).
import { hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { crc32Shift } from './crc32-combine.js';
import { spanBytes, type BodySpan } from './ics-renderer.js';

const BOUNDARY_BELOW = 4;
const CHUNK_CAP = 48 * 1024;

/** Spans [first, end) of a body, length bytes in all. */
export interface BodyChunk {
  readonly first: number;
  readonly end: number;
  readonly length: number;
  /**
   * SHA-256 (base64url) of what identifies the chunk's bytes and the bytes it is deflated
   * against: for the head or end, their bytes ('b'); for a run of events ('e'), the event before
   * it (its deflate dictionary) and its own, each as length and digest.
   */
  readonly identity: string;
  /** CRC-32 of its bytes, and crc32Shift of its length (to combine it into the body's CRC). */
  readonly crc: number;
  readonly shift: number;
}

/** A run of events as last chunked: valid again while the same fragments follow the same one. */
interface RunMemo {
  dictionary: BodySpan | undefined;
  members: BodySpan[];
  identity: string;
  length: number;
  crc: number;
  shift: number;
}

// Keyed by the chunk's first span (a cached event's fragment, the same object from render to
// render), or for a span without a digest by its buffer (the cached head, END:VCALENDAR): a body
// re-chunked after a change finds every unchanged chunk here and hashes nothing again.
const runs = new WeakMap<BodySpan, RunMemo>();
const wholeBuffers = new WeakMap<Buffer, { offset: number; length: number; identity: string; crc: number; shift: number }>();

/**
 * The body's chunks, in order. The event before a run is its deflate dictionary (see
 * dictionarySpan), so a run's identity covers it: changing the last event of a chunk changes the
 * next chunk's identity too.
 */
export function bodyChunks(spans: readonly BodySpan[]): BodyChunk[] {
  const chunks: BodyChunk[] = [];
  let first = 0;
  let length = 0;
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i] as BodySpan;
    if (span.digest === null) {
      if (i > first) chunks.push(eventRun(spans, first, i, length));
      chunks.push(standalone(spans, i));
      first = i + 1;
      length = 0;
      continue;
    }
    length += span.length;
    if (endsChunk(span.digest, length)) {
      chunks.push(eventRun(spans, first, i + 1, length));
      first = i + 1;
      length = 0;
    }
  }
  if (first < spans.length) chunks.push(eventRun(spans, first, spans.length, length));
  return chunks;
}

/** Whether an event with this digest ends its chunk, the chunk being `length` bytes with it. */
export function endsChunk(digest: Buffer, length: number): boolean {
  return (digest[0] ?? 0xff) < BOUNDARY_BELOW || length >= CHUNK_CAP;
}

/**
 * The event whose bytes a run of events is deflated against: the span before it, if that is an
 * event. Not the head: it changes with the events' time range (its VTIMEZONEs), and would then
 * take the first run of events with it.
 */
export function dictionarySpan(spans: readonly BodySpan[], chunk: Pick<BodyChunk, 'first'>): BodySpan | undefined {
  const before = spans[chunk.first - 1];
  return before?.digest === null || spans[chunk.first]?.digest === null ? undefined : before;
}

function standalone(spans: readonly BodySpan[], i: number): BodyChunk {
  const span = spans[i] as BodySpan;
  const { identity, crc, shift } = wholeSpan(span);
  return { first: i, end: i + 1, length: span.length, identity, crc, shift };
}

/** Identity, CRC and shift of a span without a digest (the head, the end), by its bytes. */
export function wholeSpan(span: Pick<BodySpan, 'source' | 'offset' | 'length'>): { identity: string; crc: number; shift: number } {
  let memo = wholeBuffers.get(span.source);
  if (memo === undefined || memo.offset !== span.offset || memo.length !== span.length) {
    const bytes = span.source.subarray(span.offset, span.offset + span.length);
    memo = { offset: span.offset, length: span.length, identity: `b${hash('sha256', bytes, 'base64url')}`, crc: crc32(bytes), shift: crc32Shift(span.length) };
    // Only a span that is its whole buffer is remembered: the cached head and end are.
    if (span.offset === 0 && span.length === span.source.length) wholeBuffers.set(span.source, memo);
  }
  return memo;
}

function eventRun(spans: readonly BodySpan[], first: number, end: number, length: number): BodyChunk {
  const dictionary = dictionarySpan(spans, { first });
  let memo = runs.get(spans[first] as BodySpan);
  if (memo === undefined || !sameRun(memo, spans, first, end, dictionary)) {
    memo = newRun(spans, first, end, length, dictionary);
    runs.set(spans[first] as BodySpan, memo);
  }
  return { first, end, length, identity: memo.identity, crc: memo.crc, shift: memo.shift };
}

function sameRun(memo: RunMemo, spans: readonly BodySpan[], first: number, end: number, dictionary: BodySpan | undefined): boolean {
  if (memo.dictionary !== dictionary || memo.members.length !== end - first) return false;
  for (let i = first; i < end; i++) if (memo.members[i - first] !== spans[i]) return false;
  return true;
}

function newRun(spans: readonly BodySpan[], first: number, end: number, length: number, dictionary: BodySpan | undefined): RunMemo {
  const members = spans.slice(first, end);
  let crc = 0;
  for (const span of members) crc = crc32(spanBytes(span), crc);
  return { dictionary, members, identity: runIdentity(dictionary, membersIdentity(members)), length, crc, shift: crc32Shift(length) };
}

/**
 * What identifies a run's events, each as length (so that a stale digest of an event whose
 * length changed cannot pass for it), digest length (so digests cannot run together) and digest,
 * written into one buffer: a hash call per event cost more than the hashing.
 */
export function membersIdentity(members: readonly BodySpan[]): Buffer {
  let size = 0;
  for (const span of members) size += 5 + (span.digest?.length ?? 0);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const span of members) at = writeIdentity(out, at, span);
  return out;
}

/** A run's identity: the event before it (its deflate dictionary), if any, and its events'. */
export function runIdentity(dictionary: BodySpan | undefined, members: Buffer): string {
  const before = Buffer.allocUnsafe(dictionary === undefined ? 1 : 6 + (dictionary.digest?.length ?? 0));
  before[0] = dictionary === undefined ? 0 : 1;
  if (dictionary !== undefined) writeIdentity(before, 1, dictionary);
  return `e${hash('sha256', Buffer.concat([before, members]), 'base64url')}`;
}

/** Length (4 bytes), digest length (1) and digest. */
function writeIdentity(out: Buffer, at: number, span: BodySpan): number {
  const digest = span.digest ?? EMPTY;
  out.writeUInt32LE(span.length, at);
  out[at + 4] = digest.length;
  out.set(digest, at + 5);
  return at + 5 + digest.length;
}
const EMPTY = Buffer.alloc(0);

/** Strong ETag of a body from its chunks: SHA-256 over their identities, which cover every byte. */
export function chunksEtag(chunks: readonly Pick<BodyChunk, 'identity'>[]): string {
  return joinedEtag(chunks.map((c) => c.identity).join('.'));
}

/**
 * chunksEtag of the head's chunk, chunks whose identities are given joined, each followed by
 * "." (EventLayout.identities), and the end's chunk.
 */
export function layoutEtag(headIdentity: string, identities: string, endIdentity: string): string {
  return joinedEtag(`${headIdentity}.${identities}${endIdentity}`);
}

function joinedEtag(identities: string): string {
  return `"${hash('sha256', identities, 'base64url')}"`;
}
