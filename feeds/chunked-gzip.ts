// Gzip of a feed body whose deflating costs O(what changed) instead of O(body). Gzipping a
// 5,000-event body (2.2 MB) whole takes 10-20 ms, more than re-assembling it from cached fragments,
// and calendar clients (Google, Outlook) ask for gzip on every poll. So the body is cut into chunks
// at content-defined boundaries, each chunk is deflated on its own and kept by a key derived from
// its content, and the gzip member is assembled from kept chunks: after one event changes, only
// the chunk that holds it (and at times the next one) is deflated again. The CRC-32 of the body
// is combined from the chunks' CRCs (body-chunks.ts keeps them), not read from 2.2 MB again.
//
// Standards and behaviour this relies on:
// - RFC 1951 3.2.3: a deflate stream is a sequence of blocks, only the last with BFINAL set; a
//   stored block (BTYPE 00) skips to a byte boundary before its LEN and NLEN. A chunk is deflated
//   with Z_SYNC_FLUSH instead of Z_FINISH, which per zlib's manual "completes the current deflate
//   block and follows it with an empty stored block that is three bits plus filler bits to the
//   next byte, followed by four bytes (00 00 ff ff)": no block is final and the chunk ends on a
//   byte boundary, so chunks concatenate as plain bytes. pigz builds its output the same way.
// - RFC 1951 3.2.3 also lets a back-reference reach into earlier blocks, up to 32 KiB back
//   (3.2.5). A chunk is deflated with the event just before it as a preset dictionary, as pigz
//   uses the end of the block before: those are exactly the bytes a decoder has just written, so
//   references into them resolve. Without it every chunk starts from an empty window, and on a
//   real 5,000-event feed (44:1 under gzipSync) the chunked gzip came out 2.04 times as large;
//   with it, 1.05. The price: a chunk's bytes depend on the event before it too, so changing the
//   last event of a chunk (about 1 in 64) also deflates the next one again.
// - The stream ends with an empty final block with fixed codes (RFC 1951 3.2.3, 3.2.6): BFINAL 1,
//   BTYPE 01, then the 7-bit end-of-block code 0000000, 10 bits packed from the low bit up:
//   03 00, which is also what zlib writes for an empty input with Z_FINISH.
// - RFC 1952 2.3: a gzip member is a 10-byte header, the deflate data, the CRC-32 of the
//   uncompressed data and its length mod 2^32, both little-endian. The header is constant (no
//   MTIME, no name), so the same body always gives the same bytes.
import { constants, deflateRawSync } from 'node:zlib';
import { bodyChunks, dictionarySpan, type BodyChunk } from './body-chunks.js';
import { crc32Combine, crc32Rebased, crc32Shift } from './crc32-combine.js';
import { spanBytes, type BodySpan } from './ics-renderer.js';

// A span is a stretch of the body: its bytes, and a digest identifying them (an event's SHA-256),
// or null for a stretch without one (the calendar head, the end), whose bytes are hashed here.
export type { BodySpan };

/**
 * Compressed chunks by identity, deflated at one level, as kept from one gzip to the next: where
 * each sits in the gzip it was last assembled into (no Buffer per chunk), so the next gzip copies
 * runs of them from it.
 */
export interface GzipChunks {
  readonly level: number;
  readonly gzip: Buffer;
  /** The piece at each place: its bytes are gzip[bounds[2 * place], bounds[2 * place + 1]). */
  readonly bounds: Uint32Array;
  /** The identity of the piece at each place (placesOf; what editGzip checks the edits against). */
  readonly identities: readonly string[];
  /**
   * The CRC-32 and length of the body's pieces before each place (place `count` is the whole
   * body): the CRC of any run of pieces, in O(1) (crc32Rebased), for editGzip.
   */
  readonly prefixCrcs: Uint32Array;
  readonly prefixLengths: Float64Array;
  /** crc32Shift of each piece's length (compactEdit moves the prefix CRCs with them). */
  readonly shifts: Uint32Array;
}

// Made when gzipPieces first reuses a gzip's chunks, not with the gzip: after a change the gzip
// is made by compactEdit, whose next use is another edit, and a Map of ~100 identities cost a
// third of its time (~60 us, cold).
const places = new WeakMap<GzipChunks, ReadonlyMap<string, number>>();

/** Each identity's first place in the gzip. */
function placesOf(chunks: GzipChunks): ReadonlyMap<string, number> {
  let found = places.get(chunks);
  if (found === undefined) {
    const made = new Map<string, number>();
    chunks.identities.forEach((identity, place) => {
      if (!made.has(identity)) made.set(identity, place);
    });
    places.set(chunks, (found = made));
  }
  return found;
}

/** The kept chunks as views into their gzip, by identity (what tests look into). */
export function keptChunks(chunks: GzipChunks): Map<string, Buffer> {
  const views = new Map<string, Buffer>();
  for (const [key, place] of placesOf(chunks)) views.set(key, chunks.gzip.subarray(chunks.bounds[2 * place], chunks.bounds[2 * place + 1]));
  return views;
}

export interface ChunkedGzip {
  /** One gzip member (RFC 1952) of the whole body. */
  gzip: Buffer;
  /** The chunks this gzip is made of, kept as places in it (so nothing is kept twice). */
  chunks: GzipChunks;
  /** Chunks deflated by this call. */
  compressed: number;
  /** Chunks taken from previous (or repeated within this body) instead of deflated. */
  reused: number;
}

/** zlib's default, what gzipSync uses. */
const DEFAULT_LEVEL = 6;
/** How far back a deflate reference can reach (RFC 1951 3.2.5): more dictionary is never used. */
const WINDOW = 32 * 1024;

// ID1 ID2, CM 8 (deflate), FLG 0, MTIME 0 (none), XFL 0, OS 3 (Unix): what zlib's gzipSync writes
// at the default level, and constant, so the output depends on the body alone. (zlib sets XFL to 2
// at level 9 and 4 below level 2; it is a hint that decoders ignore.)
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03]);
const FINAL_BLOCK = [0x03, 0x00];
/** The final block and the trailer (CRC-32 and ISIZE). */
const TAIL_BYTES = FINAL_BLOCK.length + 8;
const SYNC_MARKER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * A stretch of the body as the gzip deflates it: a chunk (body-chunks.ts, event-layout.ts) with
 * what identifies its bytes and the bytes it is deflated against, its length, CRC-32 and
 * crc32Shift. Chunks are pieces as they are: no object per piece per gzip.
 */
export interface GzipPiece {
  readonly identity: string;
  readonly length: number;
  readonly crc: number;
  readonly shift: number;
}

/**
 * A piece's bytes, and those of the event before it, which a decoder has just written (its
 * dictionary; undefined for none): asked for only when the piece is deflated.
 */
export type PieceBytes<P> = (piece: P) => { bytes: Buffer; dictionary: Buffer | undefined };

/**
 * Gzips the body, given twice: as the parts it is sent in and span by span (the chunks are cut
 * from these, see body-chunks.ts); both must hold the same bytes. See gzipPieces. Throws a
 * RangeError when parts and spans differ in length or the level is not 0..9.
 */
export function chunkedGzip(
  parts: readonly Buffer[],
  spans: readonly BodySpan[],
  previous: GzipChunks | undefined,
  options: { level?: number } = {},
): ChunkedGzip {
  const made = gzipPieces(
    bodyChunks(spans),
    (chunk) => {
      const before = dictionarySpan(spans, chunk);
      return { bytes: chunkBytes(spans, chunk), dictionary: before === undefined ? undefined : spanBytes(before) };
    },
    previous,
    options,
  );
  checkLength(parts, made.length);
  return made;
}

/**
 * One gzip member of the pieces in order. Deflates only the pieces that previous lacks; the
 * CRC-32 is combined from the pieces' own. The output is the same bytes whatever previous holds,
 * as long as previous came from this function: deflate gives the same bytes for the same input,
 * dictionary, level and zlib build, so a kept chunk is what deflating it again would give.
 * Throws a RangeError when the level is not 0..9.
 */
export function gzipPieces<P extends GzipPiece>(
  pieces: readonly P[],
  bytesOf: PieceBytes<P>,
  previous: GzipChunks | undefined,
  options: { level?: number } = {},
): ChunkedGzip & { length: number } {
  const level = options.level ?? DEFAULT_LEVEL;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`gzip level ${level} is not 0..9`);
  // Chunks kept at another level are not these chunks' bytes.
  const kept = previous?.level === level ? previous : undefined;
  const keptPlaces = kept === undefined ? undefined : placesOf(kept);
  // Where each piece's compressed bytes are now: sources[i][starts[i], starts[i] + lengths[i]).
  const count = pieces.length;
  const sources = new Array<Buffer>(count);
  const starts = new Array<number>(count);
  const lengths = new Array<number>(count);
  // Each identity's first place in this gzip: a run of events repeated is deflated once.
  const firsts = new Map<string, number>();
  const identities = new Array<string>(count);
  const prefixCrcs = new Uint32Array(count + 1);
  const prefixLengths = new Float64Array(count + 1);
  const shifts = new Uint32Array(count);
  let compressed = 0;
  let reused = 0;
  let crc = 0;
  let length = 0;
  let size = GZIP_HEADER.length + TAIL_BYTES;
  for (let i = 0; i < count; i++) {
    const piece = pieces[i] as P;
    // The identity strings are the chunks' own, kept from render to render: their hashes are too.
    const key = piece.identity;
    const earlier = firsts.get(key);
    if (earlier !== undefined) {
      sources[i] = sources[earlier] as Buffer;
      starts[i] = starts[earlier] as number;
      lengths[i] = lengths[earlier] as number;
      reused += 1;
    } else {
      const place = keptPlaces?.get(key);
      if (place === undefined) {
        const bytes = deflateChunk(bytesOf(piece), level);
        sources[i] = bytes;
        starts[i] = 0;
        lengths[i] = bytes.length;
        compressed += 1;
      } else {
        const { gzip, bounds } = kept as GzipChunks;
        sources[i] = gzip;
        starts[i] = bounds[2 * place] as number;
        lengths[i] = (bounds[2 * place + 1] as number) - (bounds[2 * place] as number);
        reused += 1;
      }
      firsts.set(key, i);
    }
    size += lengths[i] as number;
    crc = crc32Combine(crc, piece.crc, piece.shift);
    length += piece.length;
    identities[i] = key;
    shifts[i] = piece.shift;
    prefixCrcs[i + 1] = crc;
    prefixLengths[i + 1] = length;
  }
  const gzip = Buffer.allocUnsafe(size);
  GZIP_HEADER.copy(gzip, 0);
  const bounds = new Uint32Array(2 * count);
  const at = copyRuns(gzip, GZIP_HEADER.length, sources, starts, lengths, bounds);
  gzip[at] = FINAL_BLOCK[0] as number;
  gzip[at + 1] = FINAL_BLOCK[1] as number;
  gzip.writeUInt32LE(crc, at + 2);
  gzip.writeUInt32LE(length % 2 ** 32, at + 6);
  const chunks: GzipChunks = { level, gzip, bounds, identities, prefixCrcs, prefixLengths, shifts };
  places.set(chunks, firsts);
  return { gzip, chunks, compressed, reused, length };
}

/**
 * Pieces [oldFrom, oldTo) of the body a GzipChunks was made of, replaced by pieces [newFrom,
 * newTo) of the body after it (piece 0 is the head). Outside the edits the pieces are the same,
 * in order, with the same identities.
 */
export interface PieceEdit {
  readonly oldFrom: number;
  readonly oldTo: number;
  readonly newFrom: number;
  readonly newTo: number;
}

/** A gzip as the parts to send one after another (length bytes in all), and what it was made of. */
export interface EditedGzip<P extends GzipPiece = GzipPiece> {
  parts: Buffer[];
  length: number;
  /** The edited pieces' compressed bytes by identity: what compactEdit places them from. */
  deflated: Map<string, Buffer>;
  /** The body's pieces and their edits against the kept gzip, as editGzip was given them. */
  pieces: readonly P[];
  edits: readonly PieceEdit[];
}

/**
 * The gzip gzipPieces would make of `pieces` from `kept`, when they are kept's pieces but for
 * `edits` (in order, not overlapping): the same bytes, as parts. The runs of kept pieces go as
 * views of kept's gzip and their CRC comes from its prefix CRCs, so the cost is the edited
 * pieces' deflate and O(edits) besides, not a step per piece nor a copy of the whole gzip: the
 * first poll after a change of one event of a 5,000-event feed spent ~0.1 ms walking ~100
 * pieces and ~0.04 ms copying 260 KiB. Null when the edits do not fit kept (its level, its
 * piece count, or a kept piece's identity next to an edit): gzipPieces then, which needs no edits.
 */
export function editGzip<P extends GzipPiece>(kept: GzipChunks, pieces: readonly P[], edits: readonly PieceEdit[], bytesOf: PieceBytes<P>, level: number): EditedGzip<P> | null {
  if (kept.level !== level || !fitsKept(kept, pieces, edits)) return null;
  const parts: Buffer[] = [GZIP_HEADER];
  const deflated = new Map<string, Buffer>();
  let crc = 0;
  let length = 0;
  let size = GZIP_HEADER.length + TAIL_BYTES;
  let old = 0;
  const keptRun = (from: number, to: number): void => {
    if (from === to) return;
    const runLength = (kept.prefixLengths[to] as number) - (kept.prefixLengths[from] as number);
    const shift = crc32Shift(runLength);
    // The run's bytes behind what is assembled so far instead of behind kept's prefix.
    crc = crc32Rebased(kept.prefixCrcs[to] as number, kept.prefixCrcs[from] as number, crc, shift);
    length += runLength;
    const bytes = kept.gzip.subarray(kept.bounds[2 * from], kept.bounds[2 * to - 1]);
    parts.push(bytes);
    size += bytes.length;
  };
  for (const edit of edits) {
    keptRun(old, edit.oldFrom);
    for (let i = edit.newFrom; i < edit.newTo; i++) {
      const piece = pieces[i] as P;
      // A piece repeated (the same run of events twice) is deflated once, as gzipPieces does.
      let bytes = deflated.get(piece.identity);
      if (bytes === undefined) deflated.set(piece.identity, (bytes = deflateChunk(bytesOf(piece), level)));
      parts.push(bytes);
      size += bytes.length;
      crc = crc32Combine(crc, piece.crc, piece.shift);
      length += piece.length;
    }
    old = edit.oldTo;
  }
  keptRun(old, kept.identities.length);
  const tail = Buffer.allocUnsafe(TAIL_BYTES);
  tail[0] = FINAL_BLOCK[0] as number;
  tail[1] = FINAL_BLOCK[1] as number;
  tail.writeUInt32LE(crc, 2);
  tail.writeUInt32LE(length % 2 ** 32, 6);
  parts.push(tail);
  return { parts, length: size, deflated, pieces, edits };
}

/**
 * What gzipPieces(pieces, bytesOf, kept, { level }) returns, made from the edit that
 * editGzip(kept, pieces, edits) answered with (it holds pieces and edits): its parts joined, and kept's bounds
 * moved past the edits, with no piece object read but the edited ones. Each unchanged piece's
 * prefix CRC is rebased on the new one before it (crc32Rebased: one multiplication). gzipPieces'
 * walk over every piece (a Map lookup and a combine each) and copy cost ~0.2 ms after each change
 * of a 5,000-event feed; this, run after the poll's answer is written, is the gzip later polls send.
 */
export function compactEdit(kept: GzipChunks, edited: EditedGzip): ChunkedGzip {
  const { pieces, edits } = edited;
  const count = pieces.length;
  const gzip = Buffer.concat(edited.parts, edited.length);
  const bounds = new Uint32Array(2 * count);
  const identities = new Array<string>(count);
  const prefixCrcs = new Uint32Array(count + 1);
  const prefixLengths = new Float64Array(count + 1);
  const shifts = new Uint32Array(count);
  let at = GZIP_HEADER.length;
  let old = 0;
  let shift = 0;
  let compressed = 0;
  const keptRun = (from: number, to: number): void => {
    const moved = at - (kept.bounds[2 * from] as number);
    const lengthMoved = (prefixLengths[from + shift] as number) - (kept.prefixLengths[from] as number);
    for (let i = from; i < to; i++) {
      const j = i + shift;
      bounds[2 * j] = (kept.bounds[2 * i] as number) + moved;
      bounds[2 * j + 1] = (kept.bounds[2 * i + 1] as number) + moved;
      identities[j] = kept.identities[i] as string;
      shifts[j] = kept.shifts[i] as number;
      prefixCrcs[j + 1] = crc32Rebased(kept.prefixCrcs[i + 1] as number, kept.prefixCrcs[i] as number, prefixCrcs[j] as number, kept.shifts[i] as number);
      prefixLengths[j + 1] = (kept.prefixLengths[i + 1] as number) + lengthMoved;
    }
    if (to > from) at = (bounds[2 * (to + shift) - 1] as number);
  };
  for (const { oldFrom, oldTo, newFrom, newTo } of edits) {
    keptRun(old, oldFrom);
    for (let j = newFrom; j < newTo; j++) {
      const piece = pieces[j] as GzipPiece;
      const bytes = edited.deflated.get(piece.identity);
      if (bytes === undefined) throw new RangeError(`The edit did not deflate piece ${j}.`);
      bounds[2 * j] = at;
      at += bytes.length;
      bounds[2 * j + 1] = at;
      identities[j] = piece.identity;
      shifts[j] = piece.shift;
      prefixCrcs[j + 1] = crc32Combine(prefixCrcs[j] as number, piece.crc, piece.shift);
      prefixLengths[j + 1] = (prefixLengths[j] as number) + piece.length;
    }
    compressed += newTo - newFrom;
    old = oldTo;
    shift = newTo - oldTo;
  }
  keptRun(old, kept.identities.length);
  return { gzip, chunks: { level: kept.level, gzip, bounds, identities, prefixCrcs, prefixLengths, shifts }, compressed, reused: count - compressed };
}

/**
 * Whether the edits are in order, within both bodies, leave as many pieces as there are, and the
 * kept pieces on either side of each edit are the pieces there now: a piece after an edit is
 * deflated against the event before it, so its identity tells whether its kept bytes still hold.
 */
function fitsKept(kept: GzipChunks, pieces: readonly GzipPiece[], edits: readonly PieceEdit[]): boolean {
  const count = kept.identities.length;
  let old = 0;
  let shift = 0; // new index minus old index, outside the edits
  const same = (oldIndex: number) => kept.identities[oldIndex] === pieces[oldIndex + shift]?.identity;
  for (const { oldFrom, oldTo, newFrom, newTo } of edits) {
    if (oldFrom < old || oldTo < oldFrom || oldTo > count || newTo < newFrom || newFrom !== oldFrom + shift) return false;
    if (oldFrom > old && !(same(old) && same(oldFrom - 1))) return false;
    old = oldTo;
    shift = newTo - oldTo;
  }
  if (count + shift !== pieces.length) return false;
  return old === count || (same(old) && same(count - 1));
}

/**
 * Copies the pieces' bytes into out from `at` on, and notes where each lands in bounds. Pieces
 * that follow each other in one source (the kept chunks of the previous gzip, in order: all but
 * the changed ones after a change) go in one copy, not one per chunk. Returns where the copy ends.
 */
function copyRuns(out: Buffer, at: number, sources: readonly Buffer[], starts: readonly number[], lengths: readonly number[], bounds: Uint32Array): number {
  let runSource: Buffer | undefined;
  let runStart = 0;
  let runEnd = 0;
  let runAt = at;
  for (let i = 0; i < sources.length; i++) {
    const source = sources[i] as Buffer;
    const start = starts[i] as number;
    const end = start + (lengths[i] as number);
    if (source !== runSource || start !== runEnd) {
      if (runSource !== undefined) runSource.copy(out, runAt, runStart, runEnd);
      runSource = source;
      runStart = start;
      runAt = at;
    }
    runEnd = end;
    bounds[2 * i] = at;
    at += end - start;
    bounds[2 * i + 1] = at;
  }
  if (runSource !== undefined) runSource.copy(out, runAt, runStart, runEnd);
  return at;
}

function checkLength(parts: readonly Buffer[], inSpans: number): void {
  let inParts = 0;
  for (const part of parts) inParts += part.length;
  if (inParts !== inSpans) throw new RangeError(`spans hold ${inSpans} bytes of a ${inParts}-byte body`);
}

/** A raw deflate stream with no final block, ending byte-aligned: one that can be followed by more. */
function deflateChunk(piece: { bytes: Buffer; dictionary: Buffer | undefined }, level: number): Buffer {
  const before = piece.dictionary;
  const dictionary = before?.subarray(Math.max(0, before.length - WINDOW));
  const out = deflateRawSync(piece.bytes, {
    level,
    finishFlush: constants.Z_SYNC_FLUSH,
    ...(dictionary !== undefined && dictionary.length > 0 ? { dictionary } : {}),
  });
  // Concatenation is sound only if zlib ended the chunk with the empty stored block it documents.
  if (out.length < SYNC_MARKER.length || !out.subarray(out.length - SYNC_MARKER.length).equals(SYNC_MARKER)) {
    throw new Error('zlib did not end a sync-flushed deflate stream with 00 00 ff ff');
  }
  return out;
}

/** A chunk's bytes in one buffer: copied straight from the spans' sources, with no view per span. */
function chunkBytes(spans: readonly BodySpan[], chunk: BodyChunk): Buffer {
  if (chunk.end - chunk.first === 1) return spanBytes(spans[chunk.first] as BodySpan);
  const out = Buffer.allocUnsafe(chunk.length);
  let at = 0;
  for (let i = chunk.first; i < chunk.end; i++) {
    const { source, offset, length } = spans[i] as BodySpan;
    source.copy(out, at, offset, offset + length);
    at += length;
  }
  return out;
}
