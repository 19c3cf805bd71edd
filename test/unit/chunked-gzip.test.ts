import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hash } from 'node:crypto';
import { crc32, gunzipSync, gzipSync, inflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { chunkedGzip as gzipSpans, type BodySpan as ByteSpan, keptChunks, type GzipChunks } from '../../feeds/chunked-gzip.js';

// A gzip assembled from chunks deflated one at a time must be a gzip of the body that any
// decoder reads (zlib and GNU gzip), carry the body's CRC-32 and length, come out the same bytes
// whether its chunks were kept from an earlier body or not, and after a change to one event
// deflate only the chunk that holds it.

const FC = { seed: 1952, numRuns: 80, endOnFailure: true } as const;
const CAP = 48 * 1024;
const HEADER = Buffer.from('1f8b0800000000000003', 'hex');

/** A stretch of a fixture body by offset, as these tests lay bodies out. */
interface BodySpan {
  offset: number;
  length: number;
  digest: Buffer | null;
}

interface Body {
  body: Buffer;
  spans: BodySpan[];
}

/** chunkedGzip over a body given whole (one part) and as spans cut from it by offset. */
function chunkedGzip(body: Buffer, spans: readonly BodySpan[], previous: GzipChunks | undefined, options?: { level?: number }) {
  const bytes: ByteSpan[] = spans.map((s) => ({ source: body, offset: s.offset, length: s.length, digest: s.digest }));
  return gzipSpans([body], bytes, previous, options);
}

/** A body laid out as the renderer lays it out: a head and an end without digests, events with theirs. */
function layout(head: Buffer | null, events: readonly Buffer[], end: Buffer | null): Body {
  const parts: Buffer[] = [];
  const spans: BodySpan[] = [];
  let offset = 0;
  const add = (bytes: Buffer, digest: Buffer | null) => {
    parts.push(bytes);
    spans.push({ offset, length: bytes.length, digest });
    offset += bytes.length;
  };
  if (head !== null) add(head, null);
  for (const event of events) add(event, hash('sha256', event, 'buffer'));
  if (end !== null) add(end, null);
  return { body: Buffer.concat(parts), spans };
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so fixtures need no fast-check. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const NAMES = ['Avery', 'Blake', 'Casey', 'Drew', 'Emery', 'Finley', 'Gray', 'Harper', 'Jordan', 'Kai'];
const pick = <T>(rand: () => number, from: readonly T[]): T => from[Math.floor(rand() * from.length)] as T;

/** One VEVENT of ~450 bytes, as the renderer writes a session: the same lines, other values. */
function icsEvent(i: number, rand: () => number, revision = 0): Buffer {
  // Two-hour slots from 2026-09-08, as a busy practice's calendar fills.
  const start = new Date(Date.UTC(2026, 8, 8, 13) + i * 2 * 3_600_000);
  const stamp = (date: Date) => date.toISOString().replace(/[-:]|\.\d{3}/g, '');
  const local = stamp(new Date(start.getTime() - 4 * 3_600_000)).slice(0, -1);
  const name = pick(rand, NAMES);
  const lines = [
    'BEGIN:VEVENT',
    `UID:p1.s${i}@sessionsync.example`,
    `SEQUENCE:${revision}`,
    `DTSTAMP:2026100${1 + Math.floor(rand() * 9)}T120000Z`,
    `DTSTART;TZID=America/New_York:${local}`,
    `DTEND;TZID=America/New_York:${local.slice(0, -4)}5000`,
    `SUMMARY:Session with ${name[0]}. ${pick(rand, NAMES)[0]}.`,
    `LOCATION:${pick(rand, ['Video', 'Office 2B'])}`,
    `DESCRIPTION:Join the video session at https://doxy.me/dr-byron\\nCheck in a f`,
    ` ew minutes early.${revision > 0 ? ` (moved ${revision})` : ''}`,
    'URL:https://doxy.me/dr-byron',
    `STATUS:${rand() < 0.95 ? 'CONFIRMED' : 'CANCELLED'}`,
    'TRANSP:OPAQUE',
    'CREATED:20260901T083000Z',
    'LAST-MODIFIED:20261001T120000Z',
    'END:VEVENT',
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n`);
}

const ICS_HEAD = Buffer.from(
  [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//sessionsync//feeds//EN',
    'NAME:Dr. A',
    'X-WR-CALNAME:Dr. A',
    'BEGIN:VTIMEZONE',
    'TZID:America/New_York',
    'BEGIN:STANDARD',
    'DTSTART:20251102T020000',
    'TZOFFSETFROM:-0400',
    'TZOFFSETTO:-0500',
    'TZNAME:EST',
    'END:STANDARD',
    'END:VTIMEZONE',
    '',
  ].join('\r\n'),
);
const ICS_END = Buffer.from('END:VCALENDAR\r\n');

/** A feed of count events (count 5,000: ~2.2 MB). */
function icsFeed(count: number, seed = 7): { events: Buffer[]; rand: () => number } {
  const rand = random(seed);
  return { events: Array.from({ length: count }, (_, i) => icsEvent(i, rand)), rand };
}

/** Whether an event's digest ends a chunk (its first byte below 4: 1 in 64). */
const endsChunk = (event: Buffer) => (hash('sha256', event, 'buffer')[0] as number) < 4;

/** Event i at the first revision from `from` on whose digest does (or does not) end a chunk. */
function eventThatEnds(i: number, ends: boolean, from = 0): Buffer {
  for (let revision = from; ; revision++) {
    const event = icsEvent(i, random(i), revision);
    if (endsChunk(event) === ends) return event;
  }
}

/** Decoded by zlib's gunzip and raw inflate, with the header and trailer RFC 1952 prescribes. */
function assertGzipOf(gzip: Buffer, body: Buffer): void {
  assert.ok(gunzipSync(gzip).equals(body), 'gunzip gives the body');
  assert.ok(inflateRawSync(gzip.subarray(HEADER.length, gzip.length - 8)).equals(body), 'the deflate data inflates to the body');
  assert.ok(gzip.subarray(0, HEADER.length).equals(HEADER), 'constant header');
  assert.equal(gzip.readUInt32LE(gzip.length - 8), crc32(body), 'CRC-32');
  assert.equal(gzip.readUInt32LE(gzip.length - 4), body.length, 'ISIZE');
}

let gzipMissing = false;
/** GNU gzip, a decoder that shares no code with Node's zlib; null when it is not installed. */
function gnuGzip(args: string[], input: Buffer): { status: number | null; stdout: Buffer } | null {
  if (gzipMissing) return null;
  const run = spawnSync('gzip', args, { input, maxBuffer: 64 * 1024 * 1024 });
  if (run.error !== undefined) {
    gzipMissing = true;
    console.log(`      (GNU gzip not runnable: ${run.error.message}; its checks are skipped)`);
    return null;
  }
  return { status: run.status, stdout: run.stdout };
}

function assertGnuGzipReads(gzip: Buffer, body: Buffer): void {
  const tested = gnuGzip(['-t'], gzip);
  if (tested === null) return;
  assert.equal(tested.status, 0, 'gzip -t passes');
  const decoded = gnuGzip(['-dc'], gzip);
  assert.ok(decoded !== null && decoded.status === 0 && decoded.stdout.equals(body), 'gzip -dc gives the body');
}

// Bytes of a given length from a seed: text that repeats itself or noise that does not.
function filler(seed: number, length: number, text: boolean): Buffer {
  const rand = random(seed);
  if (!text) return Buffer.from(Array.from({ length }, () => Math.floor(rand() * 256)));
  let out = '';
  while (out.length < length) out += `${pick(rand, NAMES)} ${Math.floor(rand() * 1000)}\r\n`;
  return Buffer.from(out.slice(0, length));
}

const eventArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 20, arbitrary: fc.nat(100_000).map((seed) => icsEvent(seed, random(seed))) },
  // Events that end a chunk, so that random bodies have many chunks, not one or two.
  { weight: 4, arbitrary: fc.nat(100_000).map((seed) => eventThatEnds(seed, true)) },
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 700 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 200 }).map((text) => Buffer.from(text)) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
  // Longer than the cap, so a span alone overruns a chunk.
  { weight: 1, arbitrary: fc.record({ seed: fc.nat(), length: fc.integer({ min: CAP - 100, max: 2 * CAP }), text: fc.boolean() }).map(({ seed, length, text }) => filler(seed, length, text)) },
);
const partArb = fc.option(fc.oneof(fc.constant(ICS_HEAD), fc.uint8Array({ maxLength: 3000 }).map((bytes) => Buffer.from(bytes))));
const bodyArb: fc.Arbitrary<Body> = fc
  .record({ head: partArb, events: fc.array(eventArb, { maxLength: 80 }), end: fc.option(fc.constant(ICS_END)) })
  .map(({ head, events, end }) => layout(head, events, end));

type Edit = { kind: 'replace' | 'insert'; at: number; event: Buffer } | { kind: 'remove'; at: number };
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constantFrom('replace' as const, 'insert' as const), at: fc.nat(), event: eventArb }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat() }),
);

function edited(events: readonly Buffer[], edits: readonly Edit[]): Buffer[] {
  const out = [...events];
  for (const edit of edits) {
    const at = out.length === 0 ? 0 : edit.at % (out.length + (edit.kind === 'insert' ? 1 : 0));
    if (edit.kind === 'insert') out.splice(at, 0, edit.event);
    else if (out.length > 0) {
      if (edit.kind === 'replace') out[at] = edit.event;
      else out.splice(at, 1);
    }
  }
  return out;
}

/** Events, with the head and end of an ICS feed. */
const feed = (events: readonly Buffer[]): Body => layout(ICS_HEAD, events, ICS_END);

describe('chunkedGzip', () => {
  it('when bodies of random events, heads and ends are gzipped, then zlib reads each back with the header and trailer RFC 1952 prescribes', () => {
    fc.assert(
      fc.property(bodyArb, ({ body, spans }) => {
        const { gzip, chunks, compressed } = chunkedGzip(body, spans, undefined);
        assertGzipOf(gzip, body);
        // With nothing kept, a chunk is reused only when its run of events came earlier in the body.
        assert.equal(keptChunks(chunks).size, compressed);
      }),
      FC,
    );
  });

  it('when bodies are gzipped, then GNU gzip tests and decodes them, and the trailer is the one gzipSync writes', () => {
    fc.assert(
      fc.property(bodyArb, ({ body, spans }) => {
        const { gzip } = chunkedGzip(body, spans, undefined);
        assertGnuGzipReads(gzip, body);
        // zlib's own gzip wrapper computes CRC-32 and ISIZE apart from chunkedGzip.
        assert.ok(gzip.subarray(gzip.length - 8).equals(gzipSync(body).subarray(-8)), 'trailer as gzipSync writes it');
      }),
      { ...FC, numRuns: 25 },
    );
  });

  it('when the body is empty, with no spans or one empty span, then the gzip is that of nothing', () => {
    for (const spans of [[], [{ offset: 0, length: 0, digest: null }], [{ offset: 0, length: 0, digest: hash('sha256', '', 'buffer') }]]) {
      const { gzip } = chunkedGzip(Buffer.alloc(0), spans, undefined);
      assertGzipOf(gzip, Buffer.alloc(0));
      assertGnuGzipReads(gzip, Buffer.alloc(0));
    }
  });

  it('when a body is several MB, with noise and a single span many times the cap, then both decoders read it back', () => {
    const { events } = icsFeed(5_000);
    const noise = Array.from({ length: 500 }, (_, i) => filler(i, 2_000, false));
    const { body, spans } = feed([...events.slice(0, 2_500), filler(1, 640 * 1024, true), ...noise, filler(2, 384 * 1024, false), ...events.slice(2_500)]);
    assert.ok(body.length > 4_000_000);
    const { gzip } = chunkedGzip(body, spans, undefined);
    assertGzipOf(gzip, body);
    assertGnuGzipReads(gzip, body);
  });

  it('when a body is gzipped at each level, then it reads back, and chunks kept at one level are not reused at another', () => {
    const { body, spans } = feed(icsFeed(300).events);
    const atOne = chunkedGzip(body, spans, undefined, { level: 1 });
    for (let level = 0; level <= 9; level++) {
      const cold = chunkedGzip(body, spans, undefined, { level });
      assertGzipOf(cold.gzip, body);
      const warm = chunkedGzip(body, spans, atOne.chunks, { level });
      assert.ok(warm.gzip.equals(cold.gzip), `level ${level}`);
      assert.equal(warm.reused, level === 1 ? cold.compressed : 0, `level ${level}`);
    }
    assert.ok(chunkedGzip(body, spans, undefined).gzip.equals(chunkedGzip(body, spans, undefined, { level: 6 }).gzip), 'the default level is 6');
  });

  it('when a body is gzipped with the chunks of an earlier version of it, then the bytes are those gzipped with none', () => {
    fc.assert(
      fc.property(bodyArb, fc.array(editArb, { maxLength: 4 }), fc.boolean(), (before, edits, withHead) => {
        const events = before.spans.flatMap((span) => (span.digest === null ? [] : [before.body.subarray(span.offset, span.offset + span.length)]));
        const older = chunkedGzip(before.body, before.spans, undefined);
        const after = withHead ? feed(edited(events, edits)) : layout(null, edited(events, edits), null);
        const cold = chunkedGzip(after.body, after.spans, undefined);
        const warm = chunkedGzip(after.body, after.spans, older.chunks);
        assert.ok(warm.gzip.equals(cold.gzip));
        assertGzipOf(warm.gzip, after.body);
        assert.equal(warm.compressed + warm.reused, cold.compressed + cold.reused);
        // Its own chunks leave nothing to deflate.
        const again = chunkedGzip(after.body, after.spans, warm.chunks);
        assert.equal(again.compressed, 0);
        assert.ok(again.gzip.equals(cold.gzip));
      }),
      FC,
    );
  });

  describe('after a change to a 5,000-event feed', () => {
    const { events, rand } = icsFeed(5_000);
    const base = feed(events);
    let first: ReturnType<typeof chunkedGzip>;
    before(() => {
      first = chunkedGzip(base.body, base.spans, undefined);
      assertGzipOf(first.gzip, base.body);
    });

    /** Gzips the edited feed warm, checks it against cold, returns the warm result. */
    function regzip(after: Body): ReturnType<typeof chunkedGzip> {
      const warm = chunkedGzip(after.body, after.spans, first.chunks);
      const cold = chunkedGzip(after.body, after.spans, undefined);
      assert.ok(warm.gzip.equals(cold.gzip), 'the same bytes as with nothing kept');
      assertGzipOf(warm.gzip, after.body);
      assert.equal(warm.compressed + warm.reused, cold.compressed, 'every chunk is deflated or reused');
      // Only the chunks of this body are kept, each once, each in the new gzip.
      assert.equal(warm.chunks.gzip, warm.gzip);
      let bytes = 0;
      for (const view of keptChunks(warm.chunks).values()) {
        assert.equal(view.buffer, warm.gzip.buffer);
        bytes += view.length;
      }
      assert.equal(keptChunks(warm.chunks).size, cold.compressed);
      assert.equal(bytes, warm.gzip.length - HEADER.length - 2 - 8);
      return warm;
    }

    it('when one event changes, then only its chunk is deflated again and the old one is not kept', () => {
      assert.ok(first.compressed > 50, `${first.compressed} chunks`);
      for (const at of [0, 1, 2_345, 4_998, 4_999]) {
        const changed = [...events];
        changed[at] = icsEvent(at, rand, 1);
        const warm = regzip(feed(changed));
        // 2 when the new digest ends a chunk where the old one did not.
        assert.ok(warm.compressed >= 1 && warm.compressed <= 2, `event ${at}: ${warm.compressed} deflated`);
        assert.ok([...keptChunks(first.chunks).keys()].some((key) => !keptChunks(warm.chunks).has(key)), 'the replaced chunk is dropped');
      }
    });

    it('when the last event of a chunk is replaced by another that ends it, then the next chunk, deflated against it, is deflated again too', () => {
      const last = events.findIndex((event, i) => i > 100 && endsChunk(event));
      const changed = [...events];
      changed[last] = eventThatEnds(last, true, 1);
      assert.equal(regzip(feed(changed)).compressed, 2);
    });

    // Its chunk and the next; and the one after when the next had ended at the cap (1 in 6 chunks
    // reach it here), since the cap counts bytes from where a chunk starts.
    it('when an event is inserted or removed, then at most three chunks are deflated again', () => {
      for (const at of [0, 1_000, 2_500, 4_999]) {
        const inserted = [...events];
        inserted.splice(at, 0, icsEvent(10_000 + at, rand));
        assert.ok(regzip(feed(inserted)).compressed <= 3, `insert at ${at}`);
        const removed = [...events];
        removed.splice(at, 1);
        assert.ok(regzip(feed(removed)).compressed <= 3, `remove at ${at}`);
      }
    });

    it('when the feed is gzipped whole, then the chunked gzip is at most 10% larger', () => {
      const whole = gzipSync(base.body).length;
      assert.ok(first.gzip.length <= whole * 1.1, `${first.gzip.length} chunked vs ${whole} whole`);
    });
  });

  it('when no event of a long run ends a chunk, then chunks still end at the cap', () => {
    const events = Array.from({ length: 3_000 }, (_, i) => eventThatEnds(i, false));
    const { body, spans } = feed(events);
    const { gzip, chunks } = chunkedGzip(body, spans, undefined);
    assertGzipOf(gzip, body);
    // The head, the end, and the run cut at every 48 KiB (give or take an event).
    assert.equal(keptChunks(chunks).size, 2 + Math.ceil((body.length - ICS_HEAD.length - ICS_END.length) / CAP));
  });

  it('when the same run of events appears twice, then it is deflated once and kept once', () => {
    const boundary = eventThatEnds(0, true);
    const other = eventThatEnds(1, false);
    // The first run has no event before it to deflate against, the next two the same one.
    const { body, spans } = feed([boundary, other, boundary, other, boundary]);
    const result = chunkedGzip(body, spans, undefined);
    assertGzipOf(result.gzip, body);
    assert.deepEqual({ compressed: result.compressed, reused: result.reused, kept: keptChunks(result.chunks).size }, { compressed: 4, reused: 1, kept: 4 });
  });

  it('when the spans do not hold as many bytes as the parts, or the level is out of range, then it throws a RangeError', () => {
    const digest = hash('sha256', 'x', 'buffer');
    const span = (text: string, d: Buffer | null) => ({ source: Buffer.from(text), offset: 0, length: text.length, digest: d });
    assert.throws(() => gzipSpans([Buffer.from('abcdef')], [span('abcde', digest)], undefined), RangeError);
    assert.throws(() => gzipSpans([Buffer.from('abc'), Buffer.from('def')], [span('abcdefg', null)], undefined), RangeError);
    assert.doesNotThrow(() => gzipSpans([Buffer.from('abc'), Buffer.from('def')], [span('abcdef', null)], undefined));
    for (const level of [-1, 10, 1.5]) assert.throws(() => gzipSpans([Buffer.from('abcdef')], [span('abcdef', null)], undefined, { level }), RangeError);
  });

  it('when the body comes in several parts, then the CRC and length cover them all', () => {
    const { body, spans } = layout(Buffer.from('HEAD\r\n'), [Buffer.from('one\r\n'), Buffer.from('two\r\n')], Buffer.from('END\r\n'));
    const bytes: ByteSpan[] = spans.map((s) => ({ source: body, offset: s.offset, length: s.length, digest: s.digest }));
    const split = gzipSpans([body.subarray(0, 3), body.subarray(3, 11), body.subarray(11)], bytes, undefined);
    assert.ok(gunzipSync(split.gzip).equals(body));
    assert.ok(split.gzip.equals(gzipSpans([body], bytes, undefined).gzip));
  });
});
