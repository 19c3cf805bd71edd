import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import fc from 'fast-check';
import { bodyChunks, chunksEtag, layoutEtag } from '../../feeds/body-chunks.js';
import { chunkedGzip, editGzip, type ChunkedGzip, type PieceEdit } from '../../feeds/chunked-gzip.js';
import { compactEditedGzip, editGzipBody, gzipBody } from '../../feeds/feed-body.js';
import { layOut, layoutZones, relayOutWithEdits, type EventLayout, type LaidEvent } from '../../feeds/event-layout.js';
import { CALENDAR_END, sortFragments, type BodySpan } from '../../feeds/ics-renderer.js';

// A feed body's events are kept as chunks and, after a change, only the chunks around it are cut
// again. Whatever the changes, the chunks must be those a cold layout of the same events cuts, and
// those bodyChunks() cuts from the body's spans (so ETags and gzip bytes agree however a body was
// reached), and every event's bytes must still be its own after being moved between buffers.
// Digests are made up here, with a boundary byte 1 time in 4 (a real digest: 1 in 64) and events
// up to 60 KB, so that chunks are many, short, and sometimes end at the 48 KiB cap.

const FC = { seed: 64, numRuns: 120, endOnFailure: true } as const;
const HEAD = Buffer.from('BEGIN:VCALENDAR\r\nVERSION:2.0\r\n');

interface EventSpec {
  startMs: number;
  length: number;
  boundary: number;
  tzid: string | null;
}

const specArb: fc.Arbitrary<EventSpec> = fc.record({
  startMs: fc.integer({ min: 0, max: 10_000 }).map((h) => Date.UTC(2026, 0, 1) + h * 3_600_000),
  length: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 3000 }) }, { weight: 1, arbitrary: fc.integer({ min: 20_000, max: 60_000 }) }),
  boundary: fc.nat(15),
  tzid: fc.constantFrom(null, 'America/New_York', 'Europe/London'),
});

type Step = { remove: number[]; add: EventSpec[] };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ remove: fc.array(fc.nat(), { maxLength: 3 }), add: fc.array(specArb, { maxLength: 3 }) }) },
  // Past the layout's limit for finding each change's chunk: laid out afresh.
  { weight: 1, arbitrary: fc.record({ remove: fc.array(fc.nat(), { minLength: 40, maxLength: 80 }), add: fc.array(specArb, { minLength: 30, maxLength: 40 }) }) },
);

let serial = 0;
/** An event whose bytes are its uid repeated (so moved bytes can be checked), with a made-up digest. */
function makeEvent(spec: EventSpec): { event: LaidEvent; bytes: Buffer } {
  const uid = `e${(serial++).toString().padStart(6, '0')}@test`;
  const bytes = Buffer.alloc(spec.length, `${uid};`);
  const digest = hash('sha256', bytes, 'buffer');
  digest[0] = spec.boundary;
  const event: LaidEvent = { source: Buffer.from(bytes), offset: 0, length: spec.length, digest, uid, revision: 'r', startMs: spec.startMs, endMs: spec.startMs + 3_000_000, tzid: spec.tzid };
  return { event, bytes };
}

/** The layout relayOutWithEdits makes, without its edits. */
function relayOut(layout: EventLayout, removed: readonly LaidEvent[], added: readonly LaidEvent[]): EventLayout {
  return relayOutWithEdits(layout, removed, added).layout;
}

function spansOf(layout: EventLayout): BodySpan[] {
  return [{ source: HEAD, offset: 0, length: HEAD.length, digest: null }, ...layout.chunks.flatMap((c) => c.events), { source: CALENDAR_END, offset: 0, length: CALENDAR_END.length, digest: null }];
}

describe('event layout', () => {
  // Events under several TZIDs, or (a provider's sessions, written in its zone) one TZID or none.
  for (const [zones, tzid] of [['several TZIDs', undefined], ['one TZID', 'America/New_York']] as const) {
    it(`when random changes follow one another (${zones}), then the chunks are those a cold layout and bodyChunks cut, and every event keeps its bytes`, () => {
      const oneZone = (spec: EventSpec): EventSpec => (tzid === undefined || spec.tzid === null ? spec : { ...spec, tzid });
      fc.assert(
        fc.property(fc.array(specArb.map(oneZone), { maxLength: 400 }), fc.array(stepArb.map((s) => ({ ...s, add: s.add.map(oneZone) })), { minLength: 1, maxLength: 12 }), (initial, steps) => {
          const own = new Map<LaidEvent, Buffer>();
          const live: LaidEvent[] = [];
          const add = (spec: EventSpec): LaidEvent => {
            const { event, bytes } = makeEvent(spec);
            own.set(event, bytes);
            live.push(event);
            return event;
          };
          for (const spec of initial) add(spec);
          let layout = layOut(sortFragments(live) as LaidEvent[]);
          for (const step of steps) {
            const removed = [...new Set(step.remove.filter(() => live.length > 0).map((r) => live[r % live.length] as LaidEvent))];
            for (const event of removed) live.splice(live.indexOf(event), 1);
            const added = step.add.map(add);
            layout = relayOut(layout, removed, added);

            const order = sortFragments(live) as LaidEvent[];
            // By uid: a failure message of events with their buffers would take minutes to print.
            assert.deepEqual(layout.chunks.flatMap((c) => c.events.map((e) => e.uid)), order.map((e) => e.uid), 'the events, in order');
            assert.ok(layout.chunks.every((c, i) => c.events.every((e, k) => e === order[layout.chunks.slice(0, i).reduce((n, x) => n + x.events.length, 0) + k])), 'the same event objects');
            assert.equal(layout.count, live.length);
            for (const chunk of layout.chunks) {
              assert.ok(Buffer.concat(chunk.events.map((e) => own.get(e) as Buffer)).equals(chunk.bytes), 'a chunk holds its events bytes');
              for (const e of chunk.events) assert.ok(e.source.subarray(e.offset, e.offset + e.length).equals(own.get(e) as Buffer), `${e.uid} keeps its bytes`);
            }
            const cold = layOut(order);
            assert.deepEqual(
              layout.chunks.map((c) => [c.identity, c.crc, c.shift, c.events.length, c.dictionary?.uid]),
              cold.chunks.map((c) => [c.identity, c.crc, c.shift, c.events.length, c.dictionary?.uid]),
              'chunks as a cold layout cuts them',
            );
            assert.deepEqual([...layoutZones(layout)], [...layoutZones(cold)]);
            assert.equal(layout.identities, cold.identities, 'the identities, spliced, as a cold layout joins them');
            assert.equal(layout.identities, layout.chunks.map((c) => `${c.identity}.`).join(''));
            assert.equal(layout.parts.length, layout.chunks.length, 'a part per chunk');
            layout.parts.forEach((part, i) => assert.equal(part, layout.chunks[i]?.bytes, `part ${i}, spliced, is its chunk's bytes`));
            assert.deepEqual(layout.zoneTally, cold.zoneTally, 'the zone tally, adjusted, as a cold layout counts it');
            // The UTC years each TZID's events span, TZIDs in the order they first appear, from the events.
            const years = new Map<string, [number, number]>();
            for (const e of order) {
              if (e.tzid === null) continue;
              const [from, to] = years.get(e.tzid) ?? [Infinity, -Infinity];
              years.set(e.tzid, [Math.min(from, new Date(e.startMs).getUTCFullYear()), Math.max(to, new Date(e.endMs).getUTCFullYear())]);
            }
            const zoneYears = [...layoutZones(layout)].map(([tzid, span]) => [tzid, new Date(span.from).getUTCFullYear(), new Date(span.to).getUTCFullYear()]);
            assert.deepEqual(zoneYears, [...years].map(([tzid, [from, to]]) => [tzid, from, to]), 'the years of the events under each TZID');
            const spans = spansOf(layout);
            const cut = bodyChunks(spans);
            assert.deepEqual(cut.slice(1, -1).map((c) => [c.identity, c.crc, c.length]), layout.chunks.map((c) => [c.identity, c.crc, c.bytes.length]), 'chunks as bodyChunks cuts them');
            assert.equal(layoutEtag(cut[0]!.identity, layout.identities, cut[cut.length - 1]!.identity), chunksEtag(cut), 'the ETag bodyChunks would give');
          }
        }),
        FC,
      );
    });
  }

  it('when the layout is gzipped, then the bytes are those chunkedGzip makes from the same body as spans', () => {
    fc.assert(
      fc.property(fc.array(specArb, { maxLength: 120 }), (specs) => {
        const layout = layOut(sortFragments(specs.map((s) => makeEvent(s).event)) as LaidEvent[]);
        const spans = spansOf(layout);
        const body = Buffer.concat(spans.map((s) => s.source.subarray(s.offset, s.offset + s.length)));
        const fromLayout = gzipBody({ head: HEAD, layout }, undefined);
        assert.ok(fromLayout.gzip.equals(chunkedGzip([body], spans, undefined).gzip));
      }),
      { ...FC, numRuns: 40 },
    );
  });

  it('when a gzip is edited by the chunks relayOut replaced, then its parts are the bytes gzipBody makes of the new layout', () => {
    const OTHER_HEAD = Buffer.from('BEGIN:VCALENDAR\r\nVERSION:2.0\r\nX-WR-CALNAME:Other\r\n');
    let edited = 0;
    fc.assert(
      fc.property(fc.array(specArb, { maxLength: 300 }), fc.array(fc.tuple(stepArb, fc.boolean()), { minLength: 1, maxLength: 8 }), (initial, steps) => {
        const live = initial.map((s) => makeEvent(s).event);
        let layout = layOut(sortFragments(live) as LaidEvent[]);
        let head = HEAD;
        let gzip: ChunkedGzip = gzipBody({ head, layout }, undefined, { level: 1 });
        for (const [step, newHead] of steps) {
          const removed = [...new Set(step.remove.filter(() => live.length > 0).map((r) => live[r % live.length] as LaidEvent))];
          for (const event of removed) live.splice(live.indexOf(event), 1);
          const added = step.add.map((s) => makeEvent(s).event);
          live.push(...added);
          const relaid = relayOutWithEdits(layout, removed, added);
          assert.deepEqual(relaid.layout.chunks.map((c) => c.identity), relayOut(layout, removed, added).chunks.map((c) => c.identity));
          const nextHead = newHead ? (head === HEAD ? OTHER_HEAD : HEAD) : head;
          const expected = gzipBody({ head: nextHead, layout: relaid.layout }, gzip.chunks, { level: 1 });
          let next: ChunkedGzip = expected;
          if (relaid.edits === null) {
            // Laid out afresh (many changes, or none laid out before): nothing to edit from.
            assert.ok(removed.length + added.length > 64 || layout.chunks.length === 0);
          } else {
            // Chunks outside the edits are the same objects, in the same order.
            let shift = 0;
            let old = 0;
            for (const edit of [...relaid.edits, { oldFrom: layout.chunks.length, oldTo: layout.chunks.length, newFrom: relaid.layout.chunks.length, newTo: relaid.layout.chunks.length }]) {
              for (let i = old; i < edit.oldFrom; i++) assert.equal(relaid.layout.chunks[i + shift], layout.chunks[i], `chunk ${i} stays`);
              shift = edit.newTo - edit.oldTo;
              old = edit.oldTo;
            }
            const pieces: PieceEdit[] = [...(nextHead === head ? [] : [{ oldFrom: 0, oldTo: 1, newFrom: 0, newTo: 1 }]), ...relaid.edits.map((e) => ({ oldFrom: e.oldFrom + 1, oldTo: e.oldTo + 1, newFrom: e.newFrom + 1, newTo: e.newTo + 1 }))];
            const made = editGzipBody({ head: nextHead, layout: relaid.layout, gzipChunks: gzip.chunks, gzipEdits: pieces }, 1);
            assert.ok(made !== null, 'the edits fit the gzip before');
            const bytes = Buffer.concat(made.parts);
            assert.equal(bytes.length, made.length);
            assert.ok(bytes.equals(expected.gzip), 'the same bytes as the gzip made whole');
            // Joined, the edit is that gzip, with the same places to edit the next one from.
            const compacted = compactEditedGzip({ gzipChunks: gzip.chunks }, made);
            assert.ok(compacted.gzip.equals(expected.gzip));
            assert.deepEqual(compacted.chunks, expected.chunks);
            next = compacted;
            edited += 1;
          }
          layout = relaid.layout;
          head = nextHead;
          gzip = next;
        }
      }),
      { ...FC, numRuns: 60 },
    );
    assert.ok(edited > 100, `only ${edited} gzips were edited`);
  });

  it('when edits do not fit the gzip before, then editGzip answers null rather than wrong bytes', () => {
    const events = Array.from({ length: 200 }, (_, i) => makeEvent({ startMs: i * 3_600_000, length: 400, boundary: i % 8 === 0 ? 1 : 9, tzid: null }).event);
    const layout = layOut(sortFragments(events) as LaidEvent[]);
    const gzip = gzipBody({ head: HEAD, layout }, undefined, { level: 1 });
    const pieces = [HEAD, ...layout.chunks, CALENDAR_END].map((p, i) => (i === 0 || i === layout.chunks.length + 1 ? { identity: `b${i}`, length: 0, crc: 0, shift: 0x80000000 } : (p as (typeof layout.chunks)[number])));
    const bytes = () => ({ bytes: Buffer.alloc(0), dictionary: undefined });
    const count = layout.chunks.length + 2;
    const fits = (edits: PieceEdit[], level = 1) => editGzip(gzip.chunks, pieces, edits, bytes, level) !== null;
    // The pieces' identities are made up at the head and end, so only edits of those two fit.
    assert.ok(fits([{ oldFrom: 0, oldTo: 1, newFrom: 0, newTo: 1 }, { oldFrom: count - 1, oldTo: count, newFrom: count - 1, newTo: count }]));
    assert.ok(!fits([{ oldFrom: 0, oldTo: 1, newFrom: 0, newTo: 1 }, { oldFrom: count - 1, oldTo: count, newFrom: count - 1, newTo: count }], 6), 'another level');
    assert.ok(!fits([{ oldFrom: count - 1, oldTo: count, newFrom: count - 1, newTo: count }]), 'the head left out');
    assert.ok(!fits([{ oldFrom: count - 1, oldTo: count, newFrom: count - 1, newTo: count }, { oldFrom: 0, oldTo: 1, newFrom: 0, newTo: 1 }]), 'out of order');
    assert.ok(!fits([{ oldFrom: 0, oldTo: 1, newFrom: 0, newTo: 2 }, { oldFrom: count - 1, oldTo: count, newFrom: count, newTo: count + 1 }]), 'more pieces than there are');
    assert.ok(!fits([{ oldFrom: 0, oldTo: 1, newFrom: 0, newTo: 1 }, { oldFrom: count - 1, oldTo: count + 1, newFrom: count - 1, newTo: count }]), 'past the end');
  });

  it('when a removed event is not in the layout, then it throws a RangeError, with few changes or many', () => {
    const layout = layOut(sortFragments([makeEvent({ startMs: 0, length: 10, boundary: 9, tzid: null }).event]) as LaidEvent[]);
    const stranger = makeEvent({ startMs: 0, length: 10, boundary: 9, tzid: null }).event;
    assert.throws(() => relayOut(layout, [stranger], []), RangeError);
    const many = Array.from({ length: 70 }, () => makeEvent({ startMs: 5, length: 10, boundary: 9, tzid: null }).event);
    assert.throws(() => relayOut(layout, [stranger], many), RangeError);
  });

  it('when every event is removed, then the layout is empty', () => {
    const events = Array.from({ length: 50 }, (_, i) => makeEvent({ startMs: i, length: 100, boundary: i % 16, tzid: null }).event);
    const layout = relayOut(layOut(sortFragments(events) as LaidEvent[]), events.slice(0, 30), []);
    assert.deepEqual(relayOut(layout, sortFragments(events.slice(30)) as LaidEvent[], []), { chunks: [], count: 0, length: 0, identities: '', zoneTally: new Map(), parts: [] });
  });
});
